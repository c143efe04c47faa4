"""Ingest benchmark: sustained ingest of ~2 KB records from a real broker.

    .venv/bin/python benchmarks/bench_ingest.py               # 100,000 records, one round
    .venv/bin/python benchmarks/bench_ingest.py --rounds 3    # medians of three rounds
    .venv/bin/python benchmarks/bench_ingest.py --quick       # smoke run (used by the tests)

The topic is filled once (4 partitions, keyed by trace_id as the sampler does). Each
round then measures, on the same topic: kafka-python's raw consume rate (the baseline
the issue names as the ceiling), confluent-kafka's raw consume rate (the client
``tastevin ingest`` uses, so the real ceiling of this code), and ingest (decode +
validate + one transaction per batch + offset commit) into a fresh SQLite file and a
fresh database of a throwaway PostgreSQL cluster, with 1 and with 2 worker processes
(``--workers``; each process is an ``Ingester``, as ``tastevin ingest --workers N``
starts them). Both raw consumers use the ingester's fetch sizes. Targets (issue 3):
≥ 20k records/s into SQLite, ≥ 10k/s into PostgreSQL; and the aim of ≥ 50% of
kafka-python's raw consume rate of the same round.

Rates are steady-state (first batch to last commit). Besides them the table shows CPU
time per record — of the consumer process(es) (all threads, librdkafka's included), of
the broker and of the PostgreSQL server — which, unlike rates, does not depend on what
else the machine is running; and memory as the process RSS growth over the ingest. With several
rounds every figure is the median over the rounds, and "vs raw" the median of the
per-round ratios.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import statistics
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
from reviewer.ingest.consumer import CONSUMER_FETCH_SETTINGS, consumer_settings  # noqa: E402
from reviewer.store import ensure_schema, make_engine  # noqa: E402
from tests.kafka_helpers import create_topic  # noqa: E402
from tests.pg import PostgresCluster, find_pg_bin  # noqa: E402
from tests.records import encode, make_record  # noqa: E402

console = Console()
TOPIC = "tastevin.samples"


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def cpu_s(process: psutil.Process, *, reaped_children: bool = False) -> float:
    """CPU seconds (user + system) of ``process``; with ``reaped_children`` also of the
    children it has waited for (PostgreSQL backends that have exited)."""
    times = process.cpu_times()
    total = times.user + times.system
    if reaped_children:
        total += times.children_user + times.children_system
    return total


class CpuMeter:
    """CPU seconds of this process, the broker and (optionally) a PostgreSQL cluster."""

    def __init__(self, broker: EmbeddedBroker, cluster: PostgresCluster | None = None) -> None:
        assert broker.process is not None
        self.me = psutil.Process()
        self.broker = psutil.Process(broker.process.pid)
        self.cluster = cluster

    def _server(self) -> float:
        if self.cluster is None:
            return 0.0
        postmaster = psutil.Process(int((self.cluster.data_dir / "postmaster.pid").read_text().split()[0]))
        total = cpu_s(postmaster, reaped_children=True)
        for child in postmaster.children(recursive=True):
            try:
                total += cpu_s(child)
            except psutil.NoSuchProcess:
                pass
        return total

    def read(self) -> tuple[float, float, float]:
        return cpu_s(self.me), cpu_s(self.broker), self._server()


def fill_topic(bootstrap: str, n: int) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, api_version=(2, 8), acks=1, linger_ms=20, batch_size=512 * 1024
    )
    size = 0
    for i in range(n):
        record = make_record(i)
        value = encode(record)
        size += len(value)
        # Keyed by trace_id, as the sampler does, so the records spread over the partitions.
        producer.send(TOPIC, value=value, key=record["trace_id"].encode())
        if i % 20_000 == 0 and i:
            console.print(f"  produced {i:,}/{n:,}")
    producer.flush(120)
    producer.close()
    return size // n


def _drain(poll: Any, n: int, meter: CpuMeter) -> dict[str, Any]:
    """Call ``poll()`` (→ records in the batch) until ``n`` records came; time from the first batch."""
    seen = 0
    first_at: float | None = None
    first_size = 0
    last_at = 0.0
    cpu_before = meter.read()
    deadline = time.monotonic() + 300
    while seen < n and time.monotonic() < deadline:
        got = poll()
        if got and first_at is None:
            first_at, first_size = time.perf_counter(), got
        seen += got
        last_at = time.perf_counter()
    cpu_after = meter.read()
    elapsed = last_at - (first_at or last_at)
    return {
        "consumed": seen,
        "rate": (seen - first_size) / elapsed if elapsed > 0 else 0.0,
        "cpu_us": [(a - b) / max(seen, 1) * 1e6 for a, b in zip(cpu_after, cpu_before)],
        "rss_growth_mb": None,
    }


def raw_kafka_python(bootstrap: str, n: int, batch_size: int, meter: CpuMeter) -> dict[str, Any]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        api_version=(2, 8),
        fetch_max_bytes=CONSUMER_FETCH_SETTINGS["fetch.max.bytes"],
        max_partition_fetch_bytes=CONSUMER_FETCH_SETTINGS["max.partition.fetch.bytes"],
    )

    def poll() -> int:
        batch = consumer.poll(timeout_ms=500, max_records=batch_size)
        return sum(len(v) for v in batch.values())

    try:
        return _drain(poll, n, meter)
    finally:
        consumer.close()


def raw_confluent(bootstrap: str, n: int, batch_size: int, meter: CpuMeter, group: str) -> dict[str, Any]:
    from confluent_kafka import Consumer

    settings = consumer_settings(IngestConfig(bootstrap_servers=(bootstrap,), group_id=group))
    consumer = Consumer(settings)
    consumer.subscribe([TOPIC])

    def poll() -> int:
        messages = consumer.consume(num_messages=batch_size, timeout=0.5)
        for message in messages:  # touch the value, as any consumer does
            message.value()
        return len(messages)

    try:
        return _drain(poll, n, meter)
    finally:
        consumer.close()


def _ingest_worker(config: IngestConfig, url: str, results: Any) -> None:
    """One ingest process, as each of ``tastevin ingest --workers N`` runs: an
    ``Ingester`` on its own connection; reports its stats, CPU and memory growth."""
    engine = make_engine(url)
    writer = BatchWriter(engine)
    ingester = Ingester(config, writer, echo=lambda line: console.print(f"  {line}"))
    gc.collect()
    gc.freeze()  # as run_ingester does
    me = psutil.Process()
    rss_before = rss_mb()
    peak = [rss_before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], rss_mb())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    cpu_before = cpu_s(me)
    ingester.run()
    cpu = cpu_s(me) - cpu_before
    done.set()
    watcher.join()
    writer.close()
    engine.dispose()
    stats = ingester.stats
    results.put({
        "consumed": stats.consumed,
        "first_at": stats.first_batch_at,  # CLOCK_MONOTONIC: one clock for all processes
        "first_size": stats.first_batch_size,
        "last_at": stats.last_batch_done_at,
        "cpu": cpu,
        "rss_growth_mb": peak[0] - rss_before,
    })


def ingest(bootstrap: str, url: str, group: str, batch_size: int, workers: int, meter: CpuMeter) -> dict[str, Any]:
    """``workers`` ingest processes in one group until the topic is drained. The rate is
    steady-state: from the first batch any worker got to the last commit of any."""
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    engine.dispose()
    config = IngestConfig(
        bootstrap_servers=(bootstrap,),
        group_id=group,
        batch_size=batch_size,
        until_idle_s=5.0,  # counts once each worker holds partitions and has read them to their end
        session_timeout_ms=3000,
        heartbeat_interval_ms=500,
        progress_every_s=5.0,
    )
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_ingest_worker, args=(config, url, results)) for _ in range(workers)]
    cpu_before = meter.read()
    for process in processes:
        process.start()
    reports = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    time.sleep(0.5)  # the workers' PostgreSQL backends have exited: let the postmaster reap them
    cpu_after = meter.read()  # (a reaped backend's CPU is in the postmaster's children times)
    consumed = sum(r["consumed"] for r in reports)
    started = [r for r in reports if r["first_at"] is not None]
    elapsed = max(r["last_at"] for r in started) - min(r["first_at"] for r in started) if started else 0.0
    # Records before the first batch's arrival are not timed: only the first-arriving one's.
    first = min(started, key=lambda r: r["first_at"])["first_size"] if started else 0
    server = [(a - b) / max(consumed, 1) * 1e6 for a, b in zip(cpu_after, cpu_before)]
    return {
        "consumed": consumed,
        "rate": (consumed - first) / elapsed if elapsed > 0 else 0.0,
        "cpu_us": [sum(r["cpu"] for r in reports) / max(consumed, 1) * 1e6, server[1], server[2]],
        "rss_growth_mb": max(r["rss_growth_mb"] for r in reports),
        "workers": len(started),
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 records: a smoke run, not a measurement")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1, help="measure each path this many times; report medians")
    parser.add_argument("--workers", default="1,2", help="worker process counts to measure, comma-separated")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    n = 2_000 if args.quick else args.records
    batch_size = 200 if args.quick else 2_000  # the quick run still needs several batches to time
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        create_topic(broker.bootstrap_servers, partitions=4)
        console.print(f"[bold]Ingest benchmark[/]: filling the topic with {n:,} records")
        size = fill_topic(broker.bootstrap_servers, n)
        bin_dir = find_pg_bin()
        cluster = PostgresCluster(bin_dir=bin_dir).init().start() if bin_dir is not None else None
        try:
            meter = CpuMeter(broker, cluster)
            for i in range(args.rounds):
                results: dict[str, dict[str, Any]] = {}
                label = f" (round {i + 1}/{args.rounds})" if args.rounds > 1 else ""
                console.print(f"raw kafka-python consume (baseline){label}")
                results["raw"] = raw_kafka_python(broker.bootstrap_servers, n, batch_size, meter)
                console.print(f"raw confluent-kafka consume{label}")
                results["confluent"] = raw_confluent(broker.bootstrap_servers, n, batch_size, meter, f"bench-raw-{i}")
                stores = [("SQLite", lambda: f"sqlite:///{tmp}/bench{i}-{workers}.db")]
                if cluster is not None:
                    stores.append(("PostgreSQL", lambda: cluster.url(cluster.create_database(f"bench{i}_{workers}"))))
                for store, make_url in stores:
                    for workers in worker_counts:
                        name = f"{store} ×{workers}"
                        console.print(f"ingest → {store}, {workers} worker process(es){label}")
                        url = make_url()
                        results[name] = ingest(broker.bootstrap_servers, url, f"bench-{i}-{workers}-{store}",
                                               batch_size, workers, meter)
                rounds.append(results)
        finally:
            if cluster is not None:
                cluster.destroy()

    title = f"Ingest of {n:,} records of ~{size:,} bytes from tansu"
    if args.rounds > 1:
        title += f", median of {args.rounds} rounds"
    table = Table(title=title)
    columns = ["path", "records/s", "vs kafka-python raw", "vs confluent raw", "CPU µs/rec: consumer(s)", "broker",
               "PG server", "RSS growth MB"]
    if args.rounds > 1:
        columns.append("records/s by round")
    for col in (*columns, "target", "ok", "aim: ≥ 50% of kafka-python raw"):
        table.add_column(col)
    targets = {"SQLite": 20_000, "PostgreSQL": 10_000}
    labels = {"raw": "kafka-python raw consume (baseline)", "confluent": "confluent-kafka raw consume"}

    def share(name: str, base: str) -> float:
        return _median([r[name]["rate"] / r[base]["rate"] for r in rounds if name in r and r[base]["rate"]])

    names = ["raw", "confluent"] + [f"{store} ×{w}" for store in targets for w in worker_counts]
    for name in names:
        runs = [r[name] for r in rounds if name in r]
        if not runs:
            continue
        rate = _median([r["rate"] for r in runs])
        cpu = [_median([r["cpu_us"][k] for r in runs]) for k in range(3)]
        by_round = [" / ".join(f"{r['rate']:,.0f}" for r in runs)] if args.rounds > 1 else []
        vs = [f"{share(name, 'raw'):.0%}", f"{share(name, 'confluent'):.0%}"]
        if name in labels:
            table.add_row(labels[name], f"{rate:,.0f}", *vs, f"{cpu[0]:.0f}", f"{cpu[1]:.0f}", "", "", *by_round)
            continue
        store, workers = name.split(" ×")
        complete = all(r["consumed"] == n for r in runs)
        ok = rate >= targets[store] and complete
        aim = share(name, "raw") >= 0.5
        table.add_row(
            f"tastevin ingest --workers {workers} → {store}",
            f"{rate:,.0f}",
            *vs,
            f"{cpu[0]:.0f}",
            f"{cpu[1]:.0f}",
            f"{cpu[2]:.0f}" if store == "PostgreSQL" else "",
            f"{_median([r['rss_growth_mb'] for r in runs]):.0f}",
            *by_round,
            f"≥ {targets[store]:,}/s",
            "[green]yes[/]" if ok else "[red]NO[/]" + ("" if complete else " (records missing)"),
            "[green]yes[/]" if aim else "[red]no[/]",
        )
    console.print(table)


if __name__ == "__main__":
    main()
