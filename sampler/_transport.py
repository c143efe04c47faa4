"""Where encoded records go: Kafka in production, memory in tests and embeddings.

A transport is driven by the sampler's worker thread only. ``send`` may block that
thread briefly (never the host app's threads) and reports by a result value instead
of raising, like OTel exporters: ``ACCEPTED`` (delivery is under way; ``on_done``
will be called exactly once, from any thread, with ``None`` on success or a drop
reason), ``RETRY`` (nothing was taken; the broker is unreachable — back off and offer
the same record again) or ``REJECTED`` (this record can never be sent).

The sampler does not trust a transport to keep this contract: if ``send`` raises, that
record is dropped as ``transport_error`` and the worker goes on; ``on_done`` counts a
record once (later calls are ignored, a reason that is not a string counts as
``delivery_failed``); a ``flush`` or ``close`` that raises is logged, never passed on to
the app. ``in_flight`` is the transport's own view; the sampler keeps its own count.
"""

from __future__ import annotations

import enum
import logging
import threading
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .record import HEADERS

logger = logging.getLogger(__name__)

DoneCallback = Callable[[str | None], None]


class SendResult(enum.Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    REJECTED = "rejected"


class Transport(Protocol):
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult: ...

    def in_flight(self) -> int:
        """Records accepted and not yet reported through ``on_done``."""
        ...

    def flush(self, timeout_s: float) -> bool: ...

    def close(self, timeout_s: float) -> None: ...


class MemoryTransport:
    """Keeps every record in a list. For tests and for apps that want to look at
    what would be sent; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        with self._lock:
            self.messages.append((key, value, list(HEADERS)))
        on_done(None)
        return SendResult.ACCEPTED

    def records(self) -> list[dict[str, Any]]:
        import json

        with self._lock:
            return [json.loads(value) for _, value, _ in self.messages]

    def in_flight(self) -> int:
        return 0

    def flush(self, timeout_s: float) -> bool:
        return True

    def close(self, timeout_s: float) -> None:
        return None


def _trace_id_partitioner_class() -> type:
    from kafka.partitioner.abc import Partitioner

    class TraceIdPartitioner(Partitioner):  # type: ignore[misc, valid-type]
        """Key (trace id) → partition by CRC-32, in C.

        kafka-python's default murmur2 is pure Python and costs ~20 µs a record, a
        third of the worker's budget. Keys only need to be stable per trace.
        """

        def partition(self, topic, key, serialized_key, value, serialized_value, cluster):  # type: ignore[no-untyped-def]
            partitions = cluster.partitions_for_topic(topic)
            if not partitions:
                raise ValueError(f"topic {topic} has no known partitions")
            ordered = sorted(partitions)
            return ordered[zlib.crc32(serialized_key or b"") % len(ordered)]

    return TraceIdPartitioner


class KafkaTransport:
    """Sends to Kafka with kafka-python; the producer is created lazily on first send.

    Creating it lazily, in the worker, with an explicit ``api_version`` means an
    absent broker never blocks the host app's start-up. While the broker is down,
    ``send`` returns ``RETRY`` after at most ``max_block_ms``.
    """

    def __init__(
        self,
        *,
        bootstrap_servers: tuple[str, ...],
        topic: str,
        options: Mapping[str, Any] | None = None,
        max_block_ms: int = 2000,
        max_in_flight: int = 20_000,
    ) -> None:
        self._servers = list(bootstrap_servers)
        self._topic = topic
        self._options = dict(options or {})
        self._max_block_ms = max_block_ms
        self.max_in_flight = max_in_flight
        self._producer: Any = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._errors: Any = None

    # -- producer --------------------------------------------------------------
    def _make_producer(self) -> Any:
        from kafka import KafkaProducer
        from kafka import errors as kafka_errors

        self._errors = kafka_errors
        config: dict[str, Any] = {
            "api_version": (2, 8),
            "acks": 1,
            "enable_idempotence": False,
            "linger_ms": 20,
            "batch_size": 512 * 1024,
            "max_request_size": 4 * 1024 * 1024,
            "max_block_ms": self._max_block_ms,
            "delivery_timeout_ms": 120_000,
            "request_timeout_ms": 15_000,
            "reconnect_backoff_max_ms": 5_000,
            "metrics_enabled": False,
            "client_id": "tastevin-sampler",
            "partitioner": _trace_id_partitioner_class()(),
        }
        config.update(self._options)
        if config.get("enable_idempotence"):
            config["acks"] = "all"
        return KafkaProducer(bootstrap_servers=self._servers, **config)

    def _ensure_producer(self) -> Any:
        if self._producer is None:
            self._producer = self._make_producer()
        return self._producer

    # -- Transport ---------------------------------------------------------------
    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        try:
            producer = self._ensure_producer()
        except Exception as exc:  # noqa: BLE001 - config/network errors at creation
            logger.warning("tastevin: cannot create the Kafka producer (%s: %s)", type(exc).__name__, exc)
            return SendResult.RETRY
        errors = self._errors
        try:
            future = producer.send(self._topic, value=value, key=key, headers=HEADERS)
        except errors.KafkaTimeoutError:
            return SendResult.RETRY  # no metadata within max_block_ms: broker unreachable
        except (errors.MessageSizeTooLargeError, ValueError, TypeError) as exc:
            logger.warning("tastevin: record rejected by the producer (%s)", type(exc).__name__)
            return SendResult.REJECTED
        except errors.KafkaError as exc:
            logger.debug("tastevin: send failed, will retry: %s", exc)
            return SendResult.RETRY
        with self._lock:
            self._in_flight += 1

        def ok(_metadata: Any) -> None:
            with self._lock:
                self._in_flight -= 1
            on_done(None)

        def failed(exc: BaseException) -> None:
            with self._lock:
                self._in_flight -= 1
            on_done("delivery_failed")

        future.add_callback(ok)
        future.add_errback(failed)
        return SendResult.ACCEPTED

    def in_flight(self) -> int:
        return self._in_flight

    def flush(self, timeout_s: float) -> bool:
        if self._producer is None:
            return True
        try:
            self._producer.flush(timeout=timeout_s)
        except Exception as exc:  # noqa: BLE001 - KafkaTimeoutError and friends
            logger.debug("tastevin: flush did not finish: %s", exc)
            return False
        return self._in_flight == 0

    def close(self, timeout_s: float) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=timeout_s)
            except Exception as exc:  # noqa: BLE001
                logger.debug("tastevin: producer close failed: %s", exc)

    def abandon(self) -> None:
        """Forget the producer without touching it (after fork: it belongs to the parent)."""
        self._producer = None
        self._lock = threading.Lock()
        self._in_flight = 0
