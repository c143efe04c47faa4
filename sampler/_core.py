"""The process-wide sampler: decide on the caller's thread, do everything else on a worker.

Threading contract (as in OTel's BatchSpanProcessor):

* ``decide`` and ``offer`` run on the host app's threads. They never block and never
  raise: ``offer`` appends to a bounded deque and sets an event; a full queue drops
  the record and counts ``queue_full``.
* One daemon worker thread converts, redacts, truncates, serialises and sends. It
  survives whatever a converter, the redactor, the serialiser or the transport raises:
  the record in hand is dropped and counted under the step's reason
  (``build_failed``, ``redaction_failed``, ``encode_failed``, ``transport_error``;
  redaction fails closed: nothing unredacted leaves), the failure is logged once per
  kind (reason and exception type), and the loop goes on with the next record.
* Every record the worker takes off the queue is *settled* exactly once: sent, or
  dropped with a reason. ``flush`` returns True only when the queue is empty and
  every record taken has been settled (so none is in the worker's hands, held for a
  retry, or accepted by the transport and not yet reported).
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
from typing import Any, cast

from .redact import Redactor
from ._settings import SamplerSettings
from ._transport import KafkaTransport, SendResult, Transport
from .record import CallFields, build, fit

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
        convert: Callable[[Any], CallFields | None],
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


class _Delivery:
    """The ``on_done`` handed to the transport with one record.

    Settles the record exactly once, whatever the transport does: calls it twice, calls
    it and then raises, returns ``RETRY`` after calling it, or passes a reason that is
    not a string (counted as ``delivery_failed``). Never raises; any thread.
    """

    __slots__ = ("_sampler", "reported")

    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler
        self.reported = False

    def __call__(self, reason: str | None = None) -> None:
        self._sampler._settle(self, reason)


_LOGGED_KINDS_MAX = 64


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
        # Records taken off the queue by the worker, and of those the ones settled (sent or
        # dropped). Both only grow; ``_taken`` is written by the worker alone, before it pops.
        self._taken = 0
        self._settled = 0
        self._settled_all = threading.Condition(self._lock)
        self._flush_waiting = 0  # flush() calls waiting on _settled_all (under _lock)
        self._holding = 0  # 1 while the worker holds a record (stats only)
        self._retry: _Encoded | None = None  # taken, refused with RETRY, offered again after backoff
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
        if key not in self._warned and len(self._warned) < _LOGGED_KINDS_MAX:
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
    def _settle(self, delivery: _Delivery | None, reason: str | None) -> None:
        """A taken record's fate: sent (``reason`` None) or dropped. Never raises."""
        with self._lock:
            if delivery is not None:
                if delivery.reported:
                    return
                delivery.reported = True
            self._settled += 1
            if reason is None:
                self._sent += 1
            else:
                if type(reason) is not str:
                    reason = "delivery_failed"
                self._dropped[reason] = self._dropped.get(reason, 0) + 1
            if self._flush_waiting and self._settled == self._taken:
                self._settled_all.notify_all()

    def _disown(self, delivery: _Delivery) -> bool:
        """The transport took nothing: void its callback. False if it reported anyway."""
        with self._lock:
            if delivery.reported:
                return False
            delivery.reported = True
            return True

    def _lost(self, stage: str, exc: Exception, delivery: _Delivery | None) -> None:
        self._settle(delivery, stage)  # a no-op if the transport reported it before raising
        kind = type(exc).__name__
        # Only the transport's message is logged: redactor and converter errors may quote the text.
        detail = f": {str(exc)[:200]}" if stage == "transport_error" else ""
        self._warn_once(
            f"{stage}:{kind}",
            "tastevin: %s%s in the sampler's worker; the record is dropped and counted as "
            "dropped[%r] (logged once per kind; the worker goes on)",
            kind,
            detail,
            stage,
        )

    def _send(self, item: Pending | _Encoded) -> _Encoded | None:
        """Encode one taken record and hand it to the transport; settle it unless it is to
        be retried (then it is returned). Never raises: this is the worker's one guard."""
        stage = "build_failed"
        delivery: _Delivery | None = None
        try:
            if isinstance(item, _Encoded):
                encoded = item
            else:
                call = item.convert(item.payload)
                if call is None:
                    self._settle(None, "not_a_model_call")
                    return None
                record = cast(
                    dict[str, Any],
                    build(
                        call,
                        sampling=item.sampling,
                        category=item.category,
                        attributes=item.attributes,
                        **self._identity,
                    ),
                )
                stage = "redaction_failed"
                record["redactions"] = self.redactor.redact_record(record)
                stage = "encode_failed"
                encoded = _Encoded(record["trace_id"].encode("ascii"), fit(record, self.settings.max_record_bytes))
            stage = "transport_error"
            delivery = _Delivery(self)
            result = self.transport.send(encoded.key, encoded.value, delivery)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - the worker outlives any converter, redactor, serialiser or transport
            self._lost(stage, exc, delivery)
            return None
        if result is SendResult.RETRY:
            if self._disown(delivery):
                return encoded
        elif result is SendResult.REJECTED:
            self._settle(delivery, "rejected")
        # ACCEPTED (or anything else a transport returns): on_done reports it.
        return None

    def _drain(self, backoff: float) -> float:
        """Send what is queued until the queue is empty or the broker pushes back."""
        queue = self._queue
        transport = self.transport
        assert transport is not None
        sent_any = False
        while True:
            if self._taken - self._settled >= self._max_in_flight:
                transport.flush(0.05)  # producer memory is unbounded: bound it here
                if self._taken - self._settled >= self._max_in_flight:
                    break
            item: Pending | _Encoded | None = self._retry
            if item is None:
                if not queue:
                    break
                # Counted as taken before it leaves the queue: flush() must never see a
                # record that is in neither place.
                self._taken += 1
                try:
                    item = queue.popleft()
                except IndexError:  # shutdown() emptied the queue under us
                    self._settle(None, "shutdown")
                    break
            self._retry = None
            self._holding = 1
            retry = self._send(item)
            self._holding = 0
            if retry is not None:
                if self._stop.is_set():  # shutting down with the broker away: stop trying
                    self._settle(None, "broker_unavailable")
                    backoff = backoff or _BACKOFF_START_S
                else:
                    self._retry = retry
                    backoff = min(_BACKOFF_MAX_S, backoff * 2 or _BACKOFF_START_S)
                    self._warn_once(
                        "broker_down", "tastevin: Kafka unreachable; retrying in the background with backoff"
                    )
                break
            sent_any = True
            backoff = 0.0
        if sent_any:
            self._warned.discard("broker_down")
        return backoff

    def _run(self) -> None:
        backoff = 0.0
        queue = self._queue
        while True:
            if backoff:
                self._stop.wait(backoff)
            else:
                self._wakeup.wait(0.5)
            self._wakeup.clear()
            stopping = self._stop.is_set()
            try:
                backoff = self._drain(backoff)
            except Exception as exc:  # noqa: BLE001 - last line: transport.flush raising, or our own bug
                backoff = min(_BACKOFF_MAX_S, backoff * 2 or _BACKOFF_START_S)
                self._warn_once(
                    f"worker:{type(exc).__name__}",
                    "tastevin: sampler worker error (%s: %s); it goes on after a backoff",
                    type(exc).__name__,
                    str(exc)[:200],
                )
            if not queue and self._retry is None:
                self._drained.set()
            if stopping and (not queue or backoff):
                if self._retry is not None:
                    self._retry = None
                    self._settle(None, "broker_unavailable")
                return

    # -- control ----------------------------------------------------------------------
    def _idle(self) -> bool:
        # Queue first, then settled, then taken: a record moves queue → taken → settled, so
        # an empty queue followed by settled == taken means none was anywhere in between.
        if self._queue:
            return False
        settled = self._settled
        return settled == self._taken

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Block up to ``timeout_s`` until every record offered so far is settled.

        True only when none is left: queued, in the worker's hands, held for a retry,
        or accepted by the transport and not yet reported through ``on_done``.
        Caller's thread; never raises (a transport whose ``flush`` raises makes this
        return False).
        """
        transport, thread = self.transport, self._thread
        if transport is None or thread is None:
            return not self._queue
        deadline = time.monotonic() + timeout_s
        try:
            while not self._idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not thread.is_alive():
                    return False
                if self._queue or self._retry is not None or self._holding:
                    # The worker sets _drained when it has handed everything over.
                    self._drained.clear()
                    self._wakeup.set()
                    if self._queue or self._retry is not None or self._holding:
                        self._drained.wait(min(remaining, 0.25))
                    continue
                transport.flush(min(remaining, 0.25))  # all handed over: let it deliver
                with self._lock:
                    if self._settled != self._taken:
                        self._flush_waiting += 1
                        try:
                            self._settled_all.wait(min(max(0.0, deadline - time.monotonic()), 0.05))
                        finally:
                            self._flush_waiting -= 1
            return True
        except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
            self._warn_once(f"flush:{type(exc).__name__}", "tastevin: flush failed (%s: %s)", type(exc).__name__, exc)
            return False

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
            try:
                self.transport.close(max(0.05, deadline - time.monotonic()))
            except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
                self._warn_once("close", "tastevin: transport close failed (%s: %s)", type(exc).__name__, exc)

    def stats(self) -> dict[str, Any]:
        """Counts since start. ``queued``: waiting or in the worker's hands (a record held
        for a retry included); ``in_flight``: accepted by the transport, not yet reported."""
        with self._lock:
            dropped = dict(self._dropped)
            sent = self._sent
            unsettled = self._taken - self._settled
        held = self._holding or (self._retry is not None)
        return {
            "seen": _count_value(self._seen),
            "sampled": _count_value(self._sampled),
            "sent": sent,
            "dropped": dropped,
            "queued": len(self._queue) + held,
            "in_flight": max(0, unsettled - held),
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
