"""Review app benchmark: the query functions behind its pages on a SQLite store of N samples.

    .venv/bin/python benchmarks/bench_review_app.py                   # 1,000,000 samples (several minutes)
    .venv/bin/python benchmarks/bench_review_app.py --samples 200000  # a quicker run
    .venv/bin/python benchmarks/bench_review_app.py --quick           # smoke run (20,000 samples)

Generates a store with driver-level ``executemany``: N samples spread over 30 days, each
judged once (one in twenty fails, one in ~a hundred unscored), messages of realistic width.
Then times each function once, cold (the app caches results for a minute):

* listings — ``list_samples`` newest first, a second page, with a verdict filter, with a
  category + window + verdict filter, a free-text search of a week; ``count_samples``;
* one sample — ``get_sample``;
* time series — ``time_series`` over the last 7 days by hour and 30 days by day,
  ``cost_series`` over 30 days;
* review — ``review_queue``, ``queue_size`` (capped), ``agreement_by_rubric``;
* the "rules only" notice — ``window_rules_only`` over a week (every judgment of it);
* export — 5,000 lines of the last week through ``export_jsonl``, and its peak memory.

Listings, the queue and the export do work proportional to a page, not to the store;
time series and counts with a verdict or text filter read every sample of their window.
"""

from __future__ import annotations

import argparse
import io
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from reviewer import browse, export, reviews, rules_only, series  # noqa: E402
from reviewer.queries import TimeWindow  # noqa: E402
from reviewer.store import ensure_schema, make_engine, refresh_sample_verdicts  # noqa: E402

console = Console()
CATEGORIES = ("billing", "shipping", "refunds", "account", "returns", "warranty", "login", "other")
BATCH = 20_000
SAMPLE_COLUMNS = (
    "sample_id", "schema", "trace_id", "ts", "app", "env", "release", "category", "provider", "operation",
    "request_model", "params", "input_messages", "output_messages", "input_tokens", "output_tokens", "latency_ms",
    "sampling_rate", "sampling_rule", "redactions", "truncated", "attributes", "input_chars", "output_chars",
    "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at",
)
JUDGMENT_COLUMNS = ("sample_id", "rubric_name", "rubric_version", "judge_model", "verdict", "criteria", "checks",
                    "cost_usd", "input_tokens", "output_tokens", "created_at")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # how UTCDateTime stores it in SQLite


def generate(path: Path, samples: int, now: datetime) -> None:
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    rng = random.Random(1)
    question = orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": "my order is late. " * 30}]}])
    answer = orjson.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "sorry, escalated. " * 25}]}])
    criteria = orjson.dumps([{"id": "next_steps", "kind": "llm", "verdict": "pass", "explanation": "gives a date",
                              "reason": None}]).decode()

    def rows(start: int, stop: int) -> Iterator[tuple[Any, ...]]:
        for i in range(start, stop):
            ts = _stamp(now - timedelta(seconds=rng.randrange(30 * 86400)))
            yield (f"{rng.getrandbits(128):032x}", "tastevin.sample/v1", f"{rng.getrandbits(128):032x}", ts, "bot",
                   "prod", "1", CATEGORIES[i % len(CATEGORIES)], "anthropic", "chat", "m1" if i % 5 else "m2", "{}",
                   question.decode(), answer.decode(), 500 + i % 300, 80 + i % 40, 800.0 + i % 500, 0.01, "ratio",
                   "{}", 0, "{}", 540, 450, "t", 0, i, ts)

    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    insert = f"INSERT INTO sample ({','.join(SAMPLE_COLUMNS)}) VALUES ({','.join('?' * len(SAMPLE_COLUMNS))})"
    for start in range(0, samples, BATCH):
        connection.executemany(insert, rows(start, min(samples, start + BATCH)))
    judged = connection.execute("SELECT sample_id, ts FROM sample").fetchall()
    insert = f"INSERT INTO judgment ({','.join(JUDGMENT_COLUMNS)}) VALUES ({','.join('?' * len(JUDGMENT_COLUMNS))})"
    connection.executemany(insert, (
        (sample_id, "support", "v1", "judge", "fail" if k % 20 == 0 else "unscored" if k % 97 == 0 else "pass",
         criteria, "[]", 0.001, 900, 120, ts) for k, (sample_id, ts) in enumerate(judged)))
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    # The judge keeps each sample's verdict current as it stores judgments; a bulk load
    # fills them afterwards, as the migration does for judgments made before it.
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as transaction:
        refresh_sample_verdicts(transaction)
    engine.dispose()


class _Discard(io.RawIOBase):
    def write(self, data: Any) -> int:
        return len(data)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    begin = time.perf_counter()
    result = fn()
    return time.perf_counter() - begin, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 samples")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.samples
    now = datetime.now(timezone.utc).replace(microsecond=0)
    week = TimeWindow(now - timedelta(days=7), now + timedelta(minutes=1))
    month = TimeWindow(now - timedelta(days=30), now + timedelta(minutes=1))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "store.db"
        seconds, _ = timed(lambda: generate(path, n, now))
        console.print(f"[bold]Review app benchmark[/]: {n:,} samples over 30 days (generated in {seconds:.0f} s)")
        engine = make_engine(f"sqlite:///{path}")
        filters = browse.SampleFilters
        first = browse.list_samples(engine, filters())
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("list_samples, newest 50", lambda: browse.list_samples(engine, filters())),
            ("list_samples, second page", lambda: browse.list_samples(engine, filters(), cursor=first.next_cursor)),
            ("list_samples, verdict fail", lambda: browse.list_samples(engine, filters(verdict="fail"))),
            ("list_samples, category + week + fail", lambda: browse.list_samples(
                engine, filters(category="billing", verdict="fail", since=week.start, until=week.end))),
            ("list_samples, text absent from a week", lambda: browse.list_samples(
                engine, filters(text="no such text", since=week.start, until=week.end))),
            ("count_samples, a week", lambda: browse.count_samples(engine, filters(since=week.start, until=week.end))),
            ("count_samples, a week, fail (cap 10k)", lambda: browse.count_samples(
                engine, filters(verdict="fail", since=week.start, until=week.end))),
            ("get_sample", lambda: browse.get_sample(engine, first.rows[0].sample_id)),
            ("time_series, 7 days by hour", lambda: series.time_series(engine, week, bucket="hour")),
            ("time_series, 30 days by day", lambda: series.time_series(engine, month, bucket="day")),
            ("cost_series, 30 days by day", lambda: series.cost_series(engine, month, bucket="day")),
            ("review_queue, 50", lambda: reviews.review_queue(engine, limit=50)),
            ("queue_size (cap 10k)", lambda: reviews.queue_size(engine)),
            ("agreement_by_rubric", lambda: reviews.agreement_by_rubric(engine)),
            ("window_rules_only, a week", lambda: rules_only.window_rules_only(engine, week)),
        ]
        table = Table("query", "seconds", title=f"Review app queries, {n:,} samples (SQLite)")
        for label, fn in cases:
            seconds, _ = timed(fn)
            table.add_row(label, f"{seconds:.3f}")
        week_filters = filters(since=week.start, until=week.end)
        seconds, lines = timed(lambda: export.export_jsonl(engine, week_filters, io.BytesIO(), limit=5000))
        tracemalloc.start()  # a second run for memory: tracing slows Python several times over
        export.export_jsonl(engine, week_filters, _Discard(), limit=5000)
        peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        table.add_row(f"export_jsonl, {lines:,} lines (peak Python memory {peak_mib:.1f} MiB)", f"{seconds:.3f}")
        engine.dispose()
    console.print(table)


if __name__ == "__main__":
    main()
