"""Ingest benchmark: sustained ingest of ~2 KB records from a real broker.

    .venv/bin/python benchmarks/bench_ingest.py            # 100,000 records (~2-3 minutes)
    .venv/bin/python benchmarks/bench_ingest.py --quick    # smoke run (used by the tests)

In one run: kafka-python's raw consume rate of the same topic (the ceiling), then
``Ingester`` (decode + validate + one transaction per batch + offset commit) into
SQLite and into a throwaway PostgreSQL cluster. Targets (issue 3): ≥ 20k records/s into
SQLite, ≥ 10k/s into PostgreSQL, and ≥ 50% of the raw consume rate. Memory is the
process RSS growth over the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from reviewer.broker import EmbeddedBroker  # noqa: E402
from reviewer.ingest import BatchWriter, IngestConfig, Ingester  # noqa: E402
from reviewer.store import ensure_schema, make_engine  # noqa: E402
from tests.kafka_helpers import create_topic  # noqa: E402
from tests.pg import PostgresCluster, find_pg_bin  # noqa: E402
from tests.records import encode, make_record  # noqa: E402

console = Console()
TOPIC = "tastevin.samples"


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def fill_topic(bootstrap: str, n: int) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, api_version=(2, 8), acks=1, linger_ms=20, batch_size=512 * 1024
    )
    size = 0
    for i in range(n):
        value = encode(make_record(i))
        size += len(value)
        producer.send(TOPIC, value=value, key=value[14:46])
        if i % 20_000 == 0 and i:
            console.print(f"  produced {i:,}/{n:,}")
    producer.flush(120)
    producer.close()
    return size // n


def raw_consume(bootstrap: str, n: int, batch_size: int) -> float:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        api_version=(2, 8),
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    seen = 0
    first_at: float | None = None
    first_size = 0
    last_at = 0.0
    deadline = time.monotonic() + 300
    while seen < n and time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500, max_records=batch_size)
        got = sum(len(v) for v in batch.values())
        if got and first_at is None:
            first_at, first_size = time.perf_counter(), got
        seen += got
        last_at = time.perf_counter()
    consumer.close()
    elapsed = last_at - (first_at or last_at)
    return (seen - first_size) / elapsed if elapsed > 0 else 0.0


def ingest(bootstrap: str, url: str, n: int, group: str, batch_size: int) -> dict[str, Any]:
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    config = IngestConfig(
        bootstrap_servers=(bootstrap,),
        group_id=group,
        batch_size=batch_size,
        until_idle_s=3.0,
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        progress_every_s=5.0,
    )
    ingester = Ingester(config, BatchWriter(engine), echo=lambda line: console.print(f"  {line}"))
    rss_before = rss_mb()
    peak = [rss_before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], rss_mb())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ingester.run()
    done.set()
    watcher.join()
    engine.dispose()
    return {
        "consumed": ingester.stats.consumed,
        "rate": ingester.stats.steady_rate(),
        "rss_growth_mb": peak[0] - rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 records: a smoke run, not a measurement")
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    n = 2_000 if args.quick else args.records
    batch_size = 200 if args.quick else 2_000  # the quick run still needs several batches to time
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        create_topic(broker.bootstrap_servers, partitions=4)
        console.print(f"[bold]Ingest benchmark[/]: filling the topic with {n:,} records")
        size = fill_topic(broker.bootstrap_servers, n)
        console.print("raw kafka-python consume (baseline)")
        raw = raw_consume(broker.bootstrap_servers, n, batch_size)
        console.print("ingest → SQLite")
        results["SQLite"] = ingest(
            broker.bootstrap_servers, f"sqlite:///{tmp}/bench.db", n, "bench-sqlite", batch_size
        )
        bin_dir = find_pg_bin()
        if bin_dir is not None:
            cluster = PostgresCluster(bin_dir=bin_dir).init().start()
            try:
                console.print("ingest → PostgreSQL")
                results["PostgreSQL"] = ingest(
                    broker.bootstrap_servers, cluster.url(cluster.create_database("bench")), n, "bench-pg", batch_size
                )
            finally:
                cluster.destroy()

    table = Table(title=f"Ingest of {n:,} records of ~{size:,} bytes from tansu")
    for col in ("path", "records/s", "vs raw", "RSS growth MB", "target", "ok"):
        table.add_column(col)
    table.add_row("kafka-python raw consume (ceiling)", f"{raw:,.0f}", "100%", "", "", "")
    targets = {"SQLite": 20_000, "PostgreSQL": 10_000}
    for name, r in results.items():
        share = r["rate"] / raw if raw else 0.0
        ok = r["rate"] >= targets[name] and share >= 0.5 and r["consumed"] == n
        table.add_row(
            f"tastevin ingest → {name}",
            f"{r['rate']:,.0f}",
            f"{share:.0%}",
            f"{r['rss_growth_mb']:.0f}",
            f"≥ {targets[name]:,}/s, ≥ 50%",
            "[green]yes[/]" if ok else f"[red]NO[/] ({r['consumed']:,} consumed)",
        )
    console.print(table)


if __name__ == "__main__":
    main()
