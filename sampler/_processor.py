"""``SamplingSpanProcessor``: GenAI spans from any instrumentation → records.

Add it with ``TracerProvider.add_span_processor(SamplingSpanProcessor())``. It reads
the spans the anthropic SDK, OpenLLMetry or OpenInference already make, so an app
that is traced needs no wrapper at all.

Threading contract (OTel's): ``on_start`` and ``on_end`` run on the thread that
starts/ends the span and must not block or throw. ``on_end`` tests a span for GenAI
attributes (a few dict lookups; other spans cost next to nothing), takes the
sampling decision from the span's own trace id and enqueues the immutable span;
parsing happens on the sampler's worker.
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode, get_current_span

from ._context import current_tags
from ._core import Pending, Sampler
from ._otel_spans import MODEL_OPERATIONS, is_genai_span, span_to_call
from ._state import IN_WRAPPED_CALL, STATE
from .record import CallFields

_MAX_CLAIMED = 10_000


# The model-call span open in this context, if any (a weak reference: never keeps a span alive).
_OPEN_MODEL_SPAN: ContextVar[weakref.ref[Any] | None] = ContextVar("tastevin_open_model_span", default=None)


def _is_model_call(attributes: Any) -> bool:
    """A span for one model call (not an agent or tool span that contains several)."""
    if not attributes:
        return False
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None:
        return operation in MODEL_OPERATIONS
    return attributes.get("openinference.span.kind") == "LLM"


def _may_be_model_call(attributes: Any) -> bool:
    """Cheap pre-filter for on_end: SDK spans of other API calls (``models.list`` …) carry
    ``gen_ai.provider.name`` but no model operation."""
    operation = attributes.get("gen_ai.operation.name") if attributes else None
    return operation is None or operation in MODEL_OPERATIONS


def _convert(span: ReadableSpan) -> CallFields | None:
    return span_to_call(span)  # None: not a model call after all (e.g. count_tokens)


class SamplingSpanProcessor(SpanProcessor):
    """Samples finished GenAI spans into Tastevin records via the process-wide sampler.

    Calls made through an instrumented client (``sampler.instrument``) are recorded
    by the wrapper; spans started inside such a call are skipped here, so a call seen
    by both is recorded once. Does nothing until ``sampler.init`` has run.
    """

    def __init__(self) -> None:
        self._claimed: set[int] = set()
        self._closed = False
        STATE.processors += 1

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            if IN_WRAPPED_CALL.get():
                self._claim(span)
                return
            if not _is_model_call(span.attributes):
                return
            # Two instrumentations of one call nest: OpenLLMetry's span around the SDK's
            # own, OpenInference's likewise. They do not always make their span current,
            # so the context's parent is not enough: remember the open model-call span in
            # a context variable (per thread and asyncio task) and keep the outermost.
            parent = get_current_span(parent_context)
            if parent.is_recording() and isinstance(parent, ReadableSpan) and _is_model_call(parent.attributes):
                self._claim(span)
                return
            ref = _OPEN_MODEL_SPAN.get()
            outer = ref() if ref is not None else None
            if outer is not None and outer.end_time is None:
                self._claim(span)
                return
            _OPEN_MODEL_SPAN.set(weakref.ref(span))
        except Exception:  # noqa: BLE001 - must not throw into the tracer
            pass

    def _claim(self, span: Span) -> None:
        claimed = self._claimed
        if len(claimed) >= _MAX_CLAIMED:  # spans that never end must not grow this forever
            claimed.clear()
        claimed.add(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if self._claimed:
                span_id = span.context.span_id if span.context is not None else 0
                if span_id in self._claimed:
                    self._claimed.discard(span_id)
                    return
            if not is_genai_span(span) or not _may_be_model_call(span.attributes):
                return
            sampler: Sampler | None = STATE.sampler
            if sampler is None or span.context is None:
                return
            attributes = span.attributes or {}
            tags = current_tags()
            category = attributes.get("tastevin.category")
            if not isinstance(category, str):
                category = tags.category if tags is not None else None
            sampling = sampler.decide(span.context.trace_id, category)
            if sampling is None:
                if not (sampler.sample_errors and span.status.status_code is StatusCode.ERROR):
                    return
                sampling = sampler.error_sampling
            sampler.offer(Pending(_convert, span, category, tags.attributes if tags is not None else {}, sampling))
        except Exception as exc:  # noqa: BLE001 - must not throw into the tracer
            sampler = STATE.sampler
            if sampler is not None:
                sampler.drop("internal_error")
                sampler._warn_once("processor_error", "tastevin: span processor error (%s)", type(exc).__name__)

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            STATE.processors = max(0, STATE.processors - 1)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        sampler = STATE.sampler
        return True if sampler is None else sampler.flush(timeout_millis / 1000.0)
