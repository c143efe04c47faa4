"""tastevin ingest against a real broker, SQLite and a throwaway PostgreSQL."""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import sampler
from reviewer.broker import EmbeddedBroker
from reviewer.ingest import BatchWriter, IngestConfig, Ingester
from reviewer.store import ensure_schema, make_engine
from tests.fake_anthropic import FakeMessagesAPI
from tests.kafka_helpers import create_topic
from tests.records import encode, make_record

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "tastevin.samples"


def produce(bootstrap: str, values: list[bytes], *, topic: str = TOPIC) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, api_version=(2, 8), linger_ms=5, max_request_size=4 * 1024 * 1024
    )
    for value in values:
        producer.send(topic, value=value, key=hashlib.sha1(value or b"").hexdigest().encode())
    producer.flush(30)
    producer.close()


def config(bootstrap: str, **overrides: Any) -> IngestConfig:
    values: dict[str, Any] = {
        "bootstrap_servers": (bootstrap,),
        "until_idle_s": 2.0,
        "session_timeout_ms": 2000,
        "heartbeat_interval_ms": 500,
        "progress_every_s": 1.0,
    }
    values.update(overrides)
    return IngestConfig(**values)


def run_ingest(url: str, bootstrap: str, **overrides: Any) -> Ingester:
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    ingester = Ingester(config(bootstrap, **overrides), BatchWriter(engine))
    assert ingester.run() == 0
    engine.dispose()
    return ingester


def sample_ids(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        ids = [row[0] for row in connection.execute(sa.text("SELECT sample_id FROM sample"))]
    engine.dispose()
    return ids


def _count_or_zero(url: str) -> int:
    """Rows stored so far, 0 while the ingest process is still creating the schema."""
    try:
        return len(sample_ids(url))
    except sa.exc.OperationalError:
        return 0


def dead_letters(url: str) -> list[tuple]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = list(connection.execute(sa.text('SELECT reason, "offset", raw_size FROM dead_letter ORDER BY "offset"')))
    engine.dispose()
    return [tuple(r) for r in rows]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


def test_round_trip_from_the_sampler_to_rows(broker: EmbeddedBroker, db_url: str) -> None:
    sampler.init(app="bot", rate=1.0, bootstrap_servers=broker.bootstrap_servers)
    client = sampler.instrument(FakeMessagesAPI().client())
    with sampler.tag(category="billing"):
        for i in range(20):
            client.messages.create(model="claude-a", max_tokens=5, messages=[{"role": "user", "content": f"q{i}"}])
    with sampler.tag():
        client.messages.create(model="claude-a", max_tokens=5, messages=[{"role": "user", "content": "untagged"}])
    assert sampler.flush(10)
    sampler.shutdown(5)
    sampler._state.STATE.sampler = None
    ingester = run_ingest(db_url, broker.bootstrap_servers)
    assert ingester.stats.consumed == 21 and ingester.stats.dead_lettered == 0
    engine = make_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT category, request_model, input_tokens, output_tokens FROM sample")).all()
    engine.dispose()
    assert sorted(r[0] for r in rows) == ["billing"] * 20 + ["uncategorized"]
    assert {(r[1], r[2], r[3]) for r in rows} == {("claude-a", 42, 17)}


def test_records_from_a_second_client_with_the_schema_as_the_only_contract(broker: EmbeddedBroker, db_url: str) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap_servers})
    records = [make_record(i) for i in range(200)]
    for record in records:
        producer.produce(
            TOPIC,
            value=encode(record),
            key=record["trace_id"].encode(),
            headers=[("content-type", b"application/json"), ("tastevin-schema", b"v1")],
        )
    assert producer.flush(30) == 0
    run_ingest(db_url, broker.bootstrap_servers)
    assert sorted(sample_ids(db_url)) == sorted(r["sample_id"] for r in records)


def test_poison_goes_to_dead_letter_and_the_batch_goes_on(broker: EmbeddedBroker, db_url: str) -> None:
    create_topic(broker.bootstrap_servers, partitions=1)  # one partition: offsets are in send order
    good = [make_record(i) for i in range(3)]
    bad_schema = make_record(10, schema="tastevin.sample/v9")
    missing = make_record(11)
    del missing["trace_id"]
    mistyped = make_record(12, latency_ms="slow")
    values = [
        encode(good[0]),
        b"{not json",
        b'{"schema": "tastevin.sample/v1", "x": "\xff"}',
        encode(bad_schema),
        encode(missing),
        encode(good[1]),
        encode(mistyped),
        b'{"pad": "' + b"x" * 1_100_000 + b'"}',
        encode(good[2]),
    ]
    produce(broker.bootstrap_servers, values)
    run_ingest(db_url, broker.bootstrap_servers)
    assert sorted(sample_ids(db_url)) == sorted(r["sample_id"] for r in good)
    assert dead_letters(db_url) == [
        ("invalid_json", 1, 9),
        ("invalid_utf8", 2, len(values[2])),
        ("unknown_schema", 3, len(values[3])),
        ("missing_field", 4, len(values[4])),
        ("bad_type", 6, len(values[6])),
        ("oversize", 7, len(values[7])),
    ]
    # Redelivery (a second run with a fresh group reads everything again) changes nothing.
    run_ingest(db_url, broker.bootstrap_servers, group_id="second-reader")
    assert len(sample_ids(db_url)) == 3 and len(dead_letters(db_url)) == 6


def test_rows_the_database_refuses_go_to_dead_letter(broker: EmbeddedBroker, db_url: str) -> None:
    # Valid records whose values a store cannot hold: an integer over 64 bits (neither
    # store), over 32 bits in an INTEGER column or a NUL character (PostgreSQL only).
    create_topic(broker.bootstrap_servers, partitions=1)
    usage = {"output_tokens": 1, "cache_read_input_tokens": None, "cache_write_input_tokens": None}
    records = [make_record(i) for i in range(6)]
    records[1] = make_record(1, usage=dict(usage, input_tokens=2**63))
    records[3] = make_record(3, usage=dict(usage, input_tokens=3_000_000_000))
    records[4] = make_record(4, app="bot\u0000")
    produce(broker.bootstrap_servers, [encode(r) for r in records])
    ingester = run_ingest(db_url, broker.bootstrap_servers)
    refused = {1, 3, 4} if db_url.startswith("postgresql") else {1}
    assert sorted(sample_ids(db_url)) == sorted(r["sample_id"] for i, r in enumerate(records) if i not in refused)
    assert [(reason, offset) for reason, offset, _ in dead_letters(db_url)] == [("bad_type", i) for i in sorted(refused)]
    assert (ingester.stats.consumed, ingester.stats.dead_lettered) == (6, len(refused))


def test_two_consumers_in_one_group_split_the_work(broker: EmbeddedBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_topic(broker.bootstrap_servers, partitions=4)
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    records = [make_record(i) for i in range(4000)]
    ingesters = [
        Ingester(config(broker.bootstrap_servers, until_idle_s=10.0, batch_size=200), BatchWriter(engine))
        for _ in range(2)
    ]
    threads = [threading.Thread(target=i.run) for i in ingesters]
    for thread in threads:
        thread.start()
    time.sleep(5)  # both members join and the group settles (~1 s each with a 2 s session)
    for start in range(0, 4000, 500):
        produce(broker.bootstrap_servers, [encode(r) for r in records[start : start + 500]])
    for thread in threads:
        thread.join(120)
    engine.dispose()
    assert sorted(sample_ids(url)) == sorted(r["sample_id"] for r in records)
    consumed = [i.stats.consumed for i in ingesters]
    assert sum(consumed) == 4000 and min(consumed) > 0, consumed


def _ingest_process(url: str, bootstrap: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reviewer.cli", "ingest", "--db", url, "--bootstrap-servers", bootstrap,
         "--session-timeout-ms", "2000", "--batch-size", "500", "--progress-every", "1", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_kill_9_in_a_loop_loses_nothing_and_doubles_nothing(broker: EmbeddedBroker, db_url: str) -> None:
    create_topic(broker.bootstrap_servers, partitions=2)
    records = [make_record(i) for i in range(20_000)]
    producer_done = threading.Event()

    def feed() -> None:
        for start in range(0, len(records), 1000):
            produce(broker.bootstrap_servers, [encode(r) for r in records[start : start + 1000]])
        producer_done.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    rng = random.Random(3)
    kills = 0
    while not producer_done.is_set() or kills < 4:
        process = _ingest_process(db_url, broker.bootstrap_servers)
        time.sleep(rng.uniform(1.5, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    feeder.join()
    final = _ingest_process(db_url, broker.bootstrap_servers, "--until-idle", "3")
    _, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, stderr[-2000:]
    stored = sample_ids(db_url)
    assert len(stored) == len(set(stored)) == len(records)
    assert set(stored) == {r["sample_id"] for r in records}
    assert kills >= 4


def test_sigterm_finishes_the_batch_commits_and_exits_0(broker: EmbeddedBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    produce(broker.bootstrap_servers, [encode(make_record(i)) for i in range(500)])
    process = _ingest_process(url, broker.bootstrap_servers)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count_or_zero(url) < 500:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr[-2000:]
    assert "ingest stopped: 500 consumed" in stderr
    # Offsets were committed: the same group finds nothing new.
    again = run_ingest(url, broker.bootstrap_servers)
    assert again.stats.consumed == 0


@pytest.mark.slow
def test_postgres_restarted_mid_ingest(broker: EmbeddedBroker, pg_cluster: Any, pg_url: str) -> None:
    create_topic(broker.bootstrap_servers, partitions=2)
    engine = make_engine(pg_url)
    ensure_schema(engine, auto_upgrade=True)
    ingester = Ingester(config(broker.bootstrap_servers, until_idle_s=None), BatchWriter(engine))
    thread = threading.Thread(target=ingester.run)
    thread.start()
    first = [make_record(i) for i in range(1000)]
    produce(broker.bootstrap_servers, [encode(r) for r in first])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(sample_ids(pg_url)) < 1000:
        time.sleep(0.2)
    pg_cluster.stop()
    second = [make_record(i) for i in range(1000, 2000)]
    produce(broker.bootstrap_servers, [encode(r) for r in second])
    time.sleep(3)  # the ingester meets the outage and backs off
    assert thread.is_alive()
    pg_cluster.start()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(sample_ids(pg_url)) < 2000:
        time.sleep(0.5)
    ingester.request_stop()
    thread.join(30)
    engine.dispose()
    assert ingester.stats.db_retries > 0
    stored = sample_ids(pg_url)
    assert len(stored) == 2000 and set(stored) == {r["sample_id"] for r in first + second}


@pytest.mark.slow
def test_broker_restarted_mid_ingest(broker_factory: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    broker = broker_factory()
    port = broker.port
    create_topic(broker.bootstrap_servers, partitions=2)
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    ingester = Ingester(config(broker.bootstrap_servers, until_idle_s=None), BatchWriter(engine))
    thread = threading.Thread(target=ingester.run)
    thread.start()
    first = [make_record(i) for i in range(300)]
    produce(broker.bootstrap_servers, [encode(r) for r in first])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count_or_zero(url) < 300:
        time.sleep(0.2)
    broker.kill()
    time.sleep(3)  # the consumer notices and reconnects with backoff
    assert thread.is_alive()
    restarted = broker_factory(port)  # memory storage: an empty broker on the same address
    create_topic(restarted.bootstrap_servers, partitions=2)
    second = [make_record(i) for i in range(300, 600)]
    produce(restarted.bootstrap_servers, [encode(r) for r in second])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _count_or_zero(url) < 600:
        time.sleep(0.5)
    ingester.request_stop()
    thread.join(30)
    engine.dispose()
    assert set(sample_ids(url)) == {r["sample_id"] for r in first + second}


def _worker_pids(parent: subprocess.Popen[str], count: int, timeout: float = 60) -> list[int]:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The spawn start method adds a resource tracker child besides the workers.
        children = [c for c in psutil.Process(parent.pid).children() if "resource_tracker" not in " ".join(c.cmdline())]
        if len(children) >= count:
            return [c.pid for c in children]
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not start")


def test_workers_split_the_partitions_and_stop_on_sigterm(broker: EmbeddedBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_topic(broker.bootstrap_servers, partitions=4)
    records = [make_record(i) for i in range(3000)]
    produce(broker.bootstrap_servers, [encode(r) for r in records])
    process = _ingest_process(url, broker.bootstrap_servers, "--workers", "2")
    _worker_pids(process, 2)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and _count_or_zero(url) < len(records):
        time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-3000:]
    assert ", 2 workers" in stderr
    stopped = [line for line in stderr.splitlines() if "ingest stopped:" in line]
    assert len(stopped) == 2 and {line.split("]")[0] for line in stopped} == {"[worker 1/2", "[worker 2/2"}, stderr
    # Each worker took a share of the partitions, and everything is stored once.
    assert all(" 0 consumed" not in line for line in stopped), stopped
    stored = sample_ids(url)
    assert len(stored) == len(set(stored)) == len(records)
    # The lock file that takes turns between the workers' transactions.
    assert (tmp_path / "store.db-ingest-lock").exists()


def test_a_worker_killed_stops_the_others_and_fails_the_parent(broker: EmbeddedBroker, tmp_path: Path) -> None:
    import psutil

    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_topic(broker.bootstrap_servers, partitions=2)
    process = _ingest_process(url, broker.bootstrap_servers, "--workers", "2")
    first, second = _worker_pids(process, 2)
    time.sleep(2)  # both in their loops
    psutil.Process(first).kill()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr[-3000:]
    assert "stopped with signal 9; stopping the other workers" in stderr
    assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE


def test_workers_do_not_outlive_a_killed_parent(broker: EmbeddedBroker, tmp_path: Path) -> None:
    import psutil

    url = f"sqlite:///{tmp_path / 'store.db'}"
    process = _ingest_process(url, broker.bootstrap_servers, "--workers", "2")
    workers = [psutil.Process(pid) for pid in _worker_pids(process, 2)]
    process.kill()
    process.wait()
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, alive


def test_the_sampler_security_variables_map_to_librdkafka_settings() -> None:
    from confluent_kafka import Consumer

    from reviewer.ingest.consumer import KAFKA_SECURITY_SETTINGS, consumer_settings
    from sampler._settings import KAFKA_SECURITY_ENV

    # One set of TASTEVIN_KAFKA_* variables configures both the sampler and ingest.
    assert set(KAFKA_SECURITY_SETTINGS) == set(KAFKA_SECURITY_ENV)
    security = {
        KAFKA_SECURITY_SETTINGS["TASTEVIN_KAFKA_SECURITY_PROTOCOL"]: "SASL_PLAINTEXT",
        KAFKA_SECURITY_SETTINGS["TASTEVIN_KAFKA_SASL_MECHANISM"]: "SCRAM-SHA-256",
        KAFKA_SECURITY_SETTINGS["TASTEVIN_KAFKA_SASL_USERNAME"]: "tastevin",
        KAFKA_SECURITY_SETTINGS["TASTEVIN_KAFKA_SASL_PASSWORD"]: "secret",
    }
    # librdkafka rejects an unknown setting name when the consumer is built.
    Consumer(consumer_settings(IngestConfig(bootstrap_servers=("127.0.0.1:1",), kafka=security))).close()
