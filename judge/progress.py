"""Progress of a long command: a rich bar on a terminal, a line every 10 s otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

import click


class ProgressReport:
    """Called as ``report(done, total)`` from the command's thread; ``close()`` at the end.

    On a terminal it draws a rich progress bar; elsewhere (logs, CI) it writes
    ``LABEL: DONE/TOTAL UNIT`` to stderr at the start, every 10 s and, with
    ``line_when_done``, once ``done`` reaches ``total``. ``total`` may be None (unknown).
    """

    def __init__(self, label: str, *, unit: str, line_when_done: bool = False) -> None:
        self.label = label
        self.unit = unit
        self.line_when_done = line_when_done
        self._bar: Any = None
        self._task: Any = None
        self._last_line = 0.0
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), transient=True)

    def __call__(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task(self.label, total=total)
            self._bar.update(self._task, completed=done, total=max(total or 0, done) or None)
            return
        now = time.monotonic()
        if done == 0 or (self.line_when_done and done == total) or now - self._last_line >= 10:
            self._last_line = now
            click.echo(f"{self.label}: {done}/{total if total is not None else '?'} {self.unit}", err=True)

    def close(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.stop()
