"""``tastevin ingest --workers N``: N consumer processes in one group, one parent.

Each worker is a whole ingester (its own Kafka consumer in the group, its own database
connection), so every guarantee of one process holds for each: offsets committed after
the store's commit, poison to ``dead_letter``, outages waited out. Kafka splits the
partitions between them, so more workers than partitions leaves some idle. Processes,
not threads: decoding is Python, and two processes decode on two cores at once.

The parent only supervises: SIGTERM/SIGINT are passed on (each worker finishes its
batch, commits and exits 0); a worker that fails stops the others and the parent exits
with its code, for the service manager to restart the lot; workers get SIGTERM if the
parent dies, even by SIGKILL. With ``--until-idle``, a worker that got no partition
(more workers than partitions) exits 3 without stopping the others; the job exits 3 only
if no worker got any.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import wait
from types import FrameType

import click

from .._process import die_with_parent
from .client import IngestConfig
from .consumer import EXIT_NO_ASSIGNMENT, Ingester


def echo_line(line: str) -> None:
    """Progress and status lines go to stderr, flushed at once (several processes share it)."""
    click.echo(line, err=True)
    sys.stderr.flush()


def run_ingester(config: IngestConfig, db_url: str, echo: Callable[[str], None]) -> int:
    """One ingest process: consume until stopped or idle; the exit code. The caller has
    checked the schema (``tastevin ingest`` does, once, before starting any worker)."""
    from ..store import make_engine
    from .writer import BatchWriter

    engine = make_engine(db_url)
    writer = BatchWriter(engine)
    ingester = Ingester(config, writer, echo=echo)
    ingester.install_signal_handlers()
    # Everything alive now (SQLAlchemy, confluent-kafka, models) lives for the whole run:
    # keep it out of the collector's full passes, which otherwise rescan it every batch.
    gc.collect()
    gc.freeze()
    try:
        return ingester.run()
    finally:
        writer.close()
        engine.dispose()


def _worker_main(config: IngestConfig, db_url: str, label: str, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    sys.exit(run_ingester(config, db_url, lambda line: echo_line(f"[{label}] {line}")))


def run_workers(config: IngestConfig, db_url: str, workers: int, echo: Callable[[str], None]) -> int:
    """Start ``workers`` ingest processes and wait for them; the worst exit code (a worker
    without partitions counts only when every worker was without)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with librdkafka threads
    processes = [
        context.Process(
            target=_worker_main,
            args=(config, db_url, f"worker {i + 1}/{workers}", os.getpid()),
            name=f"tastevin-ingest-{i + 1}",
        )
        for i in range(workers)
    ]
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                process.terminate()  # SIGTERM: finish the batch, commit, exit 0

    previous = {signum: signal.signal(signum, stop_all) for signum in (signal.SIGTERM, signal.SIGINT)}
    code = 0
    unassigned = 0
    try:
        for process in processes:
            process.start()
        running = list(processes)
        while running:
            for sentinel in wait([p.sentinel for p in running], timeout=1.0):
                process = next(p for p in running if p.sentinel == sentinel)
                running.remove(process)
                process.join()
                exitcode = process.exitcode if process.exitcode is not None else 1
                if exitcode == EXIT_NO_ASSIGNMENT and not stopping:
                    unassigned += 1
                    echo(f"{process.name} got no partition (more workers than partitions?)"
                         + ("; the other workers go on" if running else ""))
                elif exitcode != 0:
                    how = f"exit code {exitcode}" if exitcode > 0 else f"signal {-exitcode}"
                    echo(f"{process.name} stopped with {how}" + ("" if stopping else "; stopping the other workers"))
                    code = code or (exitcode if exitcode > 0 else 1)
                    if not stopping:
                        stop_all()
    finally:
        if not stopping:
            stop_all()
        for process in processes:
            if process.pid is not None:
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if unassigned == len(processes):
        code = code or EXIT_NO_ASSIGNMENT
    return code
