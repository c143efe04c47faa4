"""Tastevin sampler: capture ~1% of live LLM calls into Kafka, without hurting the app.

Typical use::

    import anthropic, sampler

    sampler.init(app="support-bot", bootstrap_servers="kafka:9092")
    client = sampler.instrument(anthropic.Anthropic())
    with sampler.tag(category="billing", prompt_version="v7"):
        client.messages.create(model=..., max_tokens=..., messages=[...])

or, for an app already traced with OpenTelemetry::

    provider.add_span_processor(sampler.SamplingSpanProcessor())

Depends only on the standard library, OpenTelemetry and kafka-python. Nothing here
raises into the host app after ``init``: failures are logged once and counted in
``stats()``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from ._state import STATE

if TYPE_CHECKING:
    from ._anthropic import instrument
    from ._context import tag
    from ._core import Sampler
    from ._manual import record_call
    from ._processor import SamplingSpanProcessor
    from ._settings import SamplerSettings
    from ._transport import KafkaTransport, MemoryTransport, SendResult, Transport
    from .record import SCHEMA, json_schema

# The public names are loaded on first use (PEP 562): importing ``sampler`` or one of its
# public modules (``sampler.redact``, ``sampler.record``) loads neither the OpenTelemetry
# SDK nor the Kafka client, so the judge can use the redactor without them.
_LAZY = {
    "SCHEMA": "record",
    "KafkaTransport": "_transport",
    "MemoryTransport": "_transport",
    "Sampler": "_core",
    "SamplerSettings": "_settings",
    "SamplingSpanProcessor": "_processor",
    "SendResult": "_transport",
    "Transport": "_transport",
    "instrument": "_anthropic",
    "json_schema": "record",
    "record_call": "_manual",
    "tag": "_context",
}

__all__ = [
    "SCHEMA",
    "KafkaTransport",
    "MemoryTransport",
    "Sampler",
    "SamplerSettings",
    "SamplingSpanProcessor",
    "SendResult",
    "Transport",
    "flush",
    "init",
    "instrument",
    "json_schema",
    "record_call",
    "shutdown",
    "stats",
    "tag",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

logger = logging.getLogger(__name__)
_init_lock = threading.Lock()
_metrics_registered = False


def init(*, transport: Transport | None = None, redactors: Any = None, **settings: Any) -> Sampler | None:
    """Configure the process-wide sampler and return it.

    Settings come from these keyword arguments, then ``TASTEVIN_*`` environment
    variables, then defaults (see :class:`SamplerSettings` for the full list). An
    unknown or invalid argument raises ``ValueError``; an invalid environment value is
    logged and ignored. Calling ``init`` again replaces the sampler (the old one is
    flushed and shut down). ``transport`` replaces Kafka (e.g. ``MemoryTransport()``).
    Without bootstrap servers the sampler warns once and counts sampled calls as
    dropped (``no_broker``). ``redactors`` adds detectors (``str -> [(start, end, kind)]``,
    e.g. a named-entity recogniser) after the built-in ones; one that fails replaces the
    string with ``[REDACTED:redactor_failed]`` (see :class:`sampler.redact.Redactor`).
    Never blocks on the network.
    """
    from ._core import Sampler, register_atexit
    from ._metrics import register_metrics
    from ._settings import resolve_settings

    global _metrics_registered
    if redactors is not None:
        settings["redactors"] = redactors
    resolved = resolve_settings(settings)
    with _init_lock:
        old = STATE.sampler
        new = Sampler(resolved, transport=transport) if resolved.enabled else None
        STATE.sampler = new
        if old is not None:
            old.shutdown(2.0)
        register_atexit(lambda: STATE.sampler)
        if not _metrics_registered:
            _metrics_registered = True
            register_metrics(stats)
    if new is None:
        logger.info("tastevin: sampler disabled (TASTEVIN_ENABLED=false)")
        # A disabled sampler still answers stats()/flush() through a None check.
    return new


def flush(timeout_s: float = 5.0) -> bool:
    """Block up to ``timeout_s`` until queued records are delivered; True if all were."""
    sampler = STATE.sampler
    return True if sampler is None else sampler.flush(timeout_s)


def shutdown(timeout_s: float = 5.0) -> None:
    """Flush, stop the worker and close the producer. Also runs at interpreter exit."""
    sampler = STATE.sampler
    if sampler is not None:
        sampler.shutdown(timeout_s)


def stats() -> dict[str, Any]:
    """Counts since ``init``: seen, sampled, sent, dropped by reason, queued, in_flight."""
    sampler = STATE.sampler
    if sampler is None:
        return {"seen": 0, "sampled": 0, "sent": 0, "dropped": {}, "queued": 0, "in_flight": 0}
    return sampler.stats()
