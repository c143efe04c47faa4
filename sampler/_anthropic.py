"""``instrument(client)``: sample calls made through an Anthropic or AsyncAnthropic client.

The client's ``messages`` resource gets instance-level ``create`` and ``stream``
wrappers; the class and other clients are untouched. The caller always receives the
SDK's own objects: a ``Message``, a ``Stream`` whose iterator we observe, or a
``MessageStreamManager`` whose request we observe. On the caller's thread a call
costs one sampling decision; a sampled call also copies the request arguments (the
caller may mutate its message list afterwards) and, for streams, keeps the events.
Converting, redacting and sending happen on the worker.

Each wrapper has exactly one ``try/except Exception`` around Tastevin's own work;
exceptions from the SDK reach the caller unchanged.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._context import current_span_ids, current_tags, current_trace_ids, trace_id_with_low_bits
from ._core import Pending, Sampler
from ._semconv import (
    _get,
    anthropic_messages_to_semconv,
    anthropic_response_to_output,
    anthropic_system_to_semconv,
    anthropic_usage,
    empty_usage,
    finish_reason_from_anthropic,
)
from ._state import IN_WRAPPED_CALL, STATE
from .record import CallFields, error_info, rfc3339

logger = logging.getLogger(__name__)

_MARK = "_tastevin_instrumented"
_PARAM_KEYS = (
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tool_choice",
    "thinking",
    "output_config",
    "service_tier",
    "inference_geo",
    "speed",
)
_perf = time.perf_counter
_randbits = random.getrandbits
_LOW64 = (1 << 64) - 1
_wall = time.time_ns


# -- the call record, filled on the caller's thread, converted on the worker -------------
class _Call:
    __slots__ = (
        "kwargs",
        "trace_id",
        "span_id",
        "start_ns",
        "t0",
        "latency_ms",
        "ttft_ms",
        "response",
        "events",
        "error",
        "stream",
    )

    def __init__(self, kwargs: dict[str, Any], trace_id: int, span_id: int | None, stream: bool) -> None:
        # Shallow copies: chat loops append to the same list after the call returns.
        kwargs = dict(kwargs)
        messages = kwargs.get("messages")
        if isinstance(messages, list):
            kwargs["messages"] = list(messages)
        system = kwargs.get("system")
        if isinstance(system, list):
            kwargs["system"] = list(system)
        self.kwargs = kwargs
        self.trace_id = trace_id
        self.span_id = span_id
        self.start_ns = _wall()
        self.t0 = _perf()
        self.latency_ms = 0.0
        self.ttft_ms: float | None = None
        self.response: Any = None
        self.events: list[Any] | None = [] if stream else None
        self.error: BaseException | None = None
        self.stream = stream


def _params(kwargs: dict[str, Any]) -> dict[str, Any]:
    params = {k: kwargs[k] for k in _PARAM_KEYS if k in kwargs and _is_given(kwargs[k])}
    extra = kwargs.get("extra_body")
    if isinstance(extra, dict):
        params.update({k: v for k, v in extra.items() if k in _PARAM_KEYS})
    tools = kwargs.get("tools")
    if tools and _is_given(tools):
        params["tools"] = [_get(t, "name") for t in tools]
    if kwargs.get("stream"):
        params["stream"] = True
    return json.loads(json.dumps(params, default=str))


def _is_given(value: Any) -> bool:
    return type(value).__name__ not in ("Omit", "NotGiven")


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _raw_usage(usage: Any) -> dict[str, Any]:
    return {key: _get(usage, key) for key in _USAGE_KEYS}


def _accumulate(events: list[Any]) -> dict[str, Any] | None:
    """Rebuild the final message from raw stream events (the same folding the SDK does)."""
    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    json_parts: dict[int, list[str]] = {}
    for event in events:
        kind = _get(event, "type")
        if kind == "message_start":
            start = _get(event, "message")
            message = {
                "role": _get(start, "role", "assistant"),
                "model": _get(start, "model"),
                "stop_reason": _get(start, "stop_reason"),
                "usage": _raw_usage(_get(start, "usage")),
                "content": [],
            }
        elif kind == "content_block_start":
            block = _get(event, "content_block")
            dump = getattr(block, "model_dump", None)
            blocks[_get(event, "index", 0)] = dump(mode="json") if callable(dump) else dict(block)
        elif kind == "content_block_delta":
            index = _get(event, "index", 0)
            delta = _get(event, "delta")
            block = blocks.setdefault(index, {"type": "text", "text": ""})
            delta_type = _get(delta, "type")
            if delta_type == "text_delta":
                block["text"] = block.get("text", "") + (_get(delta, "text") or "")
            elif delta_type == "input_json_delta":
                json_parts.setdefault(index, []).append(_get(delta, "partial_json") or "")
            elif delta_type == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + (_get(delta, "thinking") or "")
        elif kind == "message_delta" and message is not None:
            delta = _get(event, "delta")
            message["stop_reason"] = _get(delta, "stop_reason") or message["stop_reason"]
            for key, value in _raw_usage(_get(event, "usage")).items():
                if value is not None:
                    message["usage"][key] = value
    for index, parts in json_parts.items():
        try:
            blocks[index]["input"] = json.loads("".join(parts) or "{}")
        except ValueError:
            blocks[index]["input"] = "".join(parts)
    if message is not None:
        message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def convert(call: _Call) -> CallFields:
    """Worker thread: a captured Anthropic call → record fields."""
    kwargs = call.kwargs
    response: Any = _accumulate(call.events) if call.events is not None else call.response
    error = call.error
    usage = anthropic_usage(_get(response, "usage")) if response is not None else empty_usage()
    response_model = _get(response, "model") if response is not None else None
    return {
        "trace_id": f"{call.trace_id:032x}",
        "span_id": f"{call.span_id:016x}" if call.span_id else None,
        "ts": rfc3339(call.start_ns),
        "provider": "anthropic",
        "operation": "chat",
        "request_model": str(kwargs.get("model") or "unknown"),
        "response_model": str(response_model) if response_model is not None else None,
        "params": _params(kwargs),
        "system_instructions": anthropic_system_to_semconv(kwargs.get("system") if _is_given(kwargs.get("system")) else None),
        "input_messages": anthropic_messages_to_semconv(kwargs.get("messages")),
        "output_messages": anthropic_response_to_output(response) if response is not None else [],
        "finish_reason": finish_reason_from_anthropic(_get(response, "stop_reason")) if response is not None else None,
        "usage": usage,
        "latency_ms": call.latency_ms,
        "ttft_ms": call.ttft_ms,
        "error": error_info(type(error).__name__, str(error)) if error is not None else None,
    }


def _submit(sampler: Sampler, call: _Call, sampling: dict[str, Any] | None) -> None:
    if sampling is None:
        sampling = sampler.error_sampling
    tags = current_tags()
    sampler.offer(
        Pending(
            convert,
            call,
            tags.category if tags is not None else None,
            tags.attributes if tags is not None else {},
            sampling,
        )
    )


def _internal_error(sampler: Sampler | None, exc: BaseException) -> None:
    """The one place wrapper failures go: count, log once, never raise."""
    if sampler is not None:
        sampler.drop("internal_error")
        sampler._warn_once("internal_error", "tastevin: sampler error (%s: %s); call not recorded", type(exc).__name__, exc)


def _guarded(sampler: Sampler, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
        _internal_error(sampler, exc)


# -- streams --------------------------------------------------------------------------
def _finish_stream(call: _Call, sampler: Sampler, sampling: dict[str, Any] | None, error: BaseException | None) -> None:
    call.latency_ms = (_perf() - call.t0) * 1000.0
    call.error = error
    if sampling is not None or (error is not None and sampler.sample_errors):
        _submit(sampler, call, sampling)


def _observe_sync(inner: Iterator[Any], call: _Call, sampler: Sampler, sampling: dict[str, Any] | None) -> Iterator[Any]:
    events = call.events
    error: BaseException | None = None
    try:
        for event in inner:
            if call.ttft_ms is None:
                call.ttft_ms = (_perf() - call.t0) * 1000.0
            if sampling is not None and events is not None:
                events.append(event)
            yield event
    except Exception as exc:
        error = exc
        raise
    finally:
        try:
            _finish_stream(call, sampler, sampling, error)
        except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
            _internal_error(sampler, exc)


async def _observe_async(
    inner: AsyncIterator[Any], call: _Call, sampler: Sampler, sampling: dict[str, Any] | None
) -> AsyncIterator[Any]:
    events = call.events
    error: BaseException | None = None
    try:
        async for event in inner:
            if call.ttft_ms is None:
                call.ttft_ms = (_perf() - call.t0) * 1000.0
            if sampling is not None and events is not None:
                events.append(event)
            yield event
    except Exception as exc:
        error = exc
        raise
    finally:
        try:
            _finish_stream(call, sampler, sampling, error)
        except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
            _internal_error(sampler, exc)


def _watch_stream(stream: Any, call: _Call, sampler: Sampler, sampling: dict[str, Any] | None, is_async: bool) -> None:
    # Stream._iterator is a cached_property: replacing the cached value leaves the
    # caller's object the SDK's own Stream, only observed.
    inner = stream._iterator
    observe = _observe_async if is_async else _observe_sync
    stream.__dict__["_iterator"] = observe(inner, call, sampler, sampling)


# -- wrappers -----------------------------------------------------------------------------
class _Begun:
    """The decision taken before a sampled call, carried to its end."""

    __slots__ = ("sampler", "sampling", "call")

    def __init__(self, sampler: Sampler, sampling: dict[str, Any], call: _Call) -> None:
        self.sampler = sampler
        self.sampling = sampling
        self.call = call


# Not sampled, but an error would be: no allocation on this, the common path.
_ERRORS_ONLY = object()


def _begin(kwargs: dict[str, Any]) -> _Begun | object | None:
    """Caller's thread, before the SDK call: None means "just call through"."""
    sampler = STATE.sampler
    if sampler is None:
        return None
    tags = current_tags()
    ids = current_span_ids()
    # Outside a span, draw only the 64 bits the decision reads; build the full trace id
    # only for a sampled call (it keeps those bits, so the rule still holds for the record).
    low64 = ids[0] & _LOW64 if ids is not None else _randbits(64)
    sampling = sampler.decide_low64(low64, tags.category if tags is not None else None)
    if sampling is not None:
        trace_id, span_id = ids if ids is not None else (trace_id_with_low_bits(low64), None)
        return _Begun(sampler, sampling, _Call(kwargs, trace_id, span_id, bool(kwargs.get("stream"))))
    return _ERRORS_ONLY if sampler.sample_errors else None


def _unsampled_call(kwargs: dict[str, Any], t0: float) -> _Call:
    trace_id, span_id = current_trace_ids()
    call = _Call(kwargs, trace_id, span_id, False)
    call.t0 = t0
    return call


def _failed(begun: _Begun | object, kwargs: dict[str, Any], exc: BaseException, t0: float) -> None:
    """The SDK call raised: record it (errors are samples too). Never raises."""
    sampler = begun.sampler if isinstance(begun, _Begun) else STATE.sampler
    try:
        if sampler is None:
            return
        if isinstance(begun, _Begun):
            call, sampling = begun.call, begun.sampling
        else:
            call, sampling = _unsampled_call(kwargs, t0), None
        call.latency_ms = (_perf() - call.t0) * 1000.0
        call.error = exc
        _submit(sampler, call, sampling)
    except Exception as inner:  # noqa: BLE001 - host-facing: never raise into the app
        _internal_error(sampler, inner)


def _returned(begun: _Begun | object, kwargs: dict[str, Any], result: Any, is_async: bool, t0: float) -> None:
    """The SDK call returned: record the message, or observe the stream. Never raises."""
    sampler = begun.sampler if isinstance(begun, _Begun) else STATE.sampler
    try:
        if sampler is None:
            return
        if not isinstance(begun, _Begun):
            if kwargs.get("stream"):  # unsampled stream: watched only for a mid-stream error
                _watch_stream(result, _unsampled_call(kwargs, t0), sampler, None, is_async)
            return
        call = begun.call
        if call.stream:
            _watch_stream(result, call, sampler, begun.sampling, is_async)
        else:
            call.latency_ms = (_perf() - call.t0) * 1000.0
            call.response = result
            _submit(sampler, call, begun.sampling)
    except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
        _internal_error(sampler, exc)


def _wrap_sync_create(original: Any) -> Any:
    def create(*args: Any, **kwargs: Any) -> Any:
        begun = _begin(kwargs)
        if begun is None:
            return original(*args, **kwargs)
        t0 = _perf()
        token = IN_WRAPPED_CALL.set(True) if STATE.processors else None
        try:
            result = original(*args, **kwargs)
        except Exception as exc:
            _failed(begun, kwargs, exc, t0)
            raise
        finally:
            if token is not None:
                IN_WRAPPED_CALL.reset(token)
        if begun is not _ERRORS_ONLY or kwargs.get("stream"):
            _returned(begun, kwargs, result, False, t0)
        return result

    create.__wrapped__ = original  # type: ignore[attr-defined]
    return create


def _wrap_async_create(original: Any) -> Any:
    async def create(*args: Any, **kwargs: Any) -> Any:
        begun = _begin(kwargs)
        if begun is None:
            return await original(*args, **kwargs)
        t0 = _perf()
        token = IN_WRAPPED_CALL.set(True) if STATE.processors else None
        try:
            result = await original(*args, **kwargs)
        except Exception as exc:
            _failed(begun, kwargs, exc, t0)
            raise
        finally:
            if token is not None:
                IN_WRAPPED_CALL.reset(token)
        if begun is not _ERRORS_ONLY or kwargs.get("stream"):
            _returned(begun, kwargs, result, True, t0)
        return result

    create.__wrapped__ = original  # type: ignore[attr-defined]
    return create


def _wrap_stream(original: Any, is_async: bool) -> Any:
    """``messages.stream(...)``: observe the raw stream the manager opens on enter."""

    def stream(*args: Any, **kwargs: Any) -> Any:
        manager = original(*args, **kwargs)
        stream_kwargs = dict(kwargs, stream=True)
        begun = _begin(stream_kwargs)
        if begun is None:
            return manager
        sampler = begun.sampler if isinstance(begun, _Begun) else STATE.sampler
        if sampler is None:  # shut down in between
            return manager
        try:
            attr = "_AsyncMessageStreamManager__api_request" if is_async else "_MessageStreamManager__api_request"
            request = getattr(manager, attr)

            def start() -> tuple[_Call, dict[str, Any] | None]:
                # The request is made when the manager is entered: time it from there.
                if isinstance(begun, _Begun):
                    begun.call.t0 = _perf()
                    return begun.call, begun.sampling
                return _unsampled_call(stream_kwargs, _perf()), None

            if is_async:

                async def opened() -> Any:
                    call, sampling = start()
                    try:
                        raw = await request
                    except Exception as exc:
                        _guarded(sampler, _finish_stream, call, sampler, sampling, exc)
                        raise
                    _guarded(sampler, _watch_stream, raw, call, sampler, sampling, True)
                    return raw

                setattr(manager, attr, opened())
            else:

                def opened_sync() -> Any:
                    call, sampling = start()
                    try:
                        raw = request()
                    except Exception as exc:
                        _guarded(sampler, _finish_stream, call, sampler, sampling, exc)
                        raise
                    _guarded(sampler, _watch_stream, raw, call, sampler, sampling, False)
                    return raw

                setattr(manager, attr, opened_sync)
        except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
            _internal_error(sampler, exc)
        return manager

    stream.__wrapped__ = original  # type: ignore[attr-defined]
    return stream


def instrument(client: Any) -> Any:
    """Instrument an ``anthropic.Anthropic`` or ``AsyncAnthropic`` client in place; return it.

    Idempotent. Copies made later with ``client.with_options(...)`` are instrumented
    too. Instrumenting before ``sampler.init`` is fine: calls pass straight through
    until a sampler is configured. Raises ``TypeError`` for an object that is not an
    Anthropic client (a programming error, caught at start-up).
    """
    messages = getattr(client, "messages", None)
    if messages is None or not callable(getattr(messages, "create", None)):
        raise TypeError(f"sampler.instrument expects an anthropic client, got {type(client).__name__}")
    if getattr(messages, _MARK, False):
        return client
    import inspect

    # AsyncMessages.create is wrapped by the SDK's argument checker, which hides that it
    # is a coroutine function; the class hierarchy tells reliably.
    is_async = inspect.iscoroutinefunction(inspect.unwrap(messages.create)) or any(
        cls.__name__ in ("AsyncAPIClient", "AsyncAnthropic") for cls in type(client).__mro__
    )
    messages.create = (_wrap_async_create if is_async else _wrap_sync_create)(messages.create)
    if callable(getattr(messages, "stream", None)):
        messages.stream = _wrap_stream(messages.stream, is_async)
    setattr(messages, _MARK, True)

    original_copy = getattr(client, "copy", None)
    if callable(original_copy) and not getattr(original_copy, _MARK, False):

        def copy(*args: Any, **kwargs: Any) -> Any:
            return instrument(original_copy(*args, **kwargs))

        setattr(copy, _MARK, True)
        client.copy = copy
        client.with_options = copy
    return client
