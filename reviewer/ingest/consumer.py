"""``tastevin ingest``: Kafka consumer group → SQL store, nothing lost, nothing doubled.

Loop: poll a batch → decode and validate every message → one database transaction
(samples inserted with ``sample_id`` as the idempotency key, poison to ``dead_letter``)
→ commit the Kafka offsets. Offsets are committed only after the database commit, so a
``kill -9`` at any point at most redelivers a batch, which the idempotent insert absorbs.

Two threads share the work. The main thread polls and decodes; a writer thread stores
the previous batch meanwhile (SQLite and psycopg release the GIL while the database
works), and the main thread commits that batch's offsets once its transaction is
committed. At most one batch is being stored while the next is decoded, so memory is
bounded by two batches plus the client's fetch queue. Before a rebalance takes
partitions away, the batch in the writer is finished and its offsets committed.

The Kafka client is confluent-kafka (librdkafka): it fetches on its own C threads, at
a fifth of kafka-python's CPU per record, which leaves the Python side to decoding and
writing. A database outage pauses consumption (the same batch is retried with backoff,
offsets stay uncommitted); a broker outage is absorbed by librdkafka's reconnects.
Neither kills the process. SIGTERM/SIGINT finish the batch in hand, commit and exit 0.

``until_idle_s`` (for jobs and tests) ends the loop once the consumer holds partitions,
has read every one to its end, and nothing new came for that long; the clock does not
run while the group forms or another member holds the partitions (``assignment.py``).
Without partitions for ``assignment_timeout_s`` it warns with the likely causes; with
``until_idle_s`` it exits 3 instead, having read nothing it could vouch for.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from .assignment import AssignmentWatch, Partition, partitions_of, waiting_warning
from .client import CONSUMER_FETCH_SETTINGS, KAFKA_SECURITY_SETTINGS, IngestConfig, consumer_settings, make_consumer
from .decode import PoisonRecord, decode_row, sqlite_timestamp
from .writer import BatchWriter

__all__ = [
    "CONSUMER_FETCH_SETTINGS",  # re-exported from .client, where the Kafka side lives
    "DEAD_LETTER_RAW_CAP",
    "EXIT_NO_ASSIGNMENT",
    "KAFKA_SECURITY_SETTINGS",
    "IngestConfig",
    "IngestStats",
    "Ingester",
    "consumer_settings",
    "make_consumer",
]

logger = logging.getLogger(__name__)

DEAD_LETTER_RAW_CAP = 64 * 1024
_BACKOFF_START_S = 0.5
_BACKOFF_MAX_S = 15.0
_BROKER_ERROR_EVERY_S = 10.0  # repeat a broker error line at most this often
_POSITION_CHECK_EVERY_S = 1.0  # the fallback for a missed end-of-partition event
#: Exit code of ``run`` when ``until_idle_s`` is set and no partition was assigned in time.
EXIT_NO_ASSIGNMENT = 3


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
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    refused: int = 0


def _dead_letter_row(message: Any, poison: PoisonRecord, now: datetime) -> dict[str, Any]:
    raw = message.value() or b""
    return {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "key": message.key(),
        "raw": raw[:DEAD_LETTER_RAW_CAP],
        "raw_size": len(raw),
        "reason": poison.reason,
        "detail": poison.detail[:1000],
        "received_at": now,
    }


class Ingester:
    """Runs the consume → store → commit loop until stopped, idle or killed.

    ``consumer_factory`` builds the confluent-kafka ``Consumer``, subscribed with the
    rebalance callbacks it is given (the default is :func:`make_consumer`).
    ``request_stop`` may be called from any thread or a signal handler.
    """

    def __init__(
        self,
        config: IngestConfig,
        writer: BatchWriter,
        *,
        consumer_factory: Callable[..., Any] | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.writer = writer
        self._consumer_factory = consumer_factory or make_consumer
        self._echo = echo or (lambda line: logger.info("%s", line))
        self._stop = threading.Event()
        self.stats = IngestStats()
        self._consumer: Any = None
        self._in_flight: tuple[_Batch, Future[bool]] | None = None
        self._broker_error_at = 0.0
        self._revoke_ok = True  # False once a rebalance callback met the database down at a stop
        self.watch = AssignmentWatch()

    def request_stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: object) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- one batch ------------------------------------------------------------------------
    def _decode_batch(self, messages: list[Any]) -> _Batch:
        now = datetime.now(timezone.utc)
        text_timestamps = self.writer.text_timestamps
        ingested_at = sqlite_timestamp(now) if text_timestamps else now
        decoded = _Batch()
        rows, sources, dead, next_offsets = decoded.rows, decoded.sources, decoded.dead, decoded.next_offsets
        limit = self.config.max_record_bytes
        for message in messages:
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            try:
                rows.append(
                    decode_row(message.value(), topic, partition, offset, ingested_at, limit, text_timestamps)
                )
                sources.append(message)
            except PoisonRecord as poison:
                dead.append(_dead_letter_row(message, poison, now))
            next_offsets[(topic, partition)] = offset + 1
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

    def _finish_in_flight(self) -> bool:
        """Wait for the batch in the writer, then commit its offsets. False if the
        database was still down when a stop was asked (the batch is not committed and
        will be redelivered). Exceptions of the write are raised here."""
        if self._in_flight is None:
            return True
        batch, future = self._in_flight
        self._in_flight = None
        if not future.result():
            return False
        self._commit(batch.next_offsets)
        stats = self.stats
        count = len(batch.rows) + len(batch.dead)
        stats.consumed += count
        stats.inserted_or_seen += len(batch.rows) - batch.refused
        stats.dead_lettered += len(batch.dead) + batch.refused
        stats.batches += 1
        stats.last_batch_done_at = time.monotonic()
        return True

    # -- rebalance callbacks (run on the main thread, inside consume) ---------------------
    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.watch.assign(partitions_of(partitions))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self.watch.revoke(partitions_of(partitions))
        # Store and commit what is in hand before the partitions go to another member;
        # otherwise it would be stored twice (harmless, but wasted) or, worse, its
        # commit would fail and the other member redeliver it.
        if self._in_flight is not None:
            self._revoke_ok = self._finish_in_flight() and self._revoke_ok

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        self.watch.revoke(partitions_of(partitions))
        # The partitions may already belong to another member: a commit would fail. The
        # batch in hand is still stored (idempotently) and its offsets left uncommitted.
        if self._in_flight is not None:
            _, future = self._in_flight
            self._in_flight = None
            self._revoke_ok = future.result() and self._revoke_ok
            self._echo("partitions lost to a rebalance; their last batch will be redelivered and skipped")

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> int:
        """Consume until stopped (exit code 0), idle for ``until_idle_s`` after catching up
        (0), without partitions for ``assignment_timeout_s`` with ``until_idle_s`` set
        (``EXIT_NO_ASSIGNMENT``), or a fatal error."""
        self._revoke_ok = True
        watch = self.watch = AssignmentWatch()
        consumer = self._consumer = self._consumer_factory(
            self.config, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost,
            on_error=self._on_broker_error,
        )
        stats = self.stats
        last_progress = last_position_check = time.monotonic()
        window_start, window_count = last_progress, 0
        warned_waiting = False
        code = 0
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tastevin-ingest-writer")
        try:
            while not self._stop.is_set():
                messages = consumer.consume(num_messages=self.config.batch_size, timeout=0.5)
                if not self._revoke_ok:
                    code = self._stopped_with_database_down()
                    break
                now = time.monotonic()
                ends: dict[Partition, int] = {}
                if messages:
                    messages = self._drop_errors(messages, ends)
                if messages:
                    if stats.first_batch_at is None:
                        stats.first_batch_at = now
                        stats.first_batch_size = len(messages)
                    decoded = self._decode_batch(messages)
                    watch.saw(decoded.next_offsets, ends)
                    # The previous batch was being stored while this one was polled and decoded.
                    if not self._finish_in_flight():
                        code = self._stopped_with_database_down()
                        break
                    self._in_flight = (decoded, executor.submit(self._store, decoded))
                    window_count += len(messages)
                else:
                    watch.saw({}, ends)
                    if watch.assigned and not watch.caught_up() and now - last_position_check >= _POSITION_CHECK_EVERY_S:
                        last_position_check = now
                        self._check_positions(consumer)
                    if self._in_flight is not None:
                        if not self._finish_in_flight():
                            code = self._stopped_with_database_down()
                            break
                    elif self.config.until_idle_s is not None and watch.idle_for() >= self.config.until_idle_s:
                        self._echo(f"idle for {self.config.until_idle_s:g}s after reading every assigned "
                                   "partition to its end; exiting")
                        break
                waited = watch.waiting_for()
                if waited is None:
                    warned_waiting = False
                elif waited >= self.config.assignment_timeout_s and not warned_waiting:
                    warned_waiting = True
                    warning = waiting_warning(topic=self.config.topic, group_id=self.config.group_id,
                                              waited_s=waited, ever_assigned=watch.ever_assigned)
                    if self.config.until_idle_s is not None:
                        self._echo(f"error: {warning}. Exiting with code {EXIT_NO_ASSIGNMENT}: --until-idle "
                                   "needs partitions to read to their end (--assignment-timeout waits longer)")
                        code = EXIT_NO_ASSIGNMENT
                        break
                    self._echo(f"warning: {warning}")
                if now - last_progress >= self.config.progress_every_s:
                    if waited is not None:
                        self._echo(f"ingest: waiting for partitions of topic {self.config.topic} in group "
                                   f"{self.config.group_id} for {waited:.0f} s, {stats.consumed:,} consumed")
                    else:
                        rate = window_count / max(now - window_start, 1e-9)
                        self._echo(
                            f"ingest: {rate:,.0f} records/s, {stats.consumed:,} consumed, "
                            f"{stats.dead_lettered:,} dead-lettered, lag {self._lag(consumer)}"
                        )
                    last_progress = window_start = now
                    window_count = 0
            if code in (0, EXIT_NO_ASSIGNMENT) and not self._finish_in_flight():
                code = self._stopped_with_database_down()
        finally:
            if self._in_flight is not None:  # an exception left a write running: end it soon
                self._stop.set()  # (a write retrying against a dead database gives up)
                self._in_flight = None
            executor.shutdown(wait=True)
            try:
                consumer.close()
            except Exception as exc:  # noqa: BLE001 - closing a consumer to a dead broker
                logger.debug("consumer close failed: %s", exc)
            self._consumer = None
        self._echo(
            f"ingest stopped: {stats.consumed:,} consumed, {stats.dead_lettered:,} dead-lettered "
            f"in {time.monotonic() - stats.started:.1f}s"
        )
        return code

    def _stopped_with_database_down(self) -> int:
        self._echo("stopping with the database still down; the batch will be redelivered")
        return 1

    def _drop_errors(self, messages: list[Any], ends: dict[Partition, int]) -> list[Any]:
        """Messages carrying a client event instead of a record: fatal ones raise, a
        partition's end is noted in ``ends`` (its offset), the others (a broker gone for
        a moment) are reported; none is kept."""
        if all(message.error() is None for message in messages):
            return messages
        from confluent_kafka import KafkaError, KafkaException

        kept = []
        for message in messages:
            error = message.error()
            if error is None:
                kept.append(message)
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() == KafkaError._PARTITION_EOF:
                ends[(message.topic(), message.partition())] = message.offset()
            else:
                self._on_broker_error(error)
        return kept

    def _check_positions(self, consumer: Any) -> None:
        """The fallback for a missed end event: positions against cached high watermarks."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            assigned = [TopicPartition(topic, partition) for topic, partition in self.watch.behind()]
            positions = {(tp.topic, tp.partition): tp.offset for tp in consumer.position(assigned)}
            highs = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, cached=True)[1] for tp in assigned}
        except (KafkaException, RuntimeError) as exc:  # a closed consumer, a partition just revoked
            logger.debug("position check failed: %s", exc)
            return
        self.watch.caught_up_by_position(positions, highs)

    def _on_broker_error(self, error: Any) -> None:
        """librdkafka's error callback (runs on the main thread, inside consume): the
        client reconnects by itself, so this only reports, at most every 10 s."""
        now = time.monotonic()
        if now - self._broker_error_at >= _BROKER_ERROR_EVERY_S:
            self._broker_error_at = now
            self._echo(f"kafka: {error.str() if hasattr(error, 'str') else error}; the client keeps retrying")

    def _commit(self, offsets: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        try:
            self._consumer.commit(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as exc:
            # The rows are stored; a rebalance or broker blip means the batch is redelivered
            # and skipped as duplicates. Nothing is lost.
            self._echo(f"offset commit failed ({exc.args[0].name() if exc.args else exc}); "
                       "the batch will be redelivered and skipped")

    @staticmethod
    def _lag(consumer: Any) -> str:
        try:
            assigned = consumer.assignment()
            if not assigned:
                return "unknown"
            total = 0
            for tp in consumer.position(assigned):
                _, high = consumer.get_watermark_offsets(tp, cached=True)
                if high < 0 or tp.offset < 0:
                    return "unknown"
                total += max(0, high - tp.offset)
            return f"{total:,}"
        except Exception:  # noqa: BLE001 - lag is informational only
            return "unknown"
