"""The wire record: one JSON object per Kafka message, schema ``tastevin.sample/v1``.

This module is the contract between the sampler and everything downstream. The one
typed definition is :class:`Record` (with :class:`Usage`, :class:`ErrorInfo`,
:class:`Sampling`); the capture paths fill :class:`CallFields` and :func:`build` makes
the record; ingest validates against :func:`wire_fields`. The JSON Schema in
``sampler/schema/tastevin.sample.v1.json`` (see :func:`json_schema`), tested against
:class:`Record`, says the same for producers written in other languages.

Fields (names follow the OpenTelemetry GenAI semantic conventions where one exists):

``schema``
    ``"tastevin.sample/v1"``. Consumers reject an unknown major version.
``sample_id``
    32 lowercase hex characters, unique per record: the idempotency key downstream.
``trace_id`` / ``span_id``
    W3C trace id (32 hex) and span id (16 hex, or null). Sampling is decided from
    ``trace_id`` so every service keeps the same traces.
``ts``
    RFC 3339 UTC timestamp of the start of the call, microsecond precision.
``app`` / ``env`` / ``release``
    Service identity: OTel ``service.name``, deployment environment, version.
``category``
    The app's own label for the request (route, intent), or null (``uncategorized``
    downstream).
``provider`` / ``operation``
    ``gen_ai.provider.name`` (``anthropic``) and ``gen_ai.operation.name`` (``chat``).
``request_model`` / ``response_model``
    The model asked for and the model that answered (null when the call failed).
``params``
    Request parameters as sent: ``max_tokens``, ``temperature``, ``top_p``,
    ``stop_sequences``, ``tool_choice`` …
``system_instructions``
    Semconv parts (``[{"type": "text", "content": ...}]``) or null.
``input_messages`` / ``output_messages``
    Semconv messages ``[{"role": ..., "parts": [...]}]``; output messages also carry
    ``finish_reason``. Redacted and truncated.
``finish_reason``
    Semconv finish reason of the first output (``stop``, ``length``, ``tool_call``,
    ``content_filter``) or null.
``usage``
    ``input_tokens`` (input *not* served from or written to the prompt cache, as the
    Anthropic API counts it), ``output_tokens``, ``cache_read_input_tokens``,
    ``cache_write_input_tokens``: integers or null when unknown. Total input is the sum
    of the three input counts.
``latency_ms`` / ``ttft_ms``
    Wall time of the call; time to first token for streams (null otherwise).
``error``
    ``{"type", "message"}`` when the call raised (such calls are samples too), else null.
    The message is cut to :data:`ERROR_MESSAGE_MAX_CHARS` (the type to
    :data:`ERROR_TYPE_MAX_CHARS`) with a visible mark, on every capture path.
``sampling``
    ``{"rate", "rule"}``: the inclusion probability and the rule that chose it
    (``trace_id_ratio``, ``category:<name>``, ``error``), so totals can be re-weighted.
``redactions``
    Counts of redacted items by kind (``{"email": 2}``), never the text itself.
``truncated``
    True when a field was cut to keep the record under the size cap.
``attributes``
    Free-form ``str → scalar`` metadata from :func:`sampler.tag` (prompt version, locale).
"""

from __future__ import annotations

import json
import random
import time
import typing
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NotRequired, TypedDict

SCHEMA = "tastevin.sample/v1"
SCHEMA_MAJOR = "v1"
CONTENT_TYPE = b"application/json"
HEADERS = [("content-type", CONTENT_TYPE), ("tastevin-schema", SCHEMA_MAJOR.encode())]
TRUNCATION_MARK = "…[truncated]"

#: Longest ``error.message`` / ``error.type`` a record carries, on every capture path.
ERROR_MESSAGE_MAX_CHARS = 4000
ERROR_TYPE_MAX_CHARS = 200

Messages = list[dict[str, Any]]
"""Semconv messages: ``[{"role": ..., "parts": [{"type": ..., ...}], "finish_reason"?: ...}]``."""
Parts = list[dict[str, Any]]
"""Semconv parts: ``[{"type": "text", "content": ...}, ...]``."""


class Usage(TypedDict):
    """Token counts; ``None`` when the producer did not report one."""

    input_tokens: int | None
    output_tokens: int | None
    cache_read_input_tokens: int | None
    cache_write_input_tokens: int | None


class ErrorInfo(TypedDict):
    type: str
    message: str


class Sampling(TypedDict):
    rate: float
    rule: str


class CallFields(TypedDict):
    """What a capture path (Anthropic wrapper, ``record_call``, span processor) fills.

    The converters produce exactly these fields, already in their wire types;
    :func:`build` adds identity, sampling and bookkeeping and applies the caps
    that hold on every path (:data:`ERROR_MESSAGE_MAX_CHARS`). A span may carry its
    own ``category`` and ``attributes`` (the tags win over them).
    """

    trace_id: str
    span_id: str | None
    ts: str
    provider: str
    operation: str
    request_model: str
    response_model: str | None
    params: dict[str, Any]
    system_instructions: Parts | None
    input_messages: Messages
    output_messages: Messages
    finish_reason: str | None
    usage: Usage
    latency_ms: float
    ttft_ms: float | None
    error: ErrorInfo | None
    category: NotRequired[str | None]
    attributes: NotRequired[dict[str, Any]]


class Record(TypedDict):
    """The wire record, field for field, in the documented order (the module docstring
    says what each holds). A field typed ``X | None`` may be null; every other one is
    required. Ingest reads its field list from here (:func:`wire_fields`) and
    ``tests/sampler/test_record.py`` holds the shipped JSON Schema to it."""

    schema: str
    sample_id: str
    trace_id: str
    span_id: str | None
    ts: str
    app: str
    env: str
    release: str
    category: str | None
    provider: str
    operation: str
    request_model: str
    response_model: str | None
    params: dict[str, Any]
    system_instructions: Parts | None
    input_messages: Messages
    output_messages: Messages
    finish_reason: str | None
    usage: Usage
    latency_ms: float
    ttft_ms: float | None
    error: ErrorInfo | None
    sampling: Sampling
    redactions: dict[str, int]
    truncated: bool
    attributes: dict[str, Any]


#: The record's field names, in wire order.
FIELDS: tuple[str, ...] = tuple(Record.__annotations__)
#: The fields a converter fills (:class:`CallFields`, without the optional span extras).
# (Python 3.11 cannot see NotRequired in __required_keys__ under postponed annotations.)
CALL_FIELDS: tuple[str, ...] = tuple(
    name
    for name, hint in typing.get_type_hints(CallFields, include_extras=True).items()
    if typing.get_origin(hint) is not NotRequired
)
USAGE_KEYS: tuple[str, ...] = tuple(Usage.__annotations__)


@dataclass(frozen=True)
class WireField:
    """One field of :class:`Record` as a JSON type: ``kind`` is ``string``, ``number``,
    ``integer``, ``boolean``, ``object`` or ``array``; ``nullable`` fields may be null
    (or absent), every other field is required."""

    name: str
    kind: str
    nullable: bool


_KINDS: dict[Any, str] = {str: "string", float: "number", int: "integer", bool: "boolean", dict: "object", list: "array"}


def _kind(annotation: Any) -> tuple[str, bool]:
    args = typing.get_args(annotation)
    nullable = type(None) in args
    if nullable:
        (annotation,) = (a for a in args if a is not type(None))
    if typing.is_typeddict(annotation):
        return "object", nullable
    return _KINDS[typing.get_origin(annotation) or annotation], nullable


@cache
def wire_fields() -> tuple[WireField, ...]:
    """:class:`Record`'s fields as JSON types, in wire order (what ingest validates)."""
    hints = typing.get_type_hints(Record)
    return tuple(WireField(name, *_kind(hints[name])) for name in FIELDS)


# Fields whose text may be cut to fit the cap, in the order they are given up.
_CUTTABLE = ("input_messages", "system_instructions", "output_messages", "params", "error", "attributes")


@cache
def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a v1 record, as shipped in the package."""
    text = resources.files("sampler").joinpath("schema/tastevin.sample.v1.json").read_text("utf-8")
    return json.loads(text)


def new_sample_id() -> str:
    """128 random bits as 32 hex characters.

    From ``random`` (seeded from the OS, re-seeded after fork) rather than
    ``os.urandom``, which costs ~25 µs a call on some VMs.
    """
    return "%032x" % _randbits(128)


_randbits = random.getrandbits
# (second, "YYYY-MM-DDTHH:MM:SS") of the last call. Replaced as one tuple, never written in
# place: two workers overlap while init() replaces a sampler, and each must read a pair
# that belongs together.
_second_prefix: tuple[int, str] = (-1, "")


def rfc3339(epoch_ns: int) -> str:
    """RFC 3339 UTC with microseconds. Any thread; the per-second prefix is cached."""
    global _second_prefix
    seconds, ns = divmod(epoch_ns, 1_000_000_000)
    cached = _second_prefix
    if cached[0] != seconds:
        cached = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
        _second_prefix = cached
    return f"{cached[1]}.{ns // 1000:06d}Z"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, default=str)


def _encode_stdlib(record: dict[str, Any]) -> bytes:
    return _ENCODER.encode(record).encode("utf-8")


try:  # optional: ~30x faster than the stdlib encoder; not a dependency of the sampler extra
    import orjson

    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS

    def _encode_orjson(record: dict[str, Any]) -> bytes:
        return orjson.dumps(record, default=str, option=_ORJSON_OPTIONS)

    JSON_ENCODER = "orjson"
    encode = _encode_orjson
except ImportError:  # pragma: no cover - exercised by the sampler-only install test
    JSON_ENCODER = "json"
    encode = _encode_stdlib


def _strings(node: Any, out: list[tuple[Any, Any, int]]) -> None:
    """Collect (container, key, length) for every string leaf under ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, str):
            out.append((node, key, len(value)))
        elif isinstance(value, (dict, list)):
            _strings(value, out)


def _cut_strings(record: dict[str, Any], excess_chars: int) -> bool:
    """Shorten the longest strings so their total shrinks by at least ``excess_chars``.

    Water-filling: find the largest cap L such that cutting every string longer than
    L down to L frees enough, so short fields (ids, roles, short turns) survive intact
    and the long ones share the cut.
    """
    leaves: list[tuple[Any, Any, int]] = []
    for name in _CUTTABLE:
        value = record.get(name)
        if isinstance(value, (dict, list)):
            _strings(value, leaves)
    if not leaves:
        return False
    lengths = sorted((n for _, _, n in leaves), reverse=True)
    mark = len(TRUNCATION_MARK)
    # Try caps from the longest string down until enough is freed.
    freed, cap = 0, lengths[0]
    for i, length in enumerate(lengths):
        nxt = lengths[i + 1] if i + 1 < len(lengths) else 0
        # strings 0..i are all >= length; lowering the cap from `length` to `nxt` frees (i+1)*(length-nxt)
        step = (i + 1) * (length - nxt)
        if freed + step >= excess_chars + (i + 1) * mark:
            cap = length - (excess_chars + (i + 1) * mark - freed + i) // (i + 1)
            break
        freed += step
        cap = nxt
    cap = max(cap, 0)
    changed = False
    for container, key, length in leaves:
        if length > cap + mark:
            container[key] = container[key][:cap] + TRUNCATION_MARK
            changed = True
    return changed


def fit(record: dict[str, Any], max_bytes: int) -> bytes:
    """Serialise ``record``, cutting fields until it fits ``max_bytes``; never drops it.

    Long strings are cut first (longest first, with a visible mark), then whole
    messages from the middle of a long conversation, then the content fields are
    emptied. Any cut sets ``truncated``. Mutates ``record``.
    """
    data = encode(record)
    for _ in range(6):
        if len(data) <= max_bytes:
            return data
        record["truncated"] = True
        # bytes → chars: assume the worst case of the current average bytes per char
        excess = len(data) - max_bytes
        if not _cut_strings(record, excess + 64):
            break
        data = encode(record)
    for name in ("input_messages", "output_messages"):
        messages = record.get(name)
        if len(data) <= max_bytes or not isinstance(messages, list) or len(messages) <= 2:
            continue
        # Keep the first and the last turns (they carry the task and the answer); find
        # by bisection how many turns fit.
        record["truncated"] = True
        low, high = 2, len(messages)
        while low < high:
            keep = (low + high + 1) // 2
            record[name] = messages[: keep // 2] + messages[len(messages) - (keep - keep // 2) :]
            if len(encode(record)) <= max_bytes:
                low = keep
            else:
                high = keep - 1
        record[name] = messages[: low // 2] + messages[len(messages) - (low - low // 2) :]
        data = encode(record)
    for name in _CUTTABLE:
        if len(data) <= max_bytes:
            break
        record["truncated"] = True
        record[name] = {} if name in ("params", "attributes") else ([] if name.endswith("messages") else None)
        data = encode(record)
    return data


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK


def error_info(type_name: Any, message: Any) -> ErrorInfo:
    """An ``error`` field from whatever a producer gives (converters use this)."""
    return {"type": str(type_name or "error"), "message": "" if message is None else str(message)}


def build(
    call: CallFields,
    *,
    app: str,
    env: str,
    release: str,
    sampling: dict[str, Any],
    category: str | None,
    attributes: dict[str, Any],
    sample_id: str | None = None,
) -> Record:
    """Assemble a v1 record (field order as documented) from a converter's call fields.

    The call fields are taken as typed; what is applied here holds for every capture
    path alike: the error text caps (:data:`ERROR_MESSAGE_MAX_CHARS`, with a visible
    mark), the tags' category and attributes over the span's own.
    """
    merged_attributes = dict(call.get("attributes") or ())
    merged_attributes.update(attributes)
    error = call["error"]
    if error is not None:
        error_type, message = error["type"], error["message"]
        if len(message) > ERROR_MESSAGE_MAX_CHARS or len(error_type) > ERROR_TYPE_MAX_CHARS:
            error = {"type": _cut(error_type, ERROR_TYPE_MAX_CHARS), "message": _cut(message, ERROR_MESSAGE_MAX_CHARS)}
    return {
        "schema": SCHEMA,
        "sample_id": sample_id or new_sample_id(),
        "trace_id": call["trace_id"],
        "span_id": call["span_id"],
        "ts": call["ts"],
        "app": app,
        "env": env,
        "release": release,
        "category": category if category is not None else call.get("category"),
        "provider": call["provider"],
        "operation": call["operation"],
        "request_model": call["request_model"],
        "response_model": call["response_model"],
        "params": call["params"],
        "system_instructions": call["system_instructions"],
        "input_messages": call["input_messages"],
        "output_messages": call["output_messages"],
        "finish_reason": call["finish_reason"],
        "usage": call["usage"],
        "latency_ms": call["latency_ms"],
        "ttft_ms": call["ttft_ms"],
        "error": error,
        "sampling": typing.cast(Sampling, sampling),
        "redactions": {},
        "truncated": False,
        "attributes": merged_attributes,
    }
