"""`tastevin ingest --until-idle`: the idle clock runs only once the consumer holds partitions
and has read them to their end; a consumer that never gets partitions says so and, with
--until-idle, exits 3 instead of 0. Against the real tansu broker."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewer.broker import EmbeddedBroker
from reviewer.ingest import BatchWriter, Ingester
from reviewer.ingest.assignment import AssignmentWatch, waiting_warning
from reviewer.store import ensure_schema, make_engine
from tests.kafka_helpers import create_topic
from tests.records import encode, make_record
from tests.reviewer.test_ingest import TOPIC, config, produce, sample_ids

ROOT = Path(__file__).resolve().parents[2]


# -- the bookkeeping, on a clock the test moves ---------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_idle_clock_waits_for_an_assignment_and_the_end_of_every_partition() -> None:
    clock = Clock()
    watch = AssignmentWatch(clock)
    clock.now += 40
    assert watch.waiting_for() == 40 and watch.idle_for() == 0 and not watch.caught_up()

    watch.assign([("t", 0), ("t", 1)])
    assert watch.waiting_for() is None and watch.ever_assigned
    clock.now += 30  # assigned, nothing read yet: not idle
    watch.saw({}, {})
    assert watch.idle_for() == 0 and watch.behind() == [("t", 0), ("t", 1)]

    watch.saw({("t", 0): 500, ("t", 1): 200}, {("t", 1): 200})  # partition 1 ends with this poll
    assert watch.behind() == [("t", 0)] and watch.idle_for() == 0
    clock.now += 10
    watch.saw({}, {("t", 0): 500})
    assert watch.caught_up() and watch.idle_for() == 0
    clock.now += 4
    assert watch.idle_for() == 4

    watch.saw({("t", 0): 501}, {})  # a new record: behind again, the idle clock stops
    assert not watch.caught_up() and watch.idle_for() == 0


def test_an_end_event_older_than_the_last_record_does_not_count() -> None:
    watch = AssignmentWatch(Clock())
    watch.assign([("t", 0)])
    watch.saw({("t", 0): 11}, {("t", 0): 10})  # end at 10, then a record at offset 10 in the same poll
    assert watch.behind() == [("t", 0)]


def test_losing_the_partitions_stops_the_idle_clock_and_starts_the_wait() -> None:
    clock = Clock()
    watch = AssignmentWatch(clock)
    watch.assign([("t", 0)])
    watch.saw({}, {("t", 0): 0})
    clock.now += 5
    assert watch.idle_for() == 5
    watch.revoke([("t", 0)])
    clock.now += 7
    assert watch.idle_for() == 0 and watch.waiting_for() == 7 and watch.ever_assigned
    watch.assign([("t", 0)])  # reassigned: the fetcher starts again, so must the end
    assert watch.behind() == [("t", 0)]


def test_the_position_fallback_when_an_end_event_was_missed() -> None:
    clock = Clock()
    watch = AssignmentWatch(clock)
    watch.assign([("t", 0), ("t", 1)])
    watch.saw({("t", 0): 300}, {})
    watch.caught_up_by_position({("t", 0): 300, ("t", 1): -1001}, {("t", 0): 300, ("t", 1): -1001})
    assert watch.behind() == [("t", 1)]  # an unknown position proves nothing
    watch.caught_up_by_position({("t", 1): 0}, {("t", 1): 0})
    assert watch.caught_up()


def test_the_waiting_warning_names_the_likely_causes() -> None:
    text = waiting_warning(topic="T", group_id="G", waited_s=60.2, ever_assigned=False)
    assert text.startswith("no partition of topic T assigned to this consumer in group G for 60 s (since it joined)")
    for cause in ("other members of group G hold every partition of T", "stuck rebalancing",
                  "topic T does not exist"):
        assert cause in text


# -- against the real broker ----------------------------------------------------------------
def _ingest_cli(url: str, bootstrap: str, group: str, *extra: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reviewer.cli", "ingest", "--db", url, "--bootstrap-servers", bootstrap,
         "--group-id", group, "--progress-every", "1", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
    )


@pytest.mark.slow
def test_until_idle_waits_out_a_slow_group_join_and_reads_everything(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """A 10 s session makes tansu take ~5 s to assign: longer than the idle time. Before,
    the idle clock ran during the join and the job exited 0 having read nothing."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_topic(broker.bootstrap_servers, partitions=3)
    records = [make_record(i) for i in range(3000)]
    produce(broker.bootstrap_servers, [encode(r) for r in records])
    started = time.monotonic()
    result = _ingest_cli(url, broker.bootstrap_servers, "slow-join", "--until-idle", "2",
                         "--session-timeout-ms", "10000")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(sample_ids(url)) == sorted(r["sample_id"] for r in records)
    assert f"waiting for partitions of topic {TOPIC} in group slow-join for " in result.stderr
    assert "idle for 2s after reading every assigned partition to its end; exiting" in result.stderr
    assert "3,000 consumed" in result.stderr.splitlines()[-1]
    assert time.monotonic() - started > 3  # the join (~5 s) took longer than the idle time (2 s)


class Holder:
    """Another member of the group (librdkafka), holding every partition of a one-partition
    topic: the range assignor gives it to the member id that sorts first ("aaa-…")."""

    def __init__(self, bootstrap: str, group: str) -> None:
        from confluent_kafka import Consumer

        self.assigned = threading.Event()
        self.partitions: list[int] = []
        self._stop = threading.Event()
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group, "client.id": "aaa-holder",
            "enable.auto.commit": False, "auto.offset.reset": "latest",
            "session.timeout.ms": 2000, "heartbeat.interval.ms": 500,
        })
        self._consumer.subscribe([TOPIC], on_assign=self._on_assign)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.partitions = [tp.partition for tp in partitions]
        if partitions:
            self.assigned.set()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._consumer.poll(0.1)  # stays in the group and takes part in every rebalance

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


@pytest.fixture
def holder(broker: EmbeddedBroker) -> Iterator[Holder]:
    create_topic(broker.bootstrap_servers, partitions=1)
    member = Holder(broker.bootstrap_servers, "held")
    assert member.assigned.wait(30), "the holding member was never assigned"
    yield member
    member.close()


@pytest.mark.slow
def test_until_idle_without_partitions_exits_3_naming_the_causes(
    broker: EmbeddedBroker, holder: Holder, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    produce(broker.bootstrap_servers, [encode(make_record(i)) for i in range(50)])
    result = _ingest_cli(url, broker.bootstrap_servers, "held", "--until-idle", "1", "--assignment-timeout", "5",
                         "--session-timeout-ms", "2000")
    assert result.returncode == 3, result.stderr[-3000:]
    assert f"waiting for partitions of topic {TOPIC} in group held for " in result.stderr
    assert (f"error: no partition of topic {TOPIC} assigned to this consumer in group held for 5 s (since it "
            f"joined). Likely causes: other members of group held hold every partition of {TOPIC}") in result.stderr
    assert "Exiting with code 3" in result.stderr
    assert "idle for" not in result.stderr
    assert sample_ids(url) == []
    assert holder.partitions == [0]


@pytest.mark.slow
def test_a_service_without_partitions_warns_once_then_reads_when_they_come(
    broker: EmbeddedBroker, holder: Holder, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    lines: list[str] = []
    warned = threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        if line.startswith("warning: no partition"):
            warned.set()

    ingester = Ingester(config(broker.bootstrap_servers, group_id="held", until_idle_s=None, assignment_timeout_s=3.0),
                        BatchWriter(engine), echo=echo)
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(ingester.run()))
    runner.start()
    try:
        assert warned.wait(30), lines
        holder.close()  # the other member leaves: the partition comes to us
        records = [make_record(i) for i in range(200)]
        produce(broker.bootstrap_servers, [encode(r) for r in records])
        deadline = time.monotonic() + 60
        while ingester.stats.consumed < len(records) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        ingester.request_stop()
        runner.join(60)
        engine.dispose()
    assert codes == [0]
    assert ingester.stats.consumed == 200, lines
    assert sum(line.startswith("warning: no partition") for line in lines) == 1
    assert any(line.startswith(f"ingest: waiting for partitions of topic {TOPIC} in group held for ") for line in lines)


@pytest.mark.slow
def test_a_worker_without_partitions_does_not_stop_the_one_with_them(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """--workers 2 on a one-partition topic: the worker left without a partition exits 3
    after --assignment-timeout; the other goes on reading the live feed, and the job exits 0."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    create_topic(broker.bootstrap_servers, partitions=1)
    records = [make_record(i) for i in range(3000)]
    fed = threading.Event()

    def feed() -> None:  # a live topic for ~7 s: the worker holding the partition never idles
        for start in range(0, len(records), 200):
            produce(broker.bootstrap_servers, [encode(r) for r in records[start : start + 200]])
            time.sleep(0.5)
        fed.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    result = _ingest_cli(url, broker.bootstrap_servers, "two-workers", "--workers", "2", "--until-idle", "2",
                         "--assignment-timeout", "3", "--session-timeout-ms", "2000")
    feeder.join()
    assert fed.is_set()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "got no partition (more workers than partitions?); the other workers go on" in result.stderr
    assert "stopping the other workers" not in result.stderr
    assert sorted(sample_ids(url)) == sorted(r["sample_id"] for r in records)


@pytest.mark.slow
def test_workers_that_all_get_no_partition_exit_3(broker: EmbeddedBroker, holder: Holder, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = _ingest_cli(url, broker.bootstrap_servers, "held", "--workers", "2", "--until-idle", "1",
                         "--assignment-timeout", "4", "--session-timeout-ms", "2000")
    assert result.returncode == 3, result.stderr[-3000:]
    assert result.stderr.count("got no partition (more workers than partitions?)") == 2
    assert holder.partitions == [0]
