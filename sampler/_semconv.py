"""Conversion of provider-shaped messages into OpenTelemetry GenAI semconv shapes.

The wire record carries messages as ``[{"role": ..., "parts": [{"type": "text",
"content": ...}, ...]}]`` (``gen_ai.input.messages`` / ``gen_ai.output.messages``).
Everything here runs on the sampler's worker thread, never on the caller's thread.
Inputs may be plain dicts (request params as the caller wrote them) or pydantic
models (SDK responses); both are read through :func:`_get`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .record import Usage

# Anthropic stop reasons mapped to semconv finish reasons; unknown values pass through.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if type(obj) is dict or isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def finish_reason_from_anthropic(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def _jsonable(value: Any) -> Any:
    """Best-effort plain-JSON view of a value (pydantic models, tuples, ...)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if type(value) is dict or isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return _jsonable(dump(mode="json", exclude_none=True))
    return str(value)


def anthropic_block_to_part(block: Any) -> dict[str, Any]:
    """One Anthropic content block (request param or response model) → one semconv part."""
    kind = _get(block, "type")
    if not isinstance(kind, str):
        kind = None
    if kind == "text":
        return {"type": "text", "content": _get(block, "text", "")}
    if kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
        return {
            "type": "tool_call",
            "id": _get(block, "id"),
            "name": _get(block, "name"),
            "arguments": _jsonable(_get(block, "input")),
        }
    if kind in ("tool_result", "mcp_tool_result", "web_search_tool_result"):
        content = _get(block, "content")
        if isinstance(content, str):
            response: Any = content
        elif content is None:
            response = None
        else:
            response = [anthropic_block_to_part(b) for b in content]
        return {"type": "tool_call_response", "id": _get(block, "tool_use_id"), "response": response}
    if kind == "thinking":
        return {"type": "reasoning", "content": _get(block, "thinking", "")}
    if kind == "redacted_thinking":
        return {"type": "reasoning", "content": ""}
    if kind in ("image", "document"):
        source = _get(block, "source") or {}
        src_type = _get(source, "type")
        modality = "image" if kind == "image" else "document"
        if src_type == "url":
            return {"type": "uri", "modality": modality, "uri": _get(source, "url")}
        if src_type == "text":
            return {"type": "text", "content": _get(source, "data", "")}
        # Inline bytes are never shipped: the judge reads text, and payloads are capped.
        return {"type": "blob", "modality": modality, "mime_type": _get(source, "media_type"), "content": None}
    return {"type": kind or "unknown", "content": _jsonable(block)}


def anthropic_content_to_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, (list, tuple)):
        return [anthropic_block_to_part(b) for b in content]
    if isinstance(content, Mapping) or hasattr(content, "model_dump"):
        return [anthropic_block_to_part(content)]
    return [{"type": "text", "content": str(content)}]


def anthropic_messages_to_semconv(messages: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Request ``messages=[...]`` → semconv input messages."""
    if not messages:
        return []
    return [
        {"role": _get(m, "role", "user"), "parts": anthropic_content_to_parts(_get(m, "content"))}
        for m in messages
    ]


def anthropic_system_to_semconv(system: Any) -> list[dict[str, Any]] | None:
    """Request ``system=`` (a string or text blocks) → semconv system instruction parts."""
    if system is None:
        return None
    parts = anthropic_content_to_parts(system)
    return parts or None


def anthropic_response_to_output(message: Any) -> list[dict[str, Any]]:
    """A response ``Message`` → semconv output messages (one assistant message)."""
    if message is None:
        return []
    return [
        {
            "role": _get(message, "role", "assistant") or "assistant",
            "parts": anthropic_content_to_parts(_get(message, "content")),
            "finish_reason": finish_reason_from_anthropic(_get(message, "stop_reason")),
        }
    ]


def anthropic_usage(usage: Any) -> Usage:
    return {
        "input_tokens": _get(usage, "input_tokens"),
        "output_tokens": _get(usage, "output_tokens"),
        "cache_read_input_tokens": _get(usage, "cache_read_input_tokens"),
        "cache_write_input_tokens": _get(usage, "cache_creation_input_tokens"),
    }


def empty_usage() -> Usage:
    return {
        "input_tokens": None,
        "output_tokens": None,
        "cache_read_input_tokens": None,
        "cache_write_input_tokens": None,
    }


def normalize_messages(messages: Any) -> list[dict[str, Any]]:
    """Accept the message shapes people actually have and return semconv messages.

    Accepted: semconv (``{"role", "parts"}``), Anthropic/OpenAI chat style
    (``{"role", "content": str | blocks}``), a bare string (one user message), or a
    JSON string of any of these (as some instrumentations store them).
    """
    if messages is None:
        return []
    if isinstance(messages, str):
        stripped = messages.lstrip()
        if stripped[:1] in ("[", "{"):
            try:
                return normalize_messages(json.loads(messages))
            except ValueError:
                pass
        return [{"role": "user", "parts": [{"type": "text", "content": messages}]}]
    if type(messages) is dict or isinstance(messages, Mapping) or not isinstance(messages, Iterable):
        messages = [messages]
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, str):
            out.append({"role": "user", "parts": [{"type": "text", "content": m}]})
            continue
        role = _get(m, "role")
        if not isinstance(role, str) or not role:
            role = "user"
        parts = _get(m, "parts")
        if isinstance(parts, (list, tuple)):
            msg: dict[str, Any] = {"role": role, "parts": [semconv_part(p) for p in parts]}
        elif parts is not None:
            continue  # malformed message: skip it rather than guess
        else:
            msg = {"role": role, "parts": anthropic_content_to_parts(_get(m, "content"))}
        finish = _get(m, "finish_reason")
        if finish is not None:
            msg["finish_reason"] = finish
        out.append(msg)
    return out


def normalize_parts(parts: Any) -> list[dict[str, Any]] | None:
    """System instructions: a string, text blocks or semconv parts → semconv parts."""
    if parts is None:
        return None
    if isinstance(parts, str):
        stripped = parts.lstrip()
        if stripped[:1] == "[":
            try:
                return normalize_parts(json.loads(parts))
            except ValueError:
                pass
        return [{"type": "text", "content": parts}]
    if not isinstance(parts, (list, tuple)):
        parts = [parts]
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append({"type": "text", "content": p})
        else:
            out.append(semconv_part(p))
    return out or None


# Part types that exist in the semconv shapes but not as Anthropic block types.
_SEMCONV_ONLY_TYPES = frozenset({"tool_call", "tool_call_response", "reasoning", "blob", "uri", "file"})


def semconv_part(part: Any) -> dict[str, Any]:
    """A part already in semconv shape (or close): a plain-JSON copy without inline bytes.

    Anthropic-style blocks (``{"type": "text", "text": ...}``, ``tool_use`` …) are
    converted; a bare string becomes a text part; anything else is kept as data.
    """
    if isinstance(part, str):
        return {"type": "text", "content": part}
    if not isinstance(part, Mapping) and not hasattr(part, "model_dump"):
        return {"type": "text", "content": str(part)}
    kind = _get(part, "type")
    if not isinstance(kind, str):
        kind = None
    is_semconv_text = kind == "text" and _get(part, "content") is not None and _get(part, "text") is None
    if kind not in _SEMCONV_ONLY_TYPES and not is_semconv_text:
        return anthropic_block_to_part(part)
    copied = _jsonable(part)
    if not isinstance(copied, dict):
        return {"type": "text", "content": str(copied)}
    if kind == "blob":
        copied["content"] = None  # inline bytes are never shipped
    copied.setdefault("type", "text")
    return copied
