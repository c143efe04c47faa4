"""The wire record: one JSON object per Kafka message, schema ``tastevin.sample/v1``.

This module is the contract between the sampler and everything downstream; the JSON
Schema in ``sampler/schema/tastevin.sample.v1.json`` (see :func:`json_schema`) says the
same for producers written in other languages.

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
from functools import cache
from importlib import resources
from typing import Any

from ._semconv import empty_usage

SCHEMA = "tastevin.sample/v1"
SCHEMA_MAJOR = "v1"
CONTENT_TYPE = b"application/json"
HEADERS = [("content-type", CONTENT_TYPE), ("tastevin-schema", SCHEMA_MAJOR.encode())]
TRUNCATION_MARK = "…[truncated]"

FIELDS = (
    "schema",
    "sample_id",
    "trace_id",
    "span_id",
    "ts",
    "app",
    "env",
    "release",
    "category",
    "provider",
    "operation",
    "request_model",
    "response_model",
    "params",
    "system_instructions",
    "input_messages",
    "output_messages",
    "finish_reason",
    "usage",
    "latency_ms",
    "ttft_ms",
    "error",
    "sampling",
    "redactions",
    "truncated",
    "attributes",
)

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
_last_second: list[Any] = [None, ""]


def rfc3339(epoch_ns: int) -> str:
    """RFC 3339 UTC with microseconds; the per-second prefix is cached (worker-thread only)."""
    seconds, ns = divmod(epoch_ns, 1_000_000_000)
    if _last_second[0] != seconds:
        _last_second[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _last_second[0] = seconds
    return f"{_last_second[1]}.{ns // 1000:06d}Z"


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


def _error(error: Any) -> dict[str, str] | None:
    if not error:
        return None
    return {"type": str(error.get("type") or "error"), "message": str(error.get("message") or "")}


def build(
    call: dict[str, Any],
    *,
    app: str,
    env: str,
    release: str,
    sampling: dict[str, Any],
    category: str | None,
    attributes: dict[str, Any],
    sample_id: str | None = None,
) -> dict[str, Any]:
    """Assemble a v1 record (field order as documented) from converted call fields."""
    merged_attributes = dict(call.get("attributes") or {})
    merged_attributes.update(attributes)
    return {
        "schema": SCHEMA,
        "sample_id": sample_id or new_sample_id(),
        "trace_id": call["trace_id"],
        "span_id": call.get("span_id"),
        "ts": call["ts"],
        "app": app,
        "env": env,
        "release": release,
        "category": category if category is not None else call.get("category"),
        "provider": call.get("provider") or "unknown",
        "operation": call.get("operation") or "chat",
        "request_model": str(call.get("request_model") or "unknown"),
        "response_model": call.get("response_model"),
        "params": call.get("params") or {},
        "system_instructions": call.get("system_instructions"),
        "input_messages": call.get("input_messages") or [],
        "output_messages": call.get("output_messages") or [],
        "finish_reason": call.get("finish_reason"),
        "usage": call.get("usage") or empty_usage(),
        "latency_ms": float(call.get("latency_ms") or 0.0),
        "ttft_ms": call.get("ttft_ms"),
        "error": _error(call.get("error")),
        "sampling": sampling,
        "redactions": {},
        "truncated": False,
        "attributes": merged_attributes,
    }
