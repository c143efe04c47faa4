"""Kafka message value → a ``sample`` row, or a reason it cannot be one.

The wire record's contract is the JSON Schema shipped with the sampler
(``sampler/schema/tastevin.sample.v1.json``); this module checks the same required
fields and types by hand because it runs for every record (a generic JSON Schema
validator costs ~50x more). ``tests/reviewer/test_decode.py`` holds the two to
agreement. Pure functions; any thread.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

SUPPORTED_MAJOR = "tastevin.sample/v1"
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
UNCATEGORIZED = "uncategorized"
_HEX = frozenset("0123456789abcdef")


class PoisonRecord(ValueError):
    """A message that can never become a sample row; goes to ``dead_letter``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and _HEX.issuperset(value)


_STR = (str,)
_NUM = (int, float)
# field → (allowed python types, required). bool is excluded from numbers below.
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "app": (_STR, True),
    "env": (_STR, True),
    "release": (_STR, True),
    "provider": (_STR, True),
    "operation": (_STR, True),
    "request_model": (_STR, True),
    "response_model": (_STR, False),
    "category": (_STR, False),
    "finish_reason": (_STR, False),
    "params": ((dict,), True),
    "input_messages": ((list,), True),
    "output_messages": ((list,), True),
    "system_instructions": ((list,), False),
    "usage": ((dict,), True),
    "latency_ms": (_NUM, True),
    "ttft_ms": (_NUM, False),
    "error": ((dict,), False),
    "sampling": ((dict,), True),
    "redactions": ((dict,), True),
    "truncated": ((bool,), True),
    "attributes": ((dict,), True),
}
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")


def _check_messages(name: str, messages: list[Any]) -> int:
    """Validate semconv messages; return the total length of their text content."""
    chars = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise PoisonRecord("bad_type", f"{name}[{i}] must be an object with a string role")
        parts = message.get("parts")
        if not isinstance(parts, list):
            raise PoisonRecord("bad_type", f"{name}[{i}].parts must be a list")
        for part in parts:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise PoisonRecord("bad_type", f"{name}[{i}].parts items must be objects with a string type")
            content = part.get("content")
            if isinstance(content, str):
                chars += len(content)
    return chars


def _parse_ts(value: Any) -> datetime:
    if not isinstance(value, str):
        raise PoisonRecord("bad_type", "ts must be an RFC 3339 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise PoisonRecord("bad_type", f"ts is not RFC 3339: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise PoisonRecord("bad_type", "ts must carry a UTC offset (e.g. a trailing Z)")
    return ts.astimezone(timezone.utc)


def decode(
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    ingested_at: datetime,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> dict[str, Any]:
    """Decode and validate one message value into a ``sample`` row dict.

    Raises :class:`PoisonRecord` with a machine reason (``oversize``, ``invalid_utf8``,
    ``invalid_json``, ``not_an_object``, ``unknown_schema``, ``missing_field``,
    ``bad_type``) and a human detail.
    """
    if value is None:
        raise PoisonRecord("invalid_json", "empty message value (tombstone)")
    if len(value) > max_record_bytes:
        raise PoisonRecord("oversize", f"{len(value)} bytes exceeds the {max_record_bytes}-byte limit")
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise PoisonRecord("invalid_utf8", f"not UTF-8 at byte {bad.start}") from None
        raise PoisonRecord("invalid_json", str(exc)[:200]) from None
    if not isinstance(record, dict):
        raise PoisonRecord("not_an_object", f"expected a JSON object, got {type(record).__name__}")

    schema = record.get("schema")
    if not isinstance(schema, str):
        raise PoisonRecord("missing_field", "schema is missing")
    if schema != SUPPORTED_MAJOR and not schema.startswith(SUPPORTED_MAJOR + "."):
        raise PoisonRecord("unknown_schema", f"unsupported schema {schema[:60]!r}; this ingester reads {SUPPORTED_MAJOR}")

    sample_id = record.get("sample_id")
    if sample_id is None:
        raise PoisonRecord("missing_field", "sample_id is missing")
    if not _hex(sample_id, 32):
        raise PoisonRecord("bad_type", "sample_id must be 32 lowercase hex characters")
    trace_id = record.get("trace_id")
    if trace_id is None:
        raise PoisonRecord("missing_field", "trace_id is missing")
    if not _hex(trace_id, 32):
        raise PoisonRecord("bad_type", "trace_id must be 32 lowercase hex characters")
    span_id = record.get("span_id")
    if span_id is not None and not _hex(span_id, 16):
        raise PoisonRecord("bad_type", "span_id must be 16 lowercase hex characters or null")
    if "ts" not in record:
        raise PoisonRecord("missing_field", "ts is missing")
    ts = _parse_ts(record["ts"])

    for name, (types, required) in _FIELDS.items():
        field_value = record.get(name)
        if field_value is None:
            if required:
                raise PoisonRecord("missing_field", f"{name} is missing")
            continue
        if not isinstance(field_value, types) or (types is _NUM and isinstance(field_value, bool)):
            raise PoisonRecord("bad_type", f"{name} must be {'/'.join(t.__name__ for t in types)}")

    usage = record["usage"]
    tokens = {}
    for key in _USAGE_KEYS:
        count = usage.get(key)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise PoisonRecord("bad_type", f"usage.{key} must be a non-negative integer or null")
        tokens[key] = count
    sampling = record["sampling"]
    rate = sampling.get("rate")
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate <= 1:
        raise PoisonRecord("bad_type", "sampling.rate must be a number in (0, 1]")
    rule = sampling.get("rule")
    if not isinstance(rule, str):
        raise PoisonRecord("bad_type", "sampling.rule must be a string")
    error = record.get("error")
    if error is not None and not (isinstance(error.get("type"), str) and isinstance(error.get("message"), str)):
        raise PoisonRecord("bad_type", "error must be {type: str, message: str} or null")
    system = record.get("system_instructions")
    input_chars = _check_messages("input_messages", record["input_messages"])
    output_chars = _check_messages("output_messages", record["output_messages"])
    if system is not None:
        for part in system:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise PoisonRecord("bad_type", "system_instructions items must be objects with a string type")

    return {
        "sample_id": sample_id,
        "schema": schema,
        "trace_id": trace_id,
        "span_id": span_id,
        "ts": ts,
        "app": record["app"],
        "env": record["env"],
        "release": record["release"],
        "category": record.get("category") or UNCATEGORIZED,
        "provider": record["provider"],
        "operation": record["operation"],
        "request_model": record["request_model"],
        "response_model": record.get("response_model"),
        "params": record["params"],
        "system_instructions": system,
        "input_messages": record["input_messages"],
        "output_messages": record["output_messages"],
        "finish_reason": record.get("finish_reason"),
        "input_tokens": tokens["input_tokens"],
        "output_tokens": tokens["output_tokens"],
        "cache_read_input_tokens": tokens["cache_read_input_tokens"],
        "cache_write_input_tokens": tokens["cache_write_input_tokens"],
        "latency_ms": float(record["latency_ms"]),
        "ttft_ms": float(record["ttft_ms"]) if record.get("ttft_ms") is not None else None,
        "error_type": error["type"] if error else None,
        "error_message": error["message"] if error else None,
        "sampling_rate": float(rate),
        "sampling_rule": rule,
        "redactions": record["redactions"],
        "truncated": record["truncated"],
        "attributes": record["attributes"],
        "input_chars": input_chars,
        "output_chars": output_chars,
        "kafka_topic": topic,
        "kafka_partition": partition,
        "kafka_offset": offset,
        "ingested_at": ingested_at,
    }
