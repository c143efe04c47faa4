"""Call labels (``tag``) and the trace id a sampling decision is made from.

Both are read on the caller's thread for every LLM call, so they are written for
the unsampled fast path: one ``ContextVar.get`` each, no allocation.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context

_SCALARS = (str, int, float, bool)


class Tags:
    """The labels in force: a category and free-form scalar attributes. Immutable."""

    __slots__ = ("category", "attributes")

    def __init__(self, category: str | None, attributes: Mapping[str, Any]) -> None:
        self.category = category
        self.attributes = dict(attributes)


_TAGS: ContextVar[Tags | None] = ContextVar("tastevin_tags", default=None)
current_tags = _TAGS.get


@contextmanager
def tag(category: str | None = None, **attributes: Any) -> Iterator[None]:
    """Label every LLM call made inside the block (this thread or asyncio task).

    Nested blocks inherit and override: the innermost category wins and attributes
    merge. Attribute values must be str, int, float or bool (others are stringified).
    Never raises for odd values: labels are metadata, not control flow.
    """
    outer = _TAGS.get()
    merged: dict[str, Any] = dict(outer.attributes) if outer is not None else {}
    for key, value in attributes.items():
        merged[str(key)] = value if isinstance(value, _SCALARS) or value is None else str(value)
    if category is None and outer is not None:
        category = outer.category
    token = _TAGS.set(Tags(None if category is None else str(category), merged))
    try:
        yield
    finally:
        _TAGS.reset(token)


from opentelemetry.trace.propagation import _SPAN_KEY  # the key OTel stores the current span under


def _context_getter() -> Any:
    """The fastest correct way to read OTel's current Context.

    ``opentelemetry.context.get_current()`` costs ~0.4 µs through its runtime-context
    indirection; the default runtime keeps the Context in one ContextVar, read directly
    here when that is what is configured (else the public API).
    """
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime).__name__ == "ContextVarsRuntimeContext" and isinstance(var, ContextVar):
        return var.get
    return otel_context.get_current


_get_context = _context_getter()
_randbits = random.getrandbits


def current_span_ids() -> tuple[int, int | None] | None:
    """The current OTel span context's (trace_id, span_id), or None outside any span."""
    span: Any = _get_context().get(_SPAN_KEY)
    if span is not None:
        ctx = span.get_span_context()
        if ctx.trace_id:
            return ctx.trace_id, ctx.span_id or None
    return None


def trace_id_with_low_bits(low64: int) -> int:
    """A fresh random trace id whose low 64 bits (the ones sampling reads) are ``low64``."""
    return (_randbits(64) << 64) | low64 or 1


def current_trace_ids() -> tuple[int, int | None]:
    """The current OTel span context's (trace_id, span_id), or a fresh random trace id.

    Deciding from the trace id (as OTel's TraceIdRatioBased does) makes every service
    and every instrumentation agree on which traces are kept.
    """
    ids = current_span_ids()
    return ids if ids is not None else (_randbits(128) or 1, None)
