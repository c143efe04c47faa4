"""decode() agrees with the shipped JSON Schema, and names what is wrong with poison."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import jsonschema
import pytest

import sampler
from reviewer.ingest.decode import (
    DEFAULT_MAX_RECORD_BYTES,
    SAMPLE_COLUMNS,
    PoisonRecord,
    decode,
    decode_row,
    row_tuple,
    sqlite_timestamp,
)
from sampler._state import STATE

NOW = datetime(2026, 11, 22, tzinfo=timezone.utc)
VALIDATOR = jsonschema.Draft202012Validator(sampler.json_schema())


@pytest.fixture(scope="module")
def good_record() -> dict:
    transport = sampler.MemoryTransport()
    sampler.init(app="bot", rate=1.0, transport=transport)
    with sampler.tag(category="billing", tier="gold"):
        sampler.record_call(
            model="claude-x",
            system="Be kind.",
            input_messages=[{"role": "user", "content": "charged twice"}],
            output_messages="Refunded.",
            usage={"input_tokens": 10, "output_tokens": 3},
            latency_ms=12.5,
            finish_reason="stop",
        )
    assert sampler.flush(5)
    current = STATE.sampler
    STATE.sampler = None
    assert current is not None
    current.shutdown(1.0)
    (record,) = transport.records()
    return record


def _decode(record: dict | bytes) -> dict:
    value = record if isinstance(record, bytes) else json.dumps(record).encode()
    return decode(value, topic="t", partition=1, offset=7, ingested_at=NOW)


def test_a_sampler_record_becomes_a_row(good_record: dict) -> None:
    VALIDATOR.validate(good_record)
    row = _decode(good_record)
    assert row["sample_id"] == good_record["sample_id"]
    assert row["category"] == "billing" and row["attributes"] == {"tier": "gold"}
    assert row["ts"].tzinfo is not None and row["ts"].isoformat().startswith(good_record["ts"][:19])
    assert (row["input_tokens"], row["output_tokens"]) == (10, 3)
    assert (row["input_chars"], row["output_chars"]) == (len("charged twice"), len("Refunded."))
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("t", 1, 7)
    assert row["error_type"] is None and row["sampling_rate"] == 1.0


def test_null_category_is_uncategorized(good_record: dict) -> None:
    assert _decode(dict(good_record, category=None))["category"] == "uncategorized"


def test_minor_schema_versions_are_accepted(good_record: dict) -> None:
    assert _decode(dict(good_record, schema="tastevin.sample/v1.3"))["schema"] == "tastevin.sample/v1.3"


def _mutate(record: dict, path: str, value: object) -> dict:
    out = copy.deepcopy(record)
    target = out
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return out


_DELETE = object()

POISON = [
    ("unknown-major", "schema", "tastevin.sample/v2", "unknown_schema"),
    ("no-schema", "schema", _DELETE, "missing_field"),
    ("no-sample-id", "sample_id", _DELETE, "missing_field"),
    ("bad-sample-id", "sample_id", "xyz", "bad_type"),
    ("bad-trace-id", "trace_id", "ABC", "bad_type"),
    ("bad-span-id", "span_id", "1234", "bad_type"),
    ("no-ts", "ts", _DELETE, "missing_field"),
    ("bad-ts", "ts", "yesterday", "bad_type"),
    ("naive-ts", "ts", "2026-11-22T00:00:00", "bad_type"),
    ("no-app", "app", _DELETE, "missing_field"),
    ("app-number", "app", 5, "bad_type"),
    ("messages-not-list", "input_messages", {"role": "user"}, "bad_type"),
    ("message-no-parts", "input_messages", [{"role": "user"}], "bad_type"),
    ("latency-string", "latency_ms", "fast", "bad_type"),
    ("latency-bool", "latency_ms", True, "bad_type"),
    ("usage-negative", "usage.output_tokens", -1, "bad_type"),
    ("usage-float", "usage.input_tokens", 1.5, "bad_type"),
    ("rate-zero", "sampling.rate", 0, "bad_type"),
    ("rate-above-one", "sampling.rate", 2, "bad_type"),
    ("no-sampling", "sampling", _DELETE, "missing_field"),
    ("truncated-string", "truncated", "no", "bad_type"),
    ("error-shape", "error", {"type": "X"}, "bad_type"),
]


@pytest.mark.parametrize(("path", "value", "reason"), [p[1:] for p in POISON], ids=[p[0] for p in POISON])
def test_poison_fields_are_rejected_with_a_reason(good_record: dict, path: str, value: object, reason: str) -> None:
    bad = _mutate(good_record, path, value)
    with pytest.raises(PoisonRecord) as raised:
        _decode(bad)
    assert raised.value.reason == reason
    assert not VALIDATOR.is_valid(bad)  # the JSON Schema agrees


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json at all", "invalid_json"),
        (b'{"schema": "tastevin.sample/v1", "app": "\xff\xfe"}', "invalid_utf8"),
        (b"[1, 2, 3]", "not_an_object"),
        (None, "invalid_json"),
        (b'{"pad": "' + b"x" * (1024 * 1024) + b'"}', "oversize"),
    ],
    ids=["not-json", "not-utf8", "array", "tombstone", "oversize"],
)
def test_undecodable_values(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode(value, topic="t", partition=0, offset=0, ingested_at=NOW)
    assert raised.value.reason == reason


# -- decode_row: the ingester's fast path gives decode()'s verdicts and values ----------
def _row_of(value: bytes, *, text_timestamps: bool) -> tuple:
    ingested_at = sqlite_timestamp(NOW) if text_timestamps else NOW
    return decode_row(value, "t", 1, 7, ingested_at, DEFAULT_MAX_RECORD_BYTES, text_timestamps)


@pytest.mark.parametrize("text_timestamps", [False, True], ids=["datetimes", "sqlite-text"])
@pytest.mark.parametrize(
    "ts",
    ["2026-11-22T10:00:00.123456Z", "2026-11-22T10:00:00Z", "2026-11-22T12:00:00.5+02:00", "2026-11-22T10:00:00.000001+00:00"],
    ids=["canonical", "no-fraction", "offset", "zero-offset"],
)
def test_decode_row_stores_what_decode_returns(good_record: dict, ts: str, text_timestamps: bool) -> None:
    value = json.dumps(dict(good_record, ts=ts)).encode()
    row = decode(value, topic="t", partition=1, offset=7, ingested_at=NOW)
    assert _row_of(value, text_timestamps=text_timestamps) == row_tuple(row, text_timestamps=text_timestamps)
    assert len(SAMPLE_COLUMNS) == len(row) and list(row) == list(SAMPLE_COLUMNS)


@pytest.mark.parametrize(("path", "value", "reason"), [p[1:] for p in POISON], ids=[p[0] for p in POISON])
def test_decode_row_rejects_poison_with_the_same_reason(good_record: dict, path: str, value: object, reason: str) -> None:
    bad = json.dumps(_mutate(good_record, path, value)).encode()
    with pytest.raises(PoisonRecord) as raised:
        _row_of(bad, text_timestamps=True)
    assert (raised.value.reason, raised.value.detail) == (reason, _reason_of_decode(bad)[1])


def _reason_of_decode(value: bytes) -> tuple[str, str]:
    with pytest.raises(PoisonRecord) as raised:
        _decode(value)
    return raised.value.reason, raised.value.detail


def test_decode_row_dead_letters_json_too_deep_to_write_back(good_record: dict) -> None:
    nested: list = []
    for _ in range(300):  # orjson reads up to 1024 levels but writes at most 255
        nested = [nested]
    value = json.dumps(dict(good_record, params={"x": nested})).encode()
    assert _decode(value)["params"] == {"x": nested}
    with pytest.raises(PoisonRecord) as raised:
        _row_of(value, text_timestamps=False)
    assert raised.value.reason == "bad_type"
