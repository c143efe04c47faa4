"""``record_call``: the manual path for any provider the wrappers do not cover."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._context import current_tags, current_trace_ids
from ._core import Pending
from ._semconv import normalize_messages, normalize_parts
from ._state import STATE
from .record import CallFields, ErrorInfo, Usage, error_info, rfc3339

_USAGE_ALIASES = {
    "input_tokens": ("input_tokens", "prompt_tokens"),
    "output_tokens": ("output_tokens", "completion_tokens"),
    "cache_read_input_tokens": ("cache_read_input_tokens", "cached_tokens"),
    "cache_write_input_tokens": ("cache_write_input_tokens", "cache_creation_input_tokens"),
}


def _usage(usage: Mapping[str, Any] | None) -> Usage:
    usage = usage or {}

    def count(key: str) -> int | None:
        value = next((usage[a] for a in _USAGE_ALIASES[key] if usage.get(a) is not None), None)
        return int(value) if value is not None else None

    return {
        "input_tokens": count("input_tokens"),
        "output_tokens": count("output_tokens"),
        "cache_read_input_tokens": count("cache_read_input_tokens"),
        "cache_write_input_tokens": count("cache_write_input_tokens"),
    }


def _error(error: Any) -> ErrorInfo | None:
    # Uncapped: record.build cuts error text the same way on every path.
    if error is None:
        return None
    if isinstance(error, BaseException):
        return error_info(type(error).__name__, str(error))
    if isinstance(error, Mapping):
        return error_info(error.get("type", "error"), error.get("message", ""))
    return error_info("error", error)


def _convert(payload: dict[str, Any]) -> CallFields:
    """Worker thread: normalise what the caller passed into record fields."""
    output = payload["output_messages"]
    if isinstance(output, str):
        output = [{"role": "assistant", "parts": [{"type": "text", "content": output}]}]
    output_messages = normalize_messages(output)
    if not any(m.get("role") for m in output_messages):
        for m in output_messages:
            m["role"] = "assistant"
    finish = payload["finish_reason"]
    if finish is not None:
        for m in output_messages:
            m.setdefault("finish_reason", finish)
    params = dict(payload["params"] or {})
    return {
        "trace_id": f"{payload['trace_id']:032x}",
        "span_id": f"{payload['span_id']:016x}" if payload["span_id"] else None,
        "ts": rfc3339(payload["start_ns"]),
        "provider": str(payload["provider"] or "unknown"),
        "operation": str(payload["operation"] or "chat"),
        "request_model": payload["model"],
        "response_model": str(payload["response_model"]) if payload["response_model"] is not None else None,
        "params": params,
        "system_instructions": normalize_parts(payload["system"]),
        "input_messages": normalize_messages(payload["input_messages"]),
        "output_messages": output_messages,
        "finish_reason": finish,
        "usage": _usage(payload["usage"]),
        "latency_ms": float(payload["latency_ms"] or 0.0),
        "ttft_ms": float(payload["ttft_ms"]) if payload["ttft_ms"] is not None else None,
        "error": _error(payload["error"]),
    }


def record_call(
    *,
    model: str,
    input_messages: Any,
    output_messages: Any = None,
    system: Any = None,
    provider: str = "unknown",
    operation: str = "chat",
    response_model: str | None = None,
    params: Mapping[str, Any] | None = None,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    error: BaseException | Mapping[str, Any] | str | None = None,
    start_time: datetime | float | None = None,
    category: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    trace_id: int | str | None = None,
) -> bool:
    """Offer one LLM call made with any provider; return True if it was sampled.

    Messages may be semconv (``{"role", "parts"}``), chat style (``{"role",
    "content"}``) or plain strings. ``usage`` accepts ``input_tokens`` /
    ``prompt_tokens`` style keys. ``start_time`` defaults to now minus ``latency_ms``.
    The sampling decision uses ``trace_id`` if given, else the current span's, else a
    fresh one; ``category`` and ``attributes`` override the ones from ``tag``.

    Runs on the caller's thread, never blocks, and never raises: a problem is logged
    once and counted in ``stats()["dropped"]["internal_error"]``.
    """
    sampler = STATE.sampler
    if sampler is None:
        return False
    try:
        tags = current_tags()
        if category is None and tags is not None:
            category = tags.category
        span_id: int | None
        if trace_id is not None:
            tid = int(trace_id, 16) if isinstance(trace_id, str) else int(trace_id)
            span_id = None
        else:
            tid, span_id = current_trace_ids()
        sampling = sampler.decide(tid, category)
        if sampling is None:
            if not (error is not None and sampler.sample_errors):
                return False
            sampling = sampler.error_sampling
        now_ns = time.time_ns()
        if isinstance(start_time, datetime):
            start_ns = int(start_time.timestamp() * 1e9)
        elif start_time is not None:
            start_ns = int(float(start_time) * 1e9)
        else:
            start_ns = now_ns - int((latency_ms or 0.0) * 1e6)
        merged = dict(tags.attributes) if tags is not None else {}
        merged.update(attributes or {})
        payload = {
            "trace_id": tid,
            "span_id": span_id,
            "start_ns": start_ns,
            "model": str(model),
            "response_model": response_model,
            "provider": provider,
            "operation": operation,
            "params": dict(params) if params else None,
            "system": system,
            "input_messages": list(input_messages) if isinstance(input_messages, list) else input_messages,
            "output_messages": list(output_messages) if isinstance(output_messages, list) else output_messages,
            "finish_reason": finish_reason,
            "usage": dict(usage) if usage else None,
            "latency_ms": latency_ms,
            "ttft_ms": ttft_ms,
            "error": error,
        }
        sampler.offer(Pending(_convert, payload, category, merged, sampling))
        return True
    except Exception as exc:  # noqa: BLE001 - host-facing: never raise into the app
        sampler.drop("internal_error")
        sampler._warn_once("record_call", "tastevin: record_call failed (%s: %s)", type(exc).__name__, exc)
        return False
