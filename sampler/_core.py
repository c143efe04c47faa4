"""The process-wide sampler: decide on the caller's thread, do everything else on a worker.

Threading contract (as in OTel's BatchSpanProcessor):

* ``decide`` and ``offer`` run on the host app's threads. They never block and never
  raise: ``offer`` appends to a bounded deque and sets an event; a full queue drops
  the record and counts ``queue_full``.
* One daemon worker thread converts, redacts, truncates, serialises and sends. If
  any step raises for a record, that record is dropped and counted (redaction fails
  closed: nothing unredacted leaves).
* After ``fork`` the child starts with an empty queue, zeroed counters, no producer
  and a fresh worker on first use; the parent's pending records stay the parent's.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from .redact import Redactor
from ._settings import SamplerSettings
from ._transport import KafkaTransport, SendResult, Transport
from .record import build, fit

logger = logging.getLogger(__name__)

_TRACE_ID_MASK = (1 << 64) - 1
_BOUND_SCALE = 1 << 64
_WORKER_BATCH = 512
_BACKOFF_START_S = 0.1
_BACKOFF_MAX_S = 5.0


def _ratio_bound(rate: float) -> int:
    # OTel TraceIdRatioBased: keep when the low 64 bits of the trace id < rate * 2^64.
    return round(rate * _BOUND_SCALE)


def _count_value(counter: itertools.count) -> int:
    # itertools.count is the cheapest thread-safe counter CPython has; read it without advancing.
    return int(repr(counter)[6:-1])


class Pending:
    """What the caller's thread hands to the worker: raw material, converted later."""

    __slots__ = ("convert", "payload", "category", "attributes", "sampling")

    def __init__(
        self,
        convert: Callable[[Any], dict[str, Any] | None],
        payload: Any,
        category: str | None,
        attributes: dict[str, Any],
        sampling: dict[str, Any],
    ) -> None:
        self.convert = convert
        self.payload = payload
        self.category = category
        self.attributes = attributes
        self.sampling = sampling


class _Encoded:
    __slots__ = ("key", "value")

    def __init__(self, key: bytes, value: bytes) -> None:
        self.key = key
        self.value = value


class Sampler:
    """Owns the settings, the queue, the worker and the transport of one process."""

    def __init__(self, settings: SamplerSettings, *, transport: Transport | None = None) -> None:
        self.settings = settings
        self.redactor = Redactor(
            enabled=settings.redact, extra_patterns=dict(settings.redact_patterns), detectors=settings.redactors
        )
        if transport is None and settings.bootstrap_servers:
            transport = KafkaTransport(
                bootstrap_servers=settings.bootstrap_servers, topic=settings.topic, options=settings.kafka
            )
        self.transport = transport
        self.sample_errors = settings.sample_errors
        self._default = (_ratio_bound(settings.rate), {"rate": settings.rate, "rule": "trace_id_ratio"})
        self._by_category = {
            name: (_ratio_bound(rate), {"rate": rate, "rule": f"category:{name}"})
            for name, rate in settings.category_rates.items()
        }
        self.error_sampling = {"rate": 1.0, "rule": "error"}
        self._identity = {"app": settings.app, "env": settings.env, "release": settings.release}
        self._max_in_flight = getattr(transport, "max_in_flight", 20_000)
        self._warned: set[str] = set()
        self._reset_state()
        if transport is None:
            self._warn_once(
                "no_broker",
                "tastevin: no Kafka bootstrap servers configured (set TASTEVIN_KAFKA_BOOTSTRAP_SERVERS "
                "or sampler.init(bootstrap_servers=...)); sampled calls are counted as dropped",
            )
        else:
            self._start_worker()
        ref = weakref.ref(self)

        def after_fork_in_child() -> None:
            sampler = ref()
            if sampler is not None:
                sampler._after_fork()

        os.register_at_fork(after_in_child=after_fork_in_child)
        self._stopped = False

    # -- state ----------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._queue: deque[Pending | _Encoded] = deque()
        self._wakeup = threading.Event()
        self._drained = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seen = itertools.count()
        self._sampled = itertools.count()
        self._sent = 0
        self._dropped: dict[str, int] = {}
        self._busy = 0
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        self._reset_state()
        if isinstance(self.transport, KafkaTransport):
            self.transport.abandon()
        if self.transport is not None and not self._stopped:
            self._start_worker()

    def _start_worker(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tastevin-sampler", daemon=True)
        self._thread.start()

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._dropped[reason] = self._dropped.get(reason, 0) + n

    # -- caller's thread ------------------------------------------------------------
    def decide(self, trace_id: int, category: str | None) -> dict[str, Any] | None:
        """The sampling entry for this trace id and category, or None. Never blocks."""
        return self.decide_low64(trace_id & _TRACE_ID_MASK, category)

    def decide_low64(self, low64: int, category: str | None) -> dict[str, Any] | None:
        """As :meth:`decide`, given only the trace id's low 64 bits (what the rule reads)."""
        next(self._seen)
        entry = self._by_category.get(category, self._default) if category is not None else self._default
        if low64 < entry[0]:
            return entry[1]
        return None

    def offer(self, pending: Pending) -> None:
        """Queue a sampled call for the worker. Never blocks; drops and counts when full."""
        next(self._sampled)
        if self._stopped:
            self.drop("shutdown")
            return
        if self.transport is None:
            self.drop("no_broker")
            return
        queue = self._queue
        if len(queue) >= self.settings.queue_size:
            self.drop("queue_full")
            return
        queue.append(pending)
        self._wakeup.set()

    # -- worker ---------------------------------------------------------------------
    def _encode(self, pending: Pending) -> _Encoded | None:
        try:
            call = pending.convert(pending.payload)
            if call is None:
                self.drop("not_a_model_call")
                return None
            record = build(
                call,
                sampling=pending.sampling,
                category=pending.category,
                attributes=pending.attributes,
                **self._identity,
            )
        except Exception as exc:  # noqa: BLE001 - a bad call shape drops one record, not the worker
            self.drop("build_failed")
            self._warn_once("build_failed", "tastevin: could not build a record (%s); dropped", type(exc).__name__)
            return None
        try:
            record["redactions"] = self.redactor.redact_record(record)
        except Exception as exc:  # noqa: BLE001 - fail closed: never send unredacted text
            self.drop("redaction_failed")
            self._warn_once("redaction_failed", "tastevin: redaction failed (%s); record dropped", type(exc).__name__)
            return None
        try:
            value = fit(record, self.settings.max_record_bytes)
        except Exception as exc:  # noqa: BLE001
            self.drop("encode_failed")
            self._warn_once("encode_failed", "tastevin: could not serialise a record (%s)", type(exc).__name__)
            return None
        return _Encoded(record["trace_id"].encode("ascii"), value)

    def _on_done(self, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                self._sent += 1
            else:
                self._dropped[reason] = self._dropped.get(reason, 0) + 1

    def _run(self) -> None:
        backoff = 0.0
        queue = self._queue
        transport = self.transport
        assert transport is not None
        while True:
            if backoff:
                self._stop.wait(backoff)
            else:
                self._wakeup.wait(0.5)
            self._wakeup.clear()
            stopping = self._stop.is_set()
            sent_any = False
            while queue:
                if transport.in_flight() >= self._max_in_flight:
                    transport.flush(0.05)  # producer memory is unbounded: bound it here
                    if transport.in_flight() >= self._max_in_flight:
                        break
                try:
                    item = queue.popleft()
                except IndexError:
                    break
                self._busy = 1
                encoded = item if isinstance(item, _Encoded) else self._encode(item)
                if encoded is None:
                    self._busy = 0
                    continue
                result = transport.send(encoded.key, encoded.value, self._on_done)
                self._busy = 0
                if result is SendResult.RETRY:
                    if self._stop.is_set():
                        self.drop("broker_unavailable")
                    else:
                        queue.appendleft(encoded)
                        backoff = min(_BACKOFF_MAX_S, backoff * 2 or _BACKOFF_START_S)
                        self._warn_once(
                            "broker_down", "tastevin: Kafka unreachable; retrying in the background with backoff"
                        )
                    break
                if result is SendResult.REJECTED:
                    self.drop("rejected")
                    continue
                sent_any = True
                backoff = 0.0
            if not queue:
                self._drained.set()
            if sent_any:
                self._warned.discard("broker_down")
            if stopping and (not queue or backoff):
                return

    # -- control ----------------------------------------------------------------------
    def flush(self, timeout_s: float = 5.0) -> bool:
        """Send everything queued so far; True when all of it was delivered in time."""
        deadline = time.monotonic() + timeout_s
        if self.transport is None or self._thread is None:
            return not self._queue
        while True:
            self._drained.clear()
            self._wakeup.set()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._drained.wait(min(remaining, 0.25))
            if not self._queue and not self._busy:
                break
            if not self._thread.is_alive():
                return False
        return self.transport.flush(max(0.0, deadline - time.monotonic())) and not self._queue

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush within ``timeout_s``, stop the worker, close the producer.

        Whatever could not be sent in time is counted as dropped (``shutdown``).
        Idempotent; registered at exit by :func:`sampler.init`.
        """
        if self._stopped:
            return
        deadline = time.monotonic() + timeout_s
        self.flush(timeout_s * 0.8)
        self._stopped = True
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        leftover = 0
        while True:
            try:
                self._queue.popleft()
            except IndexError:
                break
            leftover += 1
        if leftover:
            self.drop("shutdown", leftover)
        if self.transport is not None:
            self.transport.close(max(0.05, deadline - time.monotonic()))

    def stats(self) -> dict[str, Any]:
        with self._lock:
            dropped = dict(self._dropped)
            sent = self._sent
        return {
            "seen": _count_value(self._seen),
            "sampled": _count_value(self._sampled),
            "sent": sent,
            "dropped": dropped,
            "queued": len(self._queue) + self._busy,
            "in_flight": self.transport.in_flight() if self.transport is not None else 0,
        }


_atexit_registered = False


def register_atexit(get: Callable[[], Sampler | None]) -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True

        def at_exit() -> None:
            sampler = get()
            if sampler is not None:
                sampler.shutdown(2.0)

        atexit.register(at_exit)
