"""Judge benchmark: sync-mode throughput and memory, and one large batch submission.

    .venv/bin/python benchmarks/bench_judge.py            # 5,000 samples at 1 s per call (~2-3 minutes)
    .venv/bin/python benchmarks/bench_judge.py --quick    # smoke run (used by the tests)

The real anthropic SDK talks to the local Messages/Batches server (judge.testing) set to
``--latency`` seconds per call; the store is a SQLite file. In one run:

1. Sync judging of ``--samples`` samples at ``--concurrency`` calls in flight, against the
   ideal rate concurrency ÷ latency (the baseline: what a perfect client would reach).
   Target (issue 4): ≥ 30 judgments/s at concurrency 64 with 1 s latency; memory flat —
   the process RSS at 10%, 50% and 100% of the run.
2. Batch mode: one ``messages.batches.create`` call with ``--batch`` requests (target: a
   batch of 10,000 requests submitted in one call).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic  # noqa: E402
import psutil  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from judge.batch import submit_batch  # noqa: E402
from judge.pricing import PriceTable  # noqa: E402
from judge.rubric import parse_rubric  # noqa: E402
from judge.runner import RunOptions, run_sync  # noqa: E402
from judge.testing import FakeAnthropicServer, verdicts_responder  # noqa: E402
from reviewer.ingest.decode import decode  # noqa: E402
from reviewer.store import Sample, ensure_schema, make_engine  # noqa: E402
from tests.records import encode, make_record  # noqa: E402

console = Console()
RUBRIC = parse_rubric(
    """
name: bench
categories: ["*"]
criteria:
  - {id: acknowledges_issue, question: Acknowledges the customer's problem.}
  - {id: clear_next_steps, question: Provides clear next steps.}
  - {id: empathetic_tone, question: Tone is empathetic and professional.}
checks:
  - {id: concise, type: max_length, chars: 2000}
  - {id: no_pii, type: no_pii}
""",
    source="bench.yaml",
)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def seeded_store(directory: Path, n: int) -> object:
    engine = make_engine(f"sqlite:///{directory / 'bench.db'}")
    ensure_schema(engine)
    now = datetime.now(timezone.utc)
    for start in range(0, n, 5000):
        rows = [decode(encode(make_record(i)), topic="t", partition=0, offset=i, ingested_at=now)
                for i in range(start, min(n, start + 5000))]
        with engine.begin() as connection:
            connection.execute(Sample.__table__.insert(), rows)  # type: ignore[attr-defined]
    return engine


def bench_sync(samples: int, concurrency: int, latency_s: float) -> tuple[float, float, list[tuple[int, float]], int]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = seeded_store(Path(tmp), samples)
        marks = {max(1, samples // 10), samples // 2, samples}
        memory: list[tuple[int, float]] = []

        def progress(done: int, total: int | None) -> None:
            for mark in sorted(marks):
                if done >= mark and all(m != mark for m, _ in memory):
                    memory.append((mark, rss_mb()))

        with FakeAnthropicServer(verdicts_responder(), latency_s=latency_s, keep_requests=100) as server:
            client = anthropic.AsyncAnthropic(api_key="sk-ant-bench", base_url=server.url, max_retries=2, timeout=30.0)
            started = time.perf_counter()
            result = run_sync(engine, [RUBRIC], client=client, prices=PriceTable.load(),
                              options=RunOptions(concurrency=concurrency), progress=progress)
            elapsed = time.perf_counter() - started
        engine.dispose()  # type: ignore[attr-defined]
    return result.run.judged / elapsed, elapsed, memory, result.run.judged


def bench_batch(requests: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = seeded_store(Path(tmp), requests)
        with FakeAnthropicServer(verdicts_responder(), batch_processing_s=3600) as server:
            client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=server.url, max_retries=2, timeout=300.0)
            started = time.perf_counter()
            run = submit_batch(engine, [RUBRIC], client=client, prices=PriceTable.load(), options=RunOptions())
            elapsed = time.perf_counter() - started
            assert run is not None and run.provider_batch_id is not None
            size = len(server.batches[run.provider_batch_id]["requests"])
            calls = server.batch_create_calls
        engine.dispose()  # type: ignore[attr-defined]
    return elapsed, size, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    parser.add_argument("--samples", type=int, default=5000, help="samples judged in sync mode")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per judge call at the local server")
    parser.add_argument("--batch", type=int, default=10_000, help="requests in the batch submission")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.concurrency, args.latency, args.batch = 60, 16, 0.05, 200

    console.print(f"sync: {args.samples:,} samples, concurrency {args.concurrency}, {args.latency} s per call …")
    rate, elapsed, memory, judged = bench_sync(args.samples, args.concurrency, args.latency)
    ideal = args.concurrency / args.latency
    table = Table(title=f"1. Sync judging of {judged:,} samples ({args.latency} s per call, concurrency "
                        f"{args.concurrency})")
    for column in ("", "judgments/s", "vs ideal", "target", "ok"):
        table.add_column(column)
    table.add_row("ideal: concurrency ÷ latency (baseline)", f"{ideal:,.1f}", "100%", "", "")
    table.add_row("tastevin judge (claim + 1 call + store)", f"{rate:,.1f}", f"{rate / ideal:.0%}",
                  "≥ 30 at concurrency 64", "yes" if rate >= 30 or args.quick else "NO")
    console.print(table)
    mem = Table(title="Memory over the sync run (process RSS)")
    mem.add_column("judged")
    mem.add_column("RSS MB")
    for mark, value in memory:
        mem.add_row(f"{mark:,}", f"{value:,.0f}")
    console.print(mem)
    console.print(f"  wall time {elapsed:.1f} s")

    console.print(f"batch: submitting {args.batch:,} requests …")
    seconds, size, calls = bench_batch(args.batch)
    batch_table = Table(title="2. Batch submission")
    for column in ("requests", "create calls", "seconds", "target", "ok"):
        batch_table.add_column(column)
    batch_table.add_row(f"{size:,}", str(calls), f"{seconds:.1f}", "10,000 in one call",
                        "yes" if calls == 1 and size == args.batch else "NO")
    console.print(batch_table)


if __name__ == "__main__":
    main()
