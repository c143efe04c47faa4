"""Helpers for tests that talk to a real broker."""

from __future__ import annotations

import json
import time
from typing import Any


def consume_records(
    bootstrap_servers: str,
    topic: str = "tastevin.samples",
    *,
    expect: int | None = None,
    idle_s: float = 2.0,
    timeout_s: float = 30.0,
) -> list[Any]:
    """Read a topic from the beginning until ``expect`` messages arrived or it stays idle.

    Reads until idle rather than up to end_offsets(), which tansu under-reports.
    Returns kafka-python ConsumerRecords.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        api_version=(2, 8),
        consumer_timeout_ms=int(idle_s * 1000),
    )
    out: list[Any] = []
    start = time.monotonic()
    deadline = start + timeout_s
    last_progress = start + 2.0  # grace for metadata and the first fetch
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200, max_records=5000)
            got = [r for records in batch.values() for r in records]
            if got:
                out.extend(got)
                last_progress = time.monotonic()
            if expect is not None and len(out) >= expect:
                break
            if expect is None and time.monotonic() - last_progress > idle_s:
                break
    finally:
        consumer.close()
    return out


def decode(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]


def create_topic(bootstrap_servers: str, topic: str = "tastevin.samples", partitions: int = 4) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, api_version=(2, 8))
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
