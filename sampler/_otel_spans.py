"""Finished OpenTelemetry GenAI spans → wire-record fields (parsing only; no queueing, no I/O).

:func:`is_genai_span` is the cheap filter a ``SpanProcessor.on_end`` can run on every span;
:func:`span_to_call` turns one LLM-call span into the record fields of Contract 1. Both are pure
and may run on any thread. ``span_to_call`` never raises for odd attribute values (wrong types,
bad JSON, malformed message shapes): such fields degrade to ``None`` or empty.

What the installed producers write (read from their source, and checked against the spans they
emit in ``tests/sampler/test_otel_spans.py``):

anthropic SDK 2.12 — its own spans (``anthropic/_tracing.py``, ``anthropic/lib/_tracing/``)
    On by default for every client once a real tracer provider exists: the global one, or
    ``open_telemetry={"tracer_provider": tp}``. Off with ``open_telemetry=False`` or
    ``ANTHROPIC_OPEN_TELEMETRY=false``. One CLIENT span per API call (retries included),
    named ``anthropic.<resource>.<method>``; *every* call (``skills.list`` ...) carries
    ``gen_ai.provider.name``, but only ``anthropic.messages.create`` carries
    ``gen_ai.operation.name = "chat"``. Attributes: ``gen_ai.request.model``,
    ``gen_ai.request.max_tokens``, ``gen_ai.request.stream``, ``gen_ai.response.id``,
    ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` (input + cache read + cache write),
    ``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens``,
    ``gen_ai.usage.cache_write.input_tokens`` (sic, not ``cache_creation``),
    ``anthropic.message.stop_reason`` (raw Anthropic value; no ``gen_ai.response.finish_reasons``),
    ``gen_ai.response.time_to_first_chunk`` (seconds, streams only), ``error.type`` on failure
    (status ERROR without a description, no exception event). No sampling params are recorded
    (the 2.x API has no temperature/top_p/top_k parameters at all). Content is recorded only
    with ``open_telemetry={"traces": {"content_mode": "content"}}`` or
    ``ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE=content`` (default ``metadata_only``):
    then ``gen_ai.system_instructions``, ``gen_ai.input.messages``, ``gen_ai.output.messages``
    (JSON strings, semconv shapes, no ``finish_reason`` in output messages) and
    ``gen_ai.request.stop_sequences``, capped by ``max_content_bytes`` (750 000; sets
    ``anthropic.content.truncated``). ``create(stream=True)`` read without a helper records no
    output messages; ``messages.stream(...)`` does.

OpenLLMetry (opentelemetry-instrumentation-anthropic 0.62, works with anthropic 2.x)
    CLIENT span ``anthropic.chat`` (``anthropic.completion`` for the legacy API) with
    ``gen_ai.provider.name``, ``gen_ai.operation.name``, ``gen_ai.request.model``,
    ``gen_ai.request.max_tokens`` (temperature/top_p/penalties only if passed as kwargs, which
    2.x does not accept), ``gen_ai.is_streaming``, ``gen_ai.response.model``/``.id``,
    ``gen_ai.response.finish_reasons`` (already mapped: end_turn → stop),
    ``gen_ai.usage.input_tokens`` (input + cache read + cache creation),
    ``gen_ai.usage.output_tokens``, ``gen_ai.usage.total_tokens``,
    ``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.cache_creation.input_tokens``;
    errors: status ERROR with ``str(exc)``, ``error.type`` = exception class name, an exception
    event. Content as JSON-string ``gen_ai.system_instructions``/``gen_ai.input.messages``/
    ``gen_ai.output.messages`` (output messages carry ``finish_reason``) unless
    ``TRACELOOP_TRACE_CONTENT=false`` (default true; a context key
    ``override_enable_content_tracing`` forces it on). No time-to-first-token. The indexed
    ``gen_ai.prompt.N.*``/``gen_ai.completion.N.*`` style is no longer written (still parsed
    here, for older versions, with ``gen_ai.usage.prompt_tokens``/``completion_tokens`` and
    ``gen_ai.usage.cache_read_input_tokens``/``cache_creation_input_tokens``).
    ``AnthropicInstrumentor(use_attributes=False)`` moves content to ``gen_ai.*.message`` /
    ``gen_ai.choice`` *log records* (Logs API), which a span processor never sees: the span then
    has no content. Known bugs: streamed calls report output tokens + 1 (it adds
    ``message_start``'s placeholder count to ``message_delta``'s cumulative one); its span is
    never made current, so with the SDK's own tracing also on, one call yields two root spans
    in two unrelated traces.

OpenInference (openinference-instrumentation-anthropic 3.1, works with anthropic 2.x)
    INTERNAL span ``messages.create``/``messages.stream``/``messages.parse`` (``beta.`` prefixed
    for beta) with ``openinference.span.kind = "LLM"``, ``llm.provider`` (hosting platform:
    anthropic, aws, google, azure), ``llm.system``, ``llm.request.model_name``,
    ``llm.response.model_name``, ``llm.model_name``, ``llm.invocation_parameters`` (JSON of the
    prepared body, so ``extra_body`` params appear), flattened
    ``llm.input_messages.N.message.*`` (the ``system=`` prompt as message 0 with role
    ``system``; tool results as role ``tool`` messages) and ``llm.output_messages.N.message.*``,
    ``llm.finish_reason`` (raw Anthropic value), ``llm.token_count.prompt`` (input + cache),
    ``llm.token_count.completion``, ``llm.token_count.prompt_details.cache_read``/``cache_write``
    (omitted when 0), ``input.value``/``output.value``. Errors: status ERROR with ``str(exc)``
    and an exception event, no ``error.type``. ``messages.count_tokens`` spans are LLM spans
    too (skipped here by name). Content is on by default; ``TraceConfig``/``OPENINFERENCE_HIDE_*``
    env vars (e.g. ``OPENINFERENCE_HIDE_INPUTS``) redact it. ``TraceConfig(enable_genai_semconv=
    True)`` / ``OPENINFERENCE_ENABLE_GENAI_SEMCONV=true`` adds converted ``gen_ai.*`` attributes
    (whose ``gen_ai.request.model`` is the *response* model, so ``llm.request.model_name`` wins).
    No time-to-first-token for Anthropic (the OpenAI instrumentation adds a
    ``First Token Stream Event`` span event, which is read here).

Record conventions chosen here: ``usage.input_tokens`` is the *uncached* input (Anthropic's
meaning, as the middleware path records it), so cache read/write counts are subtracted from the
inclusive totals all three producers write; ``finish_reason`` is the semconv value
(``end_turn`` → ``stop``); system-role input messages move to ``system_instructions``; inline
binary data (base64 images/documents) is never copied into a part.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import StatusCode

from ._semconv import (
    anthropic_block_to_part,
    empty_usage,
    finish_reason_from_anthropic,
    normalize_messages,
    normalize_parts,
)
from .record import CallFields, ErrorInfo, Usage, error_info, rfc3339

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["is_genai_span", "span_to_call"]

_OI_KIND = "openinference.span.kind"
_ANY_MARKER = frozenset(
    ("gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name", "gen_ai.request.model", _OI_KIND)
)
# Operations that are one model call (not an agent or tool span that contains several).
MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_LEGACY_REQUEST_TYPES = {"chat": "chat", "completion": "text_completion"}
# Without an operation name, one of these says the span is a model call (older OpenLLMetry).
_CALL_EVIDENCE = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.0.content",
)

_FLOAT_PARAMS = ("temperature", "top_p", "frequency_penalty", "presence_penalty")
_INT_PARAMS = ("max_tokens", "top_k", "seed")
_LEGACY_PARAMS = {
    "llm.top_k": "top_k",
    "llm.frequency_penalty": "frequency_penalty",
    "llm.presence_penalty": "presence_penalty",
    "llm.chat.stop_sequences": "stop_sequences",
    "gen_ai.openai.request.seed": "seed",
}
_INVOCATION_ALIASES = {"stop": "stop_sequences", "max_completion_tokens": "max_tokens", "max_output_tokens": "max_tokens"}

_INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
_OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
_CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
_CACHE_WRITE_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
_FINISH_REASON_KEYS = (
    "gen_ai.response.finish_reasons",
    "anthropic.message.stop_reason",
    "llm.finish_reason",
    "gen_ai.response.finish_reason",
    "gen_ai.response.stop_reason",
    "llm.response.finish_reason",
    "llm.response.stop_reason",
    "gen_ai.completion.0.finish_reason",
)
_TTFT_SECONDS_KEYS = ("gen_ai.response.time_to_first_chunk", "gen_ai.server.time_to_first_token")
_TTFT_EVENTS = frozenset({"First Token Stream Event", "gen_ai.content.completion.chunk", "llm.content.completion.chunk"})

# Indexed (flattened) message attributes: OpenInference, then OpenLLMetry before the JSON style.
_OI_INPUT, _OI_OUTPUT = "llm.input_messages.", "llm.output_messages."
_LEGACY_INPUT, _LEGACY_OUTPUT = "gen_ai.prompt.", "gen_ai.completion."
_INDEXED_PREFIXES = (_OI_INPUT, _OI_OUTPUT, _LEGACY_INPUT, _LEGACY_OUTPUT)
_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_SEMCONV_PART_TYPES = frozenset(
    {"reasoning", "tool_call", "tool_call_response", "server_tool_call", "server_tool_call_response", "uri", "blob", "file"}
)
_SDK_PLACEHOLDERS = {"anthropic_image": "image", "anthropic_document": "document"}
# The normalize helpers trust their input's shape; span attributes are untrusted, so a shape they
# cannot walk (e.g. a tool_result whose content is a number) degrades to "no content".
_SHAPE_ERRORS = (TypeError, ValueError, AttributeError, RecursionError)
_YEAR_10000_NS = 253_402_300_800 * 1_000_000_000


def is_genai_span(span: ReadableSpan) -> bool:
    """Whether ``span`` looks like a GenAI span. Pure, and cheap enough for every ``on_end``.

    True when the span has ``gen_ai.operation.name``, ``gen_ai.system``, ``gen_ai.provider.name``
    or ``gen_ai.request.model``, or OpenInference ``openinference.span.kind == "LLM"``. A True
    here does not mean :func:`span_to_call` returns a call (the SDK marks every API call).
    """
    attrs = span.attributes
    # Set operations iterate the keys in C; ``key in attrs`` would not: on the SDK's attribute
    # mapping every miss raises and catches a KeyError.
    if attrs is None or _ANY_MARKER.isdisjoint(attrs):
        return False
    found = _ANY_MARKER.intersection(attrs)
    if len(found) > 1 or _OI_KIND not in found:
        return True
    kind = attrs[_OI_KIND]
    return isinstance(kind, str) and kind.upper() == "LLM"


def span_to_call(span: ReadableSpan) -> CallFields | None:
    """The record fields of a finished LLM-call span, or ``None`` for any other span.

    ``None`` for non-GenAI spans, OpenInference non-LLM spans (CHAIN, TOOL, EMBEDDING ...),
    operations other than chat/text_completion/generate_content (embeddings, execute_tool,
    invoke_agent ...), token-counting spans, SDK API calls that are not model calls, and spans
    without a span context or a valid start time (no record can name them). Pure; never raises
    for odd attribute values. Missing values take the same defaults as the other capture paths
    (``request_model`` ``"unknown"``, ``latency_ms`` 0.0); error text is capped by
    :func:`sampler.record.build`, as on every path.
    """
    if not is_genai_span(span):
        return None
    a = dict(span.attributes or {})
    operation = _operation(a, span.name)
    if operation is None:
        return None
    start, end = span.start_time, span.end_time
    ctx = span.context
    ts = _rfc3339(start)
    if ctx is None or ts is None:
        return None
    events = tuple(span.events or ())
    finish_reason = _finish_reason(a)
    system, inputs, outputs = _messages(a, events)
    if finish_reason is None:
        reasons = [reason for m in outputs if (reason := _str_or_none(m.get("finish_reason")))]
        finish_reason = finish_reason_from_anthropic(reasons[0]) if reasons else None
    for message in outputs:
        own = _str_or_none(message.get("finish_reason"))
        message["finish_reason"] = finish_reason_from_anthropic(own) if own else finish_reason
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "ts": ts,
        "provider": _provider(a),
        "operation": operation,
        # OpenInference's own request model first: its gen_ai.* dual-write puts the response model there.
        "request_model": _first_str(a, ("llm.request.model_name", "gen_ai.request.model", "llm.model_name"))
        or "unknown",
        "response_model": _first_str(a, ("gen_ai.response.model", "llm.response.model_name")),
        "params": _params(a),
        "system_instructions": system,
        "input_messages": inputs,
        "output_messages": outputs,
        "finish_reason": finish_reason,
        "usage": _usage(a),
        "latency_ms": _latency_ms(start, end) or 0.0,
        "ttft_ms": _ttft_ms(a, events, start),
        "error": _error(span, a, events),
        "category": _category(a.get("tastevin.category")),
        "attributes": {},
    }


# -- what kind of span -----------------------------------------------------------------------------


def _operation(a: Mapping[str, Any], name: Any) -> str | None:
    if isinstance(name, str) and name.endswith("count_tokens"):
        return None
    op = a.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        return op.lower() if op.lower() in MODEL_OPERATIONS else None
    kind = a.get(_OI_KIND)
    if isinstance(kind, str) and kind:
        return "chat" if kind.upper() == "LLM" else None
    request_type = a.get("llm.request.type")
    if isinstance(request_type, str) and request_type:
        return _LEGACY_REQUEST_TYPES.get(request_type.lower())
    return "chat" if any(key in a for key in _CALL_EVIDENCE) else None


def _provider(a: Mapping[str, Any]) -> str:
    value = _first_str(a, ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"))
    return value.lower() if value else "unknown"


# -- scalars ---------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_int(value: Any) -> int | None:
    if _is_int(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (digits := value.strip()).isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _first_str(a: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = a.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _first_count(a: Mapping[str, Any], keys: Iterable[str]) -> int | None:
    for key in keys:
        count = _as_int(a.get(key))
        if count is not None and count >= 0:
            return count
    return None


def _loads(value: Any) -> Any:
    """``value`` decoded if it is a JSON string, else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return None


def _rfc3339(ns: Any) -> str | None:
    # The shared formatter, for the years RFC 3339 can write (a span's start is untrusted).
    if not _is_int(ns) or not 0 <= ns < _YEAR_10000_NS:
        return None
    return rfc3339(ns)


def _latency_ms(start: int | None, end: int | None) -> float | None:
    if isinstance(start, int) and isinstance(end, int) and end >= start:
        return (end - start) / 1e6
    return None


def _category(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


# -- request, usage, timing, error -----------------------------------------------------------------


def _param(name: str, value: Any) -> Any:
    if name in _FLOAT_PARAMS:
        return _as_number(value)
    if name in _INT_PARAMS:
        return value if _is_int(value) else None
    if name == "stop_sequences":
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value):
            return list(value)
    return None


def _params(a: Mapping[str, Any]) -> dict[str, Any]:
    candidates: list[tuple[str, Any]] = [(name, a.get(f"gen_ai.request.{name}")) for name in (*_FLOAT_PARAMS, *_INT_PARAMS)]
    candidates.append(("stop_sequences", a.get("gen_ai.request.stop_sequences")))
    candidates += [(name, a.get(key)) for key, name in _LEGACY_PARAMS.items()]
    invocation = a.get("llm.invocation_parameters")
    invocation = _loads(invocation) if isinstance(invocation, str) else invocation
    if isinstance(invocation, Mapping):
        candidates += [(_INVOCATION_ALIASES.get(str(k), str(k)), v) for k, v in invocation.items()]
    params: dict[str, Any] = {}
    for name, value in candidates:
        if name not in params and (clean := _param(name, value)) is not None:
            params[name] = clean
    return params


def _usage(a: Mapping[str, Any]) -> Usage:
    usage = empty_usage()
    total_input = _first_count(a, _INPUT_TOKENS)
    cache_read = _first_count(a, _CACHE_READ_TOKENS)
    cache_write = _first_count(a, _CACHE_WRITE_TOKENS)
    if total_input is not None:
        # Every producer above counts cached tokens inside the input total (as semconv says);
        # a result below zero means this one did not, so its number is kept as it is.
        uncached = total_input - (cache_read or 0) - (cache_write or 0)
        usage["input_tokens"] = uncached if uncached >= 0 else total_input
    usage["output_tokens"] = _first_count(a, _OUTPUT_TOKENS)
    usage["cache_read_input_tokens"] = cache_read
    usage["cache_write_input_tokens"] = cache_write
    return usage


def _finish_reason(a: Mapping[str, Any]) -> str | None:
    for key in _FINISH_REASON_KEYS:
        value = a.get(key)
        if isinstance(value, (list, tuple)):
            value = next((v for v in value if isinstance(v, str) and v), None)
        if isinstance(value, str) and value:
            return finish_reason_from_anthropic(value)
    return None


def _ttft_ms(a: Mapping[str, Any], events: tuple[Any, ...], start: int | None) -> float | None:
    for key in _TTFT_SECONDS_KEYS:
        seconds = _as_number(a.get(key))
        if seconds is not None and seconds >= 0:
            return seconds * 1000.0
    if not isinstance(start, int):
        return None
    for event in events:
        stamp = getattr(event, "timestamp", None)
        if getattr(event, "name", None) in _TTFT_EVENTS and isinstance(stamp, int) and stamp >= start:
            return (stamp - start) / 1e6
    return None


def _error(span: ReadableSpan, a: Mapping[str, Any], events: tuple[Any, ...]) -> ErrorInfo | None:
    status = span.status
    if status is None or status.status_code is not StatusCode.ERROR:
        return None
    exception: Mapping[str, Any] = next(
        (e.attributes or {} for e in events if getattr(e, "name", None) == "exception"), {}
    )
    error_type = _first_str(a, ("error.type",)) or _first_str(exception, ("exception.type",))
    message = status.description or _first_str(exception, ("exception.message",))
    # "_OTHER" is the semconv error.type for an error without a more specific type.
    return error_info(error_type or "_OTHER", message)


# -- messages --------------------------------------------------------------------------------------


def _messages(
    a: Mapping[str, Any], events: tuple[Any, ...]
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]], list[dict[str, Any]]]:
    system = _system_parts(a.get("gen_ai.system_instructions"))
    inputs = _json_messages(a.get("gen_ai.input.messages"), "user")
    outputs = _json_messages(a.get("gen_ai.output.messages"), "assistant")
    if not inputs or not outputs:
        buckets = _indexed(a)
        inputs = inputs or _oi_messages(buckets[_OI_INPUT], "user") or _legacy_messages(buckets[_LEGACY_INPUT], "user")
        outputs = (
            outputs
            or _oi_messages(buckets[_OI_OUTPUT], "assistant")
            or _legacy_messages(buckets[_LEGACY_OUTPUT], "assistant")
        )
    inputs = inputs or _json_messages(a.get("gen_ai.prompt"), "user")
    outputs = outputs or _json_messages(a.get("gen_ai.completion"), "assistant")
    if not inputs and not outputs and events:
        inputs, outputs = _event_messages(events)
    system_from_inputs = [p for m in inputs if m["role"] == "system" for p in m["parts"]]
    if system_from_inputs:
        inputs = [m for m in inputs if m["role"] != "system"]
        system = (system or []) + system_from_inputs
    return system or None, inputs, outputs


def _clean_part(part: Any) -> dict[str, Any]:
    """A part as shipped: a dict with a ``type``, and never inline binary data."""
    if isinstance(part, str):
        return {"type": "text", "content": part}
    if not isinstance(part, Mapping):
        return {"type": "unknown", "content": None}
    kind = _str_or_none(part.get("type"))
    if kind in ("image", "document") and isinstance(part.get("source"), Mapping):
        return anthropic_block_to_part(part)  # an Anthropic block a producer left as it was
    if kind in _SDK_PLACEHOLDERS:  # the SDK keeps only the type of these blocks
        return {"type": "blob", "modality": _SDK_PLACEHOLDERS[kind], "mime_type": None, "content": None}
    cleaned = dict(part)
    if kind == "blob":
        cleaned["content"] = None
    elif kind == "tool_call_response" and (blocks := _blocks(part.get("response"))) is not None:
        # The SDK records a tool result's content as Anthropic blocks; the record carries parts.
        cleaned["response"] = [_part_from_block(b) for b in blocks]
    if kind is None:
        cleaned["type"] = "unknown"
    return cleaned


def _part_from_block(block: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic content block, or a semconv part, → a clean semconv part."""
    kind = block.get("type")
    if kind in _SEMCONV_PART_TYPES or (kind == "text" and "content" in block and "text" not in block):
        return _clean_part(block)
    try:
        return _clean_part(anthropic_block_to_part(block))
    except _SHAPE_ERRORS:
        return {"type": kind, "content": None}


def _clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for message in messages:
        if not isinstance(message.get("role"), str):
            message["role"] = "user"
        message["parts"] = [_clean_part(p) for p in message.get("parts") or ()]
    return messages


def _system_parts(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, (list, tuple)):
        decoded: Any = list(value)  # an array attribute, or a structured value
    elif isinstance(value, str) and value:
        decoded = _loads(value)
        if isinstance(decoded, Mapping):
            decoded = [decoded]
        elif not isinstance(decoded, list):
            decoded = [value]  # plain text
    else:
        return None
    parts: list[dict[str, Any]] = []
    for p in decoded:
        if not isinstance(p, (str, Mapping)):
            continue
        if isinstance(p, Mapping) and _str_or_none(p.get("type")) in _SEMCONV_PART_TYPES:
            parts.append(_clean_part(p))  # normalize_parts would wrap these in a text-like part
            continue
        try:
            parts += [_clean_part(q) for q in normalize_parts([p]) or ()]
        except _SHAPE_ERRORS:
            continue
    return parts or None


def _json_messages(value: Any, default_role: str) -> list[dict[str, Any]]:
    """Messages from a JSON string attribute or, as OTel 1.45 allows, a structured value."""
    decoded: Any = value
    if isinstance(value, str):
        decoded = _loads(value) if value else []
        if decoded is None:
            decoded = [value]  # plain text
    if isinstance(decoded, Mapping):
        decoded = [decoded]
    if not isinstance(decoded, (list, tuple)):
        return []
    messages: list[dict[str, Any]] = []
    for m in decoded:
        if isinstance(m, str):
            m = {"role": default_role, "content": m}
        elif not isinstance(m, Mapping):
            continue
        elif "role" not in m:
            m = {"role": default_role, **m}
        try:  # one message at a time, so one malformed message loses only itself
            messages += normalize_messages([m])
        except _SHAPE_ERRORS:
            continue
    return _clean_messages(messages)


def _indexed(a: Mapping[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """``prefix.N.rest = value`` attributes grouped by prefix, then N, then rest."""
    buckets: dict[str, dict[int, dict[str, Any]]] = {p: {} for p in _INDEXED_PREFIXES}
    for key, value in a.items():
        if not isinstance(key, str) or not key.startswith(_INDEXED_PREFIXES):
            continue
        prefix = next(p for p in _INDEXED_PREFIXES if key.startswith(p))
        index, _, rest = key[len(prefix) :].partition(".")
        if index.isdigit() and rest:
            buckets[prefix].setdefault(int(index), {})[rest] = value
    return buckets


def _sub_buckets(fields: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for key, value in fields.items():
        if key.startswith(prefix):
            index, _, rest = key[len(prefix) :].partition(".")
            if index.isdigit() and rest:
                found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


def _arguments(value: Any) -> Any:
    decoded = _loads(value)
    return value if decoded is None else decoded


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": _arguments(arguments)}


def _blocks(value: Any) -> list[Any] | None:
    """``value`` as a list of content blocks (dicts with a string ``type``), else ``None``."""
    blocks = [value] if isinstance(value, Mapping) else value
    if isinstance(blocks, (list, tuple)) and blocks and all(
        isinstance(b, Mapping) and isinstance(b.get("type"), str) for b in blocks
    ):
        return list(blocks)
    return None


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """A content value — text, content blocks, or the JSON of content blocks — → parts.

    Text that merely looks like JSON (a user typing ``[1, 2]``) stays text.
    """
    if isinstance(content, str):
        blocks = _blocks(_loads(content)) if content.lstrip()[:1] in ("[", "{") else None
        if blocks is None:
            return [{"type": "text", "content": content}]
    elif (blocks := _blocks(content)) is None:
        return []
    return [_part_from_block(b) for b in blocks]


def _oi_content_part(c: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = c.get("message_content.type")
    text = c.get("message_content.text")
    if kind == "text":
        return {"type": "text", "content": text if isinstance(text, str) else ""}
    if kind == "reasoning":
        return {"type": "reasoning", "content": text if isinstance(text, str) else ""}
    if kind == "image":
        url = c.get("message_content.image.image.url")
        if not isinstance(url, str):
            return None
        if url.startswith("data:"):
            mime = url[5:].split(";", 1)[0] or None
            return {"type": "blob", "modality": "image", "mime_type": mime, "content": None}
        return {"type": "uri", "modality": "image", "uri": url}
    if kind == "tool_use":
        return _tool_call_part(
            c.get("tool_call.id"), c.get("tool_call.function.name"), c.get("tool_call.function.arguments")
        )
    if not isinstance(kind, str):
        return None
    # Other blocks are recorded as their JSON (data sources redacted by the producer).
    parts = _content_parts(text) if _blocks(_loads(text)) else []
    return parts[0] if len(parts) == 1 else {"type": kind, "content": text if isinstance(text, str) else None}


def _oi_messages(buckets: Mapping[int, Mapping[str, Any]], default_role: str) -> list[dict[str, Any]]:
    messages = []
    for index in sorted(buckets):
        fields = buckets[index]
        role = fields.get("message.role")
        parts: list[dict[str, Any]] = []
        content = fields.get("message.content")
        tool_call_id = fields.get("message.tool_call_id")
        if isinstance(tool_call_id, str):
            parts.append(_clean_part({"type": "tool_call_response", "id": tool_call_id, "response": _arguments(content)}))
        elif isinstance(content, str):
            parts.append({"type": "text", "content": content})
        for c in _sub_buckets(fields, "message.contents."):
            if (part := _oi_content_part(c)) is not None:
                parts.append(part)
        seen = {p.get("id") for p in parts if p["type"] == "tool_call"}
        for call in _sub_buckets(fields, "message.tool_calls."):
            if call.get("tool_call.id") is None or call.get("tool_call.id") not in seen:
                parts.append(
                    _tool_call_part(
                        call.get("tool_call.id"), call.get("tool_call.function.name"), call.get("tool_call.function.arguments")
                    )
                )
        messages.append({"role": role if isinstance(role, str) and role else default_role, "parts": parts})
    return messages


def _legacy_messages(buckets: Mapping[int, Mapping[str, Any]], default_role: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    reasoning: list[dict[str, Any]] = []
    for index in sorted(buckets):
        fields = buckets[index]
        role = fields.get("role")
        content = fields.get("content", fields.get("user"))  # ".user": the legacy completions prompt
        if role == "thinking":  # a thinking block, written as a completion of its own
            reasoning.append({"type": "reasoning", "content": content if isinstance(content, str) else ""})
            continue
        parts = reasoning + _content_parts(content)
        reasoning = []
        if isinstance(fields.get("tool_call_id"), str):
            parts = [{"type": "tool_call_response", "id": fields["tool_call_id"], "response": content}]
        for call in _sub_buckets(fields, "tool_calls."):
            parts.append(_tool_call_part(call.get("id"), call.get("name"), call.get("arguments")))
        message: dict[str, Any] = {"role": role if isinstance(role, str) and role else default_role, "parts": parts}
        if _str_or_none(fields.get("finish_reason")):
            message["finish_reason"] = fields["finish_reason"]
        messages.append(message)
    if reasoning:
        messages.append({"role": default_role, "parts": reasoning})
    return messages


def _event_messages(events: tuple[Any, ...]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Semconv GenAI events recorded as span events (older producers; OpenLLMetry uses logs)."""
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for event in events:
        name = getattr(event, "name", None)
        if name not in _EVENT_ROLES and name != "gen_ai.choice":
            continue
        attrs: dict[str, Any] = dict(getattr(event, "attributes", None) or {})
        decoded = _loads(attrs.get("gen_ai.event.content"))
        body: dict[str, Any] = dict(decoded) if isinstance(decoded, Mapping) else attrs
        if name == "gen_ai.choice":
            choice = body.get("message")
            choice = _loads(choice) if isinstance(choice, str) else choice
            if not isinstance(choice, Mapping):
                choice = {"content": body.get("content")}
            content, role = choice.get("content"), choice.get("role") or "assistant"
        else:
            content, role = body.get("content"), body.get("role") or _EVENT_ROLES[name]
        parts = _content_parts(content)
        calls = body.get("tool_calls")
        for call in calls if isinstance(calls, (list, tuple)) else ():
            if isinstance(call, Mapping):
                function = call.get("function")
                function = function if isinstance(function, Mapping) else {}
                parts.append(_tool_call_part(call.get("id"), function.get("name"), function.get("arguments")))
        message_out: dict[str, Any] = {"role": role if isinstance(role, str) else "user", "parts": parts}
        if name == "gen_ai.choice":
            if isinstance(body.get("finish_reason"), str):
                message_out["finish_reason"] = body["finish_reason"]
            outputs.append(message_out)
        else:
            inputs.append(message_out)
    return inputs, outputs
