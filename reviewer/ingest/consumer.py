"""``tastevin ingest``: Kafka consumer group → SQL store, nothing lost, nothing doubled.

Loop: poll a batch → decode and validate every message → one database transaction
(samples inserted with ``sample_id`` as the idempotency key, poison to ``dead_letter``)
→ commit the Kafka offsets. Offsets are committed only after the database commit, so a
``kill -9`` at any point at most redelivers a batch, which the idempotent insert absorbs.

A database outage pauses consumption (the same batch is retried with backoff, offsets
stay uncommitted); a broker outage is absorbed by the Kafka client's reconnects. Neither
kills the process. SIGTERM/SIGINT finish the batch in hand, commit and exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from .decode import DEFAULT_MAX_RECORD_BYTES, PoisonRecord, decode_row, sqlite_timestamp
from .writer import BatchWriter

logger = logging.getLogger(__name__)

DEAD_LETTER_RAW_CAP = 64 * 1024
_BACKOFF_START_S = 0.5
_BACKOFF_MAX_S = 15.0


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    """Everything ``tastevin ingest`` needs, resolved from flags, environment and defaults."""

    bootstrap_servers: tuple[str, ...]
    topic: str = "tastevin.samples"
    group_id: str = "tastevin-ingest"
    batch_size: int = 2000
    until_idle_s: float | None = None
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    progress_every_s: float = 10.0
    kafka: dict[str, Any] = field(default_factory=dict)


@dataclass
class IngestStats:
    consumed: int = 0
    inserted_or_seen: int = 0
    dead_lettered: int = 0
    batches: int = 0
    db_retries: int = 0
    started: float = field(default_factory=time.monotonic)
    first_batch_at: float | None = None  # monotonic time the first non-empty poll returned
    first_batch_size: int = 0
    last_batch_done_at: float | None = None  # after its offsets were committed

    def steady_rate(self) -> float:
        """Records/s from the first batch's arrival to the last commit (no join, no idle tail)."""
        if self.first_batch_at is None or self.last_batch_done_at is None:
            return 0.0
        elapsed = self.last_batch_done_at - self.first_batch_at
        return (self.consumed - self.first_batch_size) / elapsed if elapsed > 0 else 0.0


@dataclass
class _Batch:
    """One polled batch, decoded: insert-ready rows (with the message each came from),
    dead letters, the offsets to commit once stored, and how many rows the database
    refused (moved to dead letters while storing)."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    next_offsets: dict[Any, int] = field(default_factory=dict)
    refused: int = 0


def _dead_letter_row(message: Any, poison: PoisonRecord, now: datetime) -> dict[str, Any]:
    raw = message.value or b""
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key,
        "raw": raw[:DEAD_LETTER_RAW_CAP],
        "raw_size": len(raw),
        "reason": poison.reason,
        "detail": poison.detail[:1000],
        "received_at": now,
    }


class Ingester:
    """Runs the consume → store → commit loop until stopped, idle or killed.

    ``consumer_factory`` builds the kafka-python ``KafkaConsumer`` (tests pass their own
    settings through ``IngestConfig`` instead; the factory exists for the benchmarks).
    ``request_stop`` may be called from any thread or a signal handler.
    """

    def __init__(
        self,
        config: IngestConfig,
        writer: BatchWriter,
        *,
        consumer_factory: Callable[[IngestConfig], Any] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.writer = writer
        self._consumer_factory = consumer_factory or make_consumer
        self._echo = echo or (lambda line: logger.info("%s", line))
        self._stop = threading.Event()
        self.stats = IngestStats()

    def request_stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: object) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- one batch ------------------------------------------------------------------------
    def _decode_batch(self, batch: dict[Any, list[Any]]) -> _Batch:
        now = datetime.now(timezone.utc)
        text_timestamps = self.writer.text_timestamps
        ingested_at = sqlite_timestamp(now) if text_timestamps else now
        decoded = _Batch()
        rows, sources, dead = decoded.rows, decoded.sources, decoded.dead
        limit = self.config.max_record_bytes
        for tp, messages in batch.items():
            for message in messages:
                try:
                    rows.append(
                        decode_row(
                            message.value,
                            message.topic,
                            message.partition,
                            message.offset,
                            ingested_at,
                            limit,
                            text_timestamps,
                        )
                    )
                    sources.append(message)
                except PoisonRecord as poison:
                    dead.append(_dead_letter_row(message, poison, now))
            if messages:
                decoded.next_offsets[tp] = messages[-1].offset + 1
        return decoded

    def _store(self, batch: _Batch) -> bool:
        """Write with retries while the database is down; False if asked to stop meanwhile."""
        backoff = _BACKOFF_START_S
        while True:
            try:
                self._write(batch)
                return True
            except (OperationalError, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and not exc.connection_invalidated and not isinstance(exc, OperationalError):
                    raise  # a real bug (constraint, type): do not spin on it
                self.stats.db_retries += 1
                self._echo(f"database unavailable ({type(exc.orig).__name__ if exc.orig else exc}); retrying in {backoff:.1f}s")
                if self._stop.wait(backoff):
                    return False
                backoff = min(_BACKOFF_MAX_S, backoff * 2)

    def _write(self, batch: _Batch) -> None:
        """One transaction for the batch. If the database refuses a value in some row (a
        data error, e.g. a NUL character or an integer too large for the column), the rows
        are written in halves, each its own transaction, until every refused row is alone;
        those go to ``dead_letter`` as ``bad_type`` and the rest are stored."""
        try:
            self.writer.write_rows(batch.rows, batch.dead)
            return
        except (DataError, OverflowError):  # OverflowError: sqlite3 binding a >64-bit int
            if not batch.rows:
                raise
        refused: list[dict[str, Any]] = []
        self._write_halves(batch, 0, len(batch.rows), refused, datetime.now(timezone.utc))
        self.writer.write_rows([], batch.dead + refused)
        batch.refused = len(refused)

    def _write_halves(self, batch: _Batch, start: int, stop: int, refused: list[dict[str, Any]], now: datetime) -> None:
        try:
            self.writer.write_rows(batch.rows[start:stop], [])
        except (DataError, OverflowError) as exc:
            if stop - start > 1:
                middle = (start + stop) // 2
                self._write_halves(batch, start, middle, refused, now)
                self._write_halves(batch, middle, stop, refused, now)
                return
            error = exc.orig if isinstance(exc, DataError) and exc.orig is not None else exc
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            poison = PoisonRecord("bad_type", f"the database refused the row: {reason}")
            refused.append(_dead_letter_row(batch.sources[start], poison, now))

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        """Consume until stopped (exit code 0), idle for ``until_idle_s`` (0), or a fatal error."""
        consumer = self._consumer_factory(self.config)
        stats = self.stats
        last_progress = last_record = time.monotonic()
        window_start, window_count = last_progress, 0
        try:
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=500, max_records=self.config.batch_size)
                now = time.monotonic()
                if batch:
                    if stats.first_batch_at is None:
                        stats.first_batch_at = now
                        stats.first_batch_size = sum(len(m) for m in batch.values())
                    decoded = self._decode_batch(batch)
                    if not self._store(decoded):
                        self._echo("stopping with the database still down; the batch will be redelivered")
                        return 1
                    self._commit(consumer, decoded.next_offsets)
                    count = len(decoded.rows) + len(decoded.dead)
                    stats.consumed += count
                    stats.inserted_or_seen += len(decoded.rows) - decoded.refused
                    stats.dead_lettered += len(decoded.dead) + decoded.refused
                    stats.batches += 1
                    window_count += count
                    last_record = now
                    stats.last_batch_done_at = time.monotonic()
                elif self.config.until_idle_s is not None and now - last_record >= self.config.until_idle_s:
                    self._echo(f"idle for {self.config.until_idle_s:g}s; exiting")
                    break
                if now - last_progress >= self.config.progress_every_s:
                    rate = window_count / max(now - window_start, 1e-9)
                    self._echo(
                        f"ingest: {rate:,.0f} records/s, {stats.consumed:,} consumed, "
                        f"{stats.dead_lettered:,} dead-lettered, lag {self._lag(consumer)}"
                    )
                    last_progress = window_start = now
                    window_count = 0
        finally:
            try:
                consumer.close(autocommit=False)
            except Exception as exc:  # noqa: BLE001 - closing a consumer to a dead broker
                logger.debug("consumer close failed: %s", exc)
        self._echo(
            f"ingest stopped: {stats.consumed:,} consumed, {stats.dead_lettered:,} dead-lettered "
            f"in {time.monotonic() - stats.started:.1f}s"
        )
        return 0

    def _commit(self, consumer: Any, offsets: dict[Any, int]) -> None:
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        try:
            consumer.commit({tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()})
        except (CommitFailedError, KafkaError) as exc:
            # The rows are stored; a rebalance or broker blip means the batch is redelivered
            # and skipped as duplicates. Nothing is lost.
            self._echo(f"offset commit failed ({type(exc).__name__}); the batch will be redelivered and skipped")

    @staticmethod
    def _lag(consumer: Any) -> str:
        try:
            total = 0
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                position = consumer.position(tp, timeout_ms=100) if high is not None else None
                if high is None or position is None:
                    return "unknown"
                total += max(0, high - position)
            return f"{total:,}"
        except Exception:  # noqa: BLE001 - lag is informational only
            return "unknown"


#: kafka-python settings of the ingest consumer that ``IngestConfig.kafka`` may override;
#: the benchmark's raw-consume baseline uses the same ones.
CONSUMER_FETCH_SETTINGS: dict[str, Any] = {
    "fetch_max_bytes": 64 * 1024 * 1024,
    "max_partition_fetch_bytes": 16 * 1024 * 1024,
}


def make_consumer(config: IngestConfig) -> Any:
    from kafka import KafkaConsumer

    options: dict[str, Any] = {
        "bootstrap_servers": list(config.bootstrap_servers),
        "group_id": config.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": config.batch_size,
        "session_timeout_ms": config.session_timeout_ms,
        "heartbeat_interval_ms": config.heartbeat_interval_ms,
        "api_version": (2, 8),
        "client_id": "tastevin-ingest",
        **CONSUMER_FETCH_SETTINGS,
    }
    options.update(config.kafka)
    return KafkaConsumer(config.topic, **options)
