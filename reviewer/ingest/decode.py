"""Kafka message value → a ``sample`` row, or a reason it cannot be one.

The wire record's contract is :class:`sampler.record.Record`, the typed definition
the sampler's converters fill (the JSON Schema shipped with the sampler is tested
against it). The reference checks read their field list and JSON types from it
(:func:`sampler.record.wire_fields`); they check by hand because this runs for every
record (a generic JSON Schema validator costs ~50x more). ``tests/reviewer/
test_decode.py`` holds decode to the schema, and ``test_decode_differential.py`` holds
the fast path to the reference path on generated and mutated records. Pure
functions; any thread.

Two entry points share one set of rules:

* :func:`decode` gives a row dict with JSON columns as Python values (what the ORM's
  ``Sample(**row)`` takes);
* :func:`decode_row` gives the insert-ready tuple the ingester writes (columns in
  :data:`SAMPLE_COLUMNS` order, JSON columns as JSON text). A well-formed record takes
  a straight-line fast path; anything it does not accept goes through the reference
  checks of :func:`decode`, so a poison record gets the same reason either way.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import orjson

from sampler.record import FIELDS, SCHEMA, USAGE_KEYS, wire_fields

from ..errors import TastevinError

SUPPORTED_MAJOR = SCHEMA
DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
UNCATEGORIZED = "uncategorized"
_MINOR_PREFIX = SUPPORTED_MAJOR + "."
_HEX = frozenset("0123456789abcdef")
# Fast-path equivalents of the reference checks (explicit ranges: no Unicode digits).
_HEX32 = re.compile("[0-9a-f]{32}").fullmatch
_HEX16 = re.compile("[0-9a-f]{16}").fullmatch
# The form the sampler writes (``2026-11-01T08:00:00.123456Z``): its SQLite DATETIME text
# is a slice of it. Hour 24 is excluded because Python ≥ 3.12 reads "24:00" as the next day.
_CANONICAL_TS = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T(?!24)[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z").fullmatch
_UTC = timezone.utc

#: Columns of the ``sample`` table in the order of the tuples :func:`decode_row` builds
#: (also the key order of :func:`decode`'s dict).
SAMPLE_COLUMNS: tuple[str, ...] = (
    "sample_id", "schema", "trace_id", "span_id", "ts", "app", "env", "release", "category",
    "provider", "operation", "request_model", "response_model", "params", "system_instructions",
    "input_messages", "output_messages", "finish_reason", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_write_input_tokens", "latency_ms", "ttft_ms", "error_type",
    "error_message", "sampling_rate", "sampling_rule", "redactions", "truncated", "attributes",
    "input_chars", "output_chars", "kafka_topic", "kafka_partition", "kafka_offset", "ingested_at",
)  # fmt: skip
#: Of those, the columns :func:`decode_row` gives as JSON text.
JSON_COLUMNS = frozenset({"params", "system_instructions", "input_messages", "output_messages", "redactions", "attributes"})


class PoisonRecord(TastevinError, ValueError):
    """A message that can never become a sample row; goes to ``dead_letter``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and _HEX.issuperset(value)


_NUM = (int, float)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": _NUM,
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
# Checked one by one first, in this order (it decides which reason a record gets).
_IDENTITY = ("schema", "sample_id", "trace_id", "span_id", "ts")
# Every other field of the record → (allowed python types, required); from the sampler's
# typed record, in wire order. bool is excluded from numbers below.
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    field.name: (_PYTHON_TYPES[field.kind], not field.nullable) for field in wire_fields() if field.name not in _IDENTITY
}
_USAGE_KEYS = USAGE_KEYS
# What decode_row's fast path reads by hand. A field added to the record must be read
# there too, or the fast path would store records the reference path has not checked.
_FAST_PATH_FIELDS = frozenset(
    ("schema", "sample_id", "trace_id", "span_id", "ts", "app", "env", "release", "provider", "operation",
     "request_model", "response_model", "category", "finish_reason", "params", "input_messages", "output_messages",
     "system_instructions", "usage", "latency_ms", "ttft_ms", "error", "sampling", "redactions", "truncated",
     "attributes")
)  # fmt: skip
if _FAST_PATH_FIELDS != frozenset(FIELDS) or _USAGE_KEYS != (
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens"
):  # pragma: no cover - a programming error, caught by any test that imports this module
    raise RuntimeError(
        "reviewer.ingest.decode is out of step with sampler.record.Record: "
        f"fields only in the record: {sorted(set(FIELDS) - _FAST_PATH_FIELDS)}, "
        f"only in the fast path: {sorted(_FAST_PATH_FIELDS - set(FIELDS))}; update decode_row"
    )


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


def _check_system(system: list[Any]) -> None:
    for part in system:
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise PoisonRecord("bad_type", "system_instructions items must be objects with a string type")


def _parse_ts(value: Any) -> datetime:
    if not isinstance(value, str):
        raise PoisonRecord("bad_type", "ts must be an RFC 3339 string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise PoisonRecord("bad_type", f"ts is not RFC 3339: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise PoisonRecord("bad_type", "ts must carry a UTC offset (e.g. a trailing Z)")
    return ts.astimezone(_UTC)


def _load(value: bytes | None, max_record_bytes: int) -> dict[str, Any]:
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
    return record


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
    return _validated(_load(value, max_record_bytes), topic, partition, offset, ingested_at)


def _validated(record: dict[str, Any], topic: str, partition: int, offset: int, ingested_at: Any) -> dict[str, Any]:
    """The reference checks, in the order that decides which reason a record gets."""
    schema = record.get("schema")
    if not isinstance(schema, str):
        raise PoisonRecord("missing_field", "schema is missing")
    if schema != SUPPORTED_MAJOR and not schema.startswith(_MINOR_PREFIX):
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
        _check_system(system)

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


# -- insert-ready tuples ---------------------------------------------------------------
_dumps = orjson.dumps
_DUMPS_OPTION = orjson.OPT_NON_STR_KEYS


def json_text(value: Any) -> str | None:
    """A JSON column's stored text (``None`` stays SQL NULL). Raises ``PoisonRecord``
    for a value orjson cannot write back (nesting deeper than 255 levels)."""
    if value is None:
        return None
    try:
        return _dumps(value, option=_DUMPS_OPTION).decode()
    except orjson.JSONEncodeError as exc:
        raise PoisonRecord("bad_type", f"a JSON field cannot be stored: {exc}") from None


def sqlite_timestamp(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME text for an aware datetime, in UTC."""
    return value.astimezone(_UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def row_tuple(row: dict[str, Any], *, text_timestamps: bool) -> tuple[Any, ...]:
    """A :func:`decode` dict (or one shaped like it) → the :func:`decode_row` tuple."""
    values = []
    for name in SAMPLE_COLUMNS:
        value = row.get(name)
        if name in JSON_COLUMNS:
            value = json_text(value)
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=_UTC)
            value = sqlite_timestamp(value) if text_timestamps else value
        values.append(value)
    return tuple(values)


def decode_row(
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    ingested_at: Any,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    text_timestamps: bool = False,
) -> tuple[Any, ...]:
    """Decode and validate one message value into an insert-ready ``sample`` tuple.

    Columns in :data:`SAMPLE_COLUMNS` order; JSON columns as JSON text; ``ts`` as an
    aware UTC datetime, or as SQLite's DATETIME text when ``text_timestamps``;
    ``ingested_at`` is stored as given. Accepts and rejects exactly what :func:`decode`
    does, with the same :class:`PoisonRecord` reasons, plus ``bad_type`` for JSON
    nested too deeply to be written back (which would otherwise fail the whole batch).
    """
    record = _load(value, max_record_bytes)
    get = record.get
    schema = get("schema")
    sample_id = get("sample_id")
    trace_id = get("trace_id")
    span_id = get("span_id")
    ts_text = get("ts")
    # Fast path: every test below implies the matching reference check. Any record it
    # does not accept takes the reference path, which names the first problem. A check
    # that raises here does so only once every check before it, in reference order, passed.
    # (``type(x) is str``: orjson never produces subclasses.)
    if not (
        type(schema) is str
        and (schema == SUPPORTED_MAJOR or schema.startswith(_MINOR_PREFIX))
        and type(sample_id) is str
        and _HEX32(sample_id)
        and type(trace_id) is str
        and _HEX32(trace_id)
        and (span_id is None or (type(span_id) is str and _HEX16(span_id)))
        and type(ts_text) is str
    ):
        return row_tuple(_validated(record, topic, partition, offset, ingested_at), text_timestamps=text_timestamps)
    ts = _parse_ts(ts_text)
    app = get("app")
    env = get("env")
    release = get("release")
    provider = get("provider")
    operation = get("operation")
    request_model = get("request_model")
    response_model = get("response_model")
    category = get("category")
    finish_reason = get("finish_reason")
    params = get("params")
    input_messages = get("input_messages")
    output_messages = get("output_messages")
    system = get("system_instructions")
    usage = get("usage")
    latency_ms = get("latency_ms")
    ttft_ms = get("ttft_ms")
    error = get("error")
    sampling = get("sampling")
    redactions = get("redactions")
    truncated = get("truncated")
    attributes = get("attributes")
    if not (
        type(app) is str
        and type(env) is str
        and type(release) is str
        and type(provider) is str
        and type(operation) is str
        and type(request_model) is str
        and (response_model is None or type(response_model) is str)
        and (category is None or type(category) is str)
        and (finish_reason is None or type(finish_reason) is str)
        and type(params) is dict
        and type(input_messages) is list
        and type(output_messages) is list
        and (system is None or type(system) is list)
        and type(usage) is dict
        and (type(latency_ms) is float or type(latency_ms) is int)
        and (ttft_ms is None or type(ttft_ms) is float or type(ttft_ms) is int)
        and (error is None or (type(error) is dict and type(error.get("type")) is str and type(error.get("message")) is str))
        and type(sampling) is dict
        and type(redactions) is dict
        and type(truncated) is bool
        and type(attributes) is dict
    ):
        return row_tuple(_validated(record, topic, partition, offset, ingested_at), text_timestamps=text_timestamps)
    ugets = usage.get
    input_tokens = ugets("input_tokens")
    output_tokens = ugets("output_tokens")
    cache_read = ugets("cache_read_input_tokens")
    cache_write = ugets("cache_write_input_tokens")
    rate = sampling.get("rate")
    rule = sampling.get("rule")
    if not (
        (input_tokens is None or (type(input_tokens) is int and input_tokens >= 0))
        and (output_tokens is None or (type(output_tokens) is int and output_tokens >= 0))
        and (cache_read is None or (type(cache_read) is int and cache_read >= 0))
        and (cache_write is None or (type(cache_write) is int and cache_write >= 0))
        and (type(rate) is float or type(rate) is int)
        and 0 < rate <= 1
        and type(rule) is str
    ):
        return row_tuple(_validated(record, topic, partition, offset, ingested_at), text_timestamps=text_timestamps)
    input_chars = _check_messages("input_messages", input_messages)
    output_chars = _check_messages("output_messages", output_messages)
    if system is not None:
        _check_system(system)
    if not text_timestamps:
        ts_value: Any = ts
    elif _CANONICAL_TS(ts_text):
        ts_value = f"{ts_text[:10]} {ts_text[11:26]}"  # == sqlite_timestamp(ts), ~10x cheaper
    else:
        ts_value = sqlite_timestamp(ts)
    try:
        params_text = _dumps(params, option=_DUMPS_OPTION).decode()
        system_text = None if system is None else _dumps(system, option=_DUMPS_OPTION).decode()
        input_text = _dumps(input_messages, option=_DUMPS_OPTION).decode()
        output_text = _dumps(output_messages, option=_DUMPS_OPTION).decode()
        redactions_text = _dumps(redactions, option=_DUMPS_OPTION).decode()
        attributes_text = _dumps(attributes, option=_DUMPS_OPTION).decode()
    except orjson.JSONEncodeError as exc:
        raise PoisonRecord("bad_type", f"a JSON field cannot be stored: {exc}") from None
    return (
        sample_id,
        schema,
        trace_id,
        span_id,
        ts_value,
        app,
        env,
        release,
        category or UNCATEGORIZED,
        provider,
        operation,
        request_model,
        response_model,
        params_text,
        system_text,
        input_text,
        output_text,
        finish_reason,
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        float(latency_ms),
        None if ttft_ms is None else float(ttft_ms),
        None if error is None else error["type"],
        None if error is None else error["message"],
        float(rate),
        rule,
        redactions_text,
        truncated,
        attributes_text,
        input_chars,
        output_chars,
        topic,
        partition,
        offset,
        ingested_at,
    )
