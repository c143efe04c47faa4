"""Reviewer query benchmark: summary, failing categories and drift on a store of N samples.

    .venv/bin/python benchmarks/bench_reviewer.py                    # 1,000,000 samples (several minutes)
    .venv/bin/python benchmarks/bench_reviewer.py --samples 100000   # a quicker run
    .venv/bin/python benchmarks/bench_reviewer.py --quick            # smoke run (20,000 samples)

Generates a store fast (driver-level ``executemany`` into SQLite, ``COPY`` into a
throwaway PostgreSQL cluster): N samples spread evenly over ``--days`` days (default
28: 1M samples is then ~36k a day, 1% of 3.6M calls), half of them judged (one rubric
each, a fifth with a second rubric, one in twenty judged twice), one category sampled
at a higher rate, quality drops in two categories and a latency shift in the last 7
days. Then times, on a warm cache, each reviewer query over the last 7 days against
the 7 before (``--days 14``: the two windows hold the whole store):

* summary — ``category_summary`` of the current window (one aggregate query);
* failing categories — ``compare_windows`` (the aggregate of both windows + the z-tests);
* decomposition — ``decompose_windows`` (the same aggregates + the mix/quality split);
* drift — ``drift_report`` over both full windows.

Targets (issue): every query ≤ 2 s at 1M samples; drift over full windows ≤ 1 s.
The store holds messages of ``--payload-chars`` characters per sample (default 600),
so rows have a realistic width; the queries never read them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from reviewer.queries import (  # noqa: E402
    TimeWindow,
    category_summary,
    compare_windows,
    decompose_windows,
    drift_report,
)
from reviewer.store import Judgment, Sample, ensure_schema, make_engine, refresh_sample_verdicts  # noqa: E402
from tests.pg import PostgresCluster, find_pg_bin  # noqa: E402

console = Console()
END = datetime(2026, 1, 15, tzinfo=timezone.utc)
CURRENT = TimeWindow(END - timedelta(days=7), END)
BASELINE = TimeWindow(END - timedelta(days=14), END - timedelta(days=7))
CATEGORIES = (
    "billing", "shipping", "refunds", "account", "returns", "warranty",
    "orders", "payments", "login", "feedback", "vip", "uncategorized",
)  # fmt: skip
CATEGORY_SHARES = np.array([18, 16, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=float) / 100
PASS_RATES = np.array([0.92, 0.88, 0.85, 0.90, 0.87, 0.83, 0.91, 0.89, 0.94, 0.80, 0.95, 0.75])
DROP_IN_CURRENT = {"refunds": 0.12, "login": 0.08}  # quality drops in the current window
HIGH_RATE = {"vip": 0.1}  # sampled 10x more often than the default 1%
APPS = ("support-bot", "shop-assistant", "search")
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1")
FINISH = ("stop", "stop", "stop", "stop", "length", None)
CHUNK = 50_000


def _sample_columns() -> list[str]:
    return [column.name for column in Sample.__table__.columns]  # type: ignore[attr-defined]


JUDGMENT_COLUMNS = [
    "sample_id", "rubric_name", "rubric_version", "judge_model", "verdict", "unscored_reason",
    "criteria", "checks", "raw_reply", "input_tokens", "output_tokens", "cost_usd", "latency_ms", "created_at",
]  # fmt: skip


def generate(
    n: int, payload_chars: int, *, days: float = 28, seed: int = 7
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Chunks of (sample rows, judgment rows) as column → value dicts, in ts order, ending at ``END``."""
    rng = np.random.default_rng(seed)
    text = ("The customer asks about their order status and refund timeline. " * 64)[: max(payload_chars // 2, 1)]
    input_messages = orjson.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}]).decode()
    output_messages = orjson.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}]}]).decode()
    span = timedelta(days=days)
    start = END - span
    step_us = span / timedelta(microseconds=1) / n
    for offset in range(0, n, CHUNK):
        size = min(CHUNK, n - offset)
        ids = rng.integers(0, 2**64, size=(size, 2), dtype=np.uint64)
        cats = rng.choice(len(CATEGORIES), size=size, p=CATEGORY_SHARES)
        apps = rng.integers(0, len(APPS), size=size)
        models = rng.choice(len(MODELS), size=size, p=[0.6, 0.3, 0.1])
        finish = rng.integers(0, len(FINISH), size=size)
        errors = rng.random(size) < 0.01
        in_tokens = rng.lognormal(6.2, 0.5, size).astype(int)
        out_tokens = rng.lognormal(4.8, 0.6, size).astype(int)
        latency = rng.lognormal(6.7, 0.4, size)
        judged = rng.random(size) < 0.5
        second = rng.random(size) < 0.2
        rejudged = rng.random(size) < 0.05
        draws = rng.random((size, 3))
        samples: list[dict[str, Any]] = []
        judgments: list[dict[str, Any]] = []
        for k in range(size):
            i = offset + k
            ts = start + timedelta(microseconds=i * step_us)
            current = ts >= CURRENT.start
            category = CATEGORIES[cats[k]]
            sample_id = f"{int(ids[k, 0]):016x}{int(ids[k, 1]):016x}"
            samples.append({
                "sample_id": sample_id, "schema": "tastevin.sample/v1", "trace_id": sample_id, "span_id": None,
                "ts": ts, "app": APPS[apps[k]], "env": "production", "release": "2026.1.0", "category": category,
                "provider": "anthropic", "operation": "chat", "request_model": MODELS[models[k]],
                "response_model": MODELS[models[k]], "params": "{}", "system_instructions": None,
                "input_messages": input_messages, "output_messages": output_messages,
                "finish_reason": FINISH[finish[k]], "input_tokens": int(in_tokens[k]),
                "output_tokens": int(out_tokens[k]), "cache_read_input_tokens": 0, "cache_write_input_tokens": None,
                "latency_ms": float(latency[k] * (1.15 if current else 1.0)), "ttft_ms": None,
                "error_type": "RateLimitError" if errors[k] else None, "error_message": None,
                "sampling_rate": HIGH_RATE.get(category, 0.01), "sampling_rule": "trace_id_ratio",
                "redactions": "{}", "truncated": False, "attributes": "{}",
                "input_chars": len(text), "output_chars": len(text), "kafka_topic": "tastevin.samples",
                "kafka_partition": i % 4, "kafka_offset": i, "ingested_at": ts,
            })  # fmt: skip
            if not judged[k]:
                continue
            rate = PASS_RATES[cats[k]] - (DROP_IN_CURRENT.get(category, 0.0) if current else 0.0)
            rubrics = [("helpfulness", "5e1f0c2a9b7d4e31")] + ([("safety", "0c9a4f7e2b1d8a65")] if second[k] else [])
            if rejudged[k]:
                rubrics.insert(0, ("helpfulness", "a3b2c1d0e9f8a7b6"))
            for r, (rubric, version) in enumerate(rubrics):
                draw = draws[k, r % 3]
                verdict = "unscored" if draw > 0.98 else ("pass" if draw < rate else "fail")
                judgments.append({
                    "sample_id": sample_id, "rubric_name": rubric, "rubric_version": version,
                    "judge_model": "claude-haiku-4-5", "verdict": verdict, "unscored_reason": None,
                    "criteria": "[]", "checks": "[]", "raw_reply": None, "input_tokens": 900,
                    "output_tokens": 120, "cost_usd": 0.0012 + 0.0001 * (draw * 10 // 1),
                    "latency_ms": 1500.0, "created_at": ts + timedelta(hours=1 + r),
                })  # fmt: skip
        yield samples, judgments


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


def load_sqlite(engine: Engine, chunks: Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
    sample_cols = _sample_columns()
    sample_sql = f"INSERT INTO sample ({', '.join(sample_cols)}) VALUES ({', '.join('?' * len(sample_cols))})"
    judgment_sql = (
        f"INSERT INTO judgment ({', '.join(JUDGMENT_COLUMNS)}) VALUES ({', '.join('?' * len(JUDGMENT_COLUMNS))})"
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA synchronous=OFF")  # a benchmark store: a crash only loses the benchmark
        for samples, judgments in chunks:
            cursor.executemany(sample_sql, [tuple(_sqlite_value(row[c]) for c in sample_cols) for row in samples])
            cursor.executemany(
                judgment_sql, [tuple(_sqlite_value(row[c]) for c in JUDGMENT_COLUMNS) for row in judgments]
            )
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def load_postgres(engine: Engine, chunks: Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> None:
    sample_cols = _sample_columns()
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for samples, judgments in chunks:
            with cursor.copy(f"COPY sample ({', '.join(sample_cols)}) FROM STDIN") as copy:
                for row in samples:
                    copy.write_row([row[c] for c in sample_cols])
            with cursor.copy(f"COPY judgment ({', '.join(JUDGMENT_COLUMNS)}) FROM STDIN") as copy:
                for row in judgments:
                    copy.write_row([row[c] for c in JUDGMENT_COLUMNS])
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time over ``repeat`` runs after one warm-up run."""
    result = fn()
    times = []
    for _ in range(repeat):
        begin = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - begin)
    return statistics.median(times), result


def run(name: str, url: str, n: int, *, days: float, payload_chars: int, repeat: int) -> list[tuple[str, str, float, float]]:
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    begin = time.perf_counter()
    chunks = generate(n, payload_chars, days=days)
    if engine.dialect.name == "sqlite":
        load_sqlite(engine, chunks)
    else:
        load_postgres(engine, chunks)
    loaded = time.perf_counter()
    # The judge keeps sample_verdict current as it stores judgments; a bulk load fills it
    # afterwards, as the migration does for judgments made before it.
    with engine.begin() as connection:
        refresh_sample_verdicts(connection)
    refreshed = time.perf_counter()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            connection.exec_driver_sql("PRAGMA optimize")
    console.print(
        f"  {name}: generated {n:,} samples in {loaded - begin:.0f} s, their verdicts in {refreshed - loaded:.1f} s"
    )
    rows = []
    queries: list[tuple[str, Callable[[], Any], float]] = [
        ("summary (7-day window)", lambda: category_summary(engine, CURRENT), 2.0),
        ("failing categories (7 d vs 7 d)", lambda: compare_windows(engine, current=CURRENT, baseline=BASELINE), 2.0),
        ("mix vs quality (7 d vs 7 d)", lambda: decompose_windows(engine, current=CURRENT, baseline=BASELINE), 2.0),
        ("drift (two full windows)", lambda: drift_report(engine, reference=BASELINE, current=CURRENT), 1.0),
    ]
    for label, fn, target in queries:
        seconds, result = timed(fn, repeat)
        console.print(f"  {name}: {label}: {seconds:.3f} s")
        if label.startswith("failing"):
            top = [(c.category, c.verdict.value) for c in result[:3]]
            console.print(f"    top: {top}")
        if label.startswith("drift"):
            console.print(f"    drifted: {result.drifted_features}")
        rows.append((name, label, seconds, target))
    engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000, help="samples in the store (half judged)")
    parser.add_argument("--quick", action="store_true", help="20,000 samples, one timing: a smoke run")
    parser.add_argument("--days", type=float, default=28, help="days the samples span (at least 14)")
    parser.add_argument("--payload-chars", type=int, default=600, help="characters of messages per sample")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (median)")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.samples
    repeat = 1 if args.quick else args.repeat
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        console.print(f"[bold]Reviewer query benchmark[/]: {n:,} samples")
        options = {"days": max(args.days, 14.0), "payload_chars": args.payload_chars, "repeat": repeat}
        rows += run("SQLite", f"sqlite:///{tmp}/bench.db", n, **options)
        bin_dir = None if args.skip_postgres else find_pg_bin()
        if bin_dir is not None:
            cluster = PostgresCluster(bin_dir=bin_dir).init().start()
            try:
                rows += run("PostgreSQL", cluster.url(cluster.create_database("bench")), n, **options)
            finally:
                cluster.destroy()
    per_window = round(n * 7 / max(args.days, 14.0))
    table = Table(
        title=f"Reviewer queries on {n:,} samples ({n // 2:,} judged) over {max(args.days, 14.0):g} days: "
        f"7-day windows of ~{per_window:,} samples, median of {repeat}"
    )
    for column in ("store", "query", "seconds", "target", "ok"):
        table.add_column(column)
    for store, label, seconds, target in rows:
        ok = "[green]yes[/]" if seconds <= target else "[red]NO[/]"
        table.add_row(store, label, f"{seconds:.3f}", f"≤ {target:g} s", ok)
    console.print(table)


if __name__ == "__main__":
    main()
