"""decode_row's fast path and the reference path (decode + row_tuple) agree on every input.

Records are generated from the sampler's typed definition (``sampler.record.Record``),
then mutated: a field set to any JSON value or deleted, nested values broken, unknown
fields added, numbers JSON can write but a double cannot hold (``1e400``) put anywhere
(including fields the fast path never reads), the bytes cut or flipped. For each, both
paths must store the same row or dead-letter with the same reason and detail.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reviewer.ingest.decode import (
    DEFAULT_MAX_RECORD_BYTES,
    PoisonRecord,
    decode,
    decode_row,
    row_tuple,
    sqlite_timestamp,
)
from sampler.record import FIELDS, SCHEMA, USAGE_KEYS, wire_fields
from tests.records import encode, make_record

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
# JSON numbers a double cannot hold, or only as 0/inf; written raw (Python's json cannot).
RAW_NUMBERS = ("1e400", "-1e400", "1e-400", "123456789012345678901234567890", "18446744073709551616", "-0.0")
_RAW = "\u0000raw:"


def outcome(value: bytes, text_timestamps: bool, fast: bool) -> tuple[Any, ...]:
    ingested_at: Any = sqlite_timestamp(NOW) if (fast and text_timestamps) else NOW
    try:
        if fast:
            return ("row", decode_row(value, "t", 3, 99, ingested_at, DEFAULT_MAX_RECORD_BYTES, text_timestamps))
        row = decode(value, topic="t", partition=3, offset=99, ingested_at=ingested_at)
        return ("row", row_tuple(row, text_timestamps=text_timestamps))
    except PoisonRecord as poison:
        return ("dead_letter", poison.reason, poison.detail)


def assert_agree(value: bytes) -> tuple[Any, ...]:
    for text_timestamps in (False, True):
        reference = outcome(value, text_timestamps, fast=False)
        assert outcome(value, text_timestamps, fast=True) == reference, value[:300]
    return reference


# -- generated records ----------------------------------------------------------------------
hex_text = st.text("0123456789abcdef", min_size=32, max_size=32)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(RAW_NUMBERS).map(lambda n: _RAW + n)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "reasoning", "tool_call", "blob"])},
        optional={"content": st.text(max_size=30) | json_values, "id": st.text(max_size=5)},
    ),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "tool"]), "parts": parts},
        optional={"finish_reason": st.sampled_from(["stop", "length"]) | st.none()},
    ),
    max_size=3,
)
timestamps = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)).flatmap(
    lambda when: st.sampled_from(
        [
            f"{when.year:04d}-{when:%m-%dT%H:%M:%S.%f}Z",  # what the sampler writes
            f"{when.year:04d}-{when:%m-%dT%H:%M:%S}Z",
            f"{when.year:04d}-{when:%m-%dT%H:%M:%S.%f}+02:00",
            f"{when.year:04d}-{when:%m-%dT%H:%M:%S.%f}",  # naive: poison
            f"{when.year:04d}-{when:%m-%d %H:%M:%S.%f}Z",
        ]
    )
)
counts = st.none() | st.integers(min_value=0, max_value=2**63 - 1)

records = st.fixed_dictionaries(
    {
        "schema": st.sampled_from([SCHEMA, SCHEMA + ".2"]),
        "sample_id": hex_text,
        "trace_id": hex_text,
        "span_id": st.none() | st.text("0123456789abcdef", min_size=16, max_size=16),
        "ts": timestamps,
        "app": st.text(min_size=1, max_size=8),
        "env": st.text(max_size=8),
        "release": st.text(max_size=8),
        "category": st.none() | st.text(max_size=8),
        "provider": st.sampled_from(["anthropic", "openai"]),
        "operation": st.just("chat"),
        "request_model": st.text(max_size=8),
        "response_model": st.none() | st.text(max_size=8),
        "params": st.dictionaries(st.text(max_size=6), json_values, max_size=3),
        "system_instructions": st.none() | parts,
        "input_messages": messages,
        "output_messages": messages,
        "finish_reason": st.none() | st.sampled_from(["stop", "length"]),
        "usage": st.fixed_dictionaries({key: counts for key in USAGE_KEYS}),
        "latency_ms": st.floats(min_value=0, max_value=1e7) | st.integers(min_value=0, max_value=10**7),
        "ttft_ms": st.none() | st.floats(min_value=0, max_value=1e7),
        "error": st.none() | st.fixed_dictionaries({"type": st.text(max_size=8), "message": st.text(max_size=20)}),
        "sampling": st.fixed_dictionaries(
            {"rate": st.floats(min_value=1e-9, max_value=1.0), "rule": st.sampled_from(["trace_id_ratio", "error"])}
        ),
        "redactions": st.dictionaries(st.sampled_from(["email", "phone"]), st.integers(min_value=1, max_value=9)),
        "truncated": st.booleans(),
        "attributes": st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    }
)

# Where a mutation may land: every field, and the nested values the checks read.
PATHS = [
    *[(name,) for name in FIELDS],
    *[("usage", key) for key in USAGE_KEYS],
    ("sampling", "rate"), ("sampling", "rule"), ("error", "type"), ("error", "message"),
    ("input_messages", 0), ("input_messages", 0, "role"), ("input_messages", 0, "parts"),
    ("output_messages", 0, "parts", 0), ("output_messages", 0, "parts", 0, "type"),
    ("system_instructions", 0), ("params", "x"), ("attributes", "x"), ("unknown_field",),
]  # fmt: skip
_DELETE = object()


def _apply(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = record
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return
    last = path[-1]
    if isinstance(target, dict) or (isinstance(target, list) and isinstance(last, int) and last < len(target)):
        if value is _DELETE:
            if isinstance(target, dict):
                target.pop(last, None)
            else:
                del target[last]
        else:
            target[last] = value


def _to_bytes(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, ensure_ascii=False)
    for raw in RAW_NUMBERS:  # a placeholder string → the raw number token
        text = text.replace(json.dumps(_RAW + raw, ensure_ascii=False), raw)
    return text.encode("utf-8")


def _has_raw(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(_RAW)
    if isinstance(value, dict):
        return any(_has_raw(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_raw(v) for v in value)
    return False


mutations = st.lists(st.tuples(st.sampled_from(PATHS), json_values | st.just(_DELETE)), max_size=3)
byte_damage = st.none() | st.tuples(st.sampled_from(["cut", "flip"]), st.floats(0, 1), st.integers(0, 255))


@settings(max_examples=400, deadline=None, database=None)
@given(record=records, changes=mutations, damage=byte_damage)
def test_fast_and_reference_paths_agree(record: dict[str, Any], changes: list[Any], damage: Any) -> None:
    for path, value in changes:
        _apply(record, path, value)
    value = _to_bytes(record)
    if damage is not None:
        kind, where, byte = damage
        at = int(where * (len(value) - 1))
        value = value[:at] if kind == "cut" else value[:at] + bytes([byte]) + value[at + 1 :]
    assert_agree(value)


@settings(max_examples=200, deadline=None, database=None)
@given(record=records)
def test_generated_records_are_stored_and_agree(record: dict[str, Any]) -> None:
    # A record built from the typed definition is a row, but for a naive timestamp or a raw number.
    result = assert_agree(_to_bytes(record))
    naive = not record["ts"].endswith("Z") and "+" not in record["ts"]
    assert result[0] == "row" or naive or _has_raw(record), result


# -- the class that blocked msgspec: an unreadable number where the fast path does not look --
@pytest.mark.parametrize("raw", RAW_NUMBERS)
@pytest.mark.parametrize(
    "where",
    ["extra top-level field", "params", "attributes", "output message", "usage", "latency_ms"],
)
def test_big_numbers_anywhere_get_one_verdict(raw: str, where: str) -> None:
    record = make_record(7)
    slot = json.dumps(_RAW + raw)
    text = json.dumps(record)
    if where == "extra top-level field":
        text = text[:-1] + f', "x_future_field": {{"nested": [{slot}]}}}}'
    elif where == "params":
        text = text.replace('"params": {"max_tokens": 1024}', f'"params": {{"max_tokens": {slot}}}')
    elif where == "attributes":
        text = text.replace('"attributes": {"prompt_version": "v7"}', f'"attributes": {{"prompt_version": {slot}}}')
    elif where == "output message":
        text = text.replace('"finish_reason": "stop"}]', f'"finish_reason": "stop", "score": {slot}}}]', 1)
    elif where == "usage":
        text = text.replace('"cache_write_input_tokens": null', f'"cache_write_input_tokens": {slot}')
    else:
        text = text.replace(f'"latency_ms": {record["latency_ms"]}', f'"latency_ms": {slot}')
    assert slot in text
    result = assert_agree(text.replace(slot, raw).encode())
    if raw in ("1e400", "-1e400"):  # a double cannot hold it: never stored, whatever field it is in
        assert result[:2] == ("dead_letter", "invalid_json")


def test_every_wire_field_is_read_by_both_paths() -> None:
    # Deleting a required field, or breaking any field's type, is seen by the fast path too.
    base = make_record(3)
    for field in wire_fields():
        broken = dict(base)
        del broken[field.name]
        assert (assert_agree(encode(broken))[0] == "row") == field.nullable, field
        wrong = dict(base, **{field.name: [] if field.kind != "array" else "not a list"})
        assert assert_agree(encode(wrong))[0] == "dead_letter", field


@example(b"")
@given(st.binary(max_size=64))
@settings(max_examples=100, deadline=None, database=None)
def test_arbitrary_bytes_agree(value: bytes) -> None:
    assert_agree(value)


def test_every_wire_field_has_a_column() -> None:
    from reviewer.ingest.decode import SAMPLE_COLUMNS

    flattened = {
        "usage": USAGE_KEYS,
        "error": ("error_type", "error_message"),
        "sampling": ("sampling_rate", "sampling_rule"),
    }
    for name in FIELDS:
        assert set(flattened.get(name, (name,))) <= set(SAMPLE_COLUMNS), name
