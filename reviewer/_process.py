"""Child-process helpers shared by the commands that start other processes."""

from __future__ import annotations

import os
import signal
import sys


def die_with_parent(parent_pid: int | None = None) -> None:
    """In a child process: on Linux, get SIGTERM when the parent dies, even by SIGKILL.

    Call it in the child (before ``exec``, or first thing in a ``multiprocessing``
    target), so that nothing the parent started outlives it. With ``parent_pid``, a
    child whose parent died before this call (and so will never send the signal)
    exits at once."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if parent_pid is not None and os.getppid() != parent_pid:
        sys.exit(0)
