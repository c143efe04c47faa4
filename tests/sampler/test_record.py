"""Size cap: truncation field by field, never a silent drop."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

import sampler
from sampler.record import TRUNCATION_MARK, fit


def _record(**overrides) -> dict:  # type: ignore[no-untyped-def]
    base = {
        "schema": "tastevin.sample/v1",
        "sample_id": "0" * 32,
        "trace_id": "1" * 32,
        "span_id": None,
        "ts": "2026-11-22T00:00:00.000000Z",
        "app": "a",
        "env": "e",
        "release": "",
        "category": None,
        "provider": "anthropic",
        "operation": "chat",
        "request_model": "m",
        "response_model": None,
        "params": {},
        "system_instructions": [{"type": "text", "content": "be brief"}],
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "short question"}]}],
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "short answer"}]}],
        "finish_reason": None,
        "usage": {"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": None, "cache_write_input_tokens": None},
        "latency_ms": 1.0,
        "ttft_ms": None,
        "error": None,
        "sampling": {"rate": 1.0, "rule": "trace_id_ratio"},
        "redactions": {},
        "truncated": False,
        "attributes": {},
    }
    base.update(overrides)
    return base


def test_small_record_is_untouched() -> None:
    record = _record()
    data = fit(record, 4096)
    assert json.loads(data) == _record()


@pytest.mark.parametrize("cap", [4096, 10_000, 65_536], ids=lambda c: f"cap={c}")
def test_long_strings_are_cut_longest_first(cap: int) -> None:
    huge = "x" * 300_000
    record = _record(
        input_messages=[
            {"role": "user", "parts": [{"type": "text", "content": "keep me"}]},
            {"role": "user", "parts": [{"type": "text", "content": huge}]},
        ],
        output_messages=[{"role": "assistant", "parts": [{"type": "text", "content": "é" * 50_000}]}],
    )
    data = fit(record, cap)
    assert len(data) <= cap
    decoded = json.loads(data)
    jsonschema.Draft202012Validator(sampler.json_schema()).validate(decoded)
    assert decoded["truncated"] is True
    assert decoded["input_messages"][0]["parts"][0]["content"] == "keep me"
    assert decoded["input_messages"][1]["parts"][0]["content"].endswith(TRUNCATION_MARK)
    assert decoded["system_instructions"] == [{"type": "text", "content": "be brief"}]


def test_many_small_messages_lose_the_middle_turns() -> None:
    turns = [{"role": "user", "parts": [{"type": "text", "content": f"turn {i}"}]} for i in range(3000)]
    data = fit(_record(input_messages=turns), 8192)
    decoded = json.loads(data)
    assert len(data) <= 8192 and decoded["truncated"] is True
    contents = [m["parts"][0]["content"] for m in decoded["input_messages"]]
    assert contents[0] == "turn 0" and contents[-1] == "turn 2999"


# -- the RFC 3339 prefix cache is shared by every worker ----------------------------------
def _reference_ts(seconds: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".000007Z"


@pytest.mark.parametrize("stop_at", range(1, 9), ids=lambda n: f"after-line-{n}")
def test_rfc3339_stays_right_when_another_worker_runs_between_any_two_lines(stop_at: int) -> None:
    """Two workers overlap while init() replaces a sampler. Run a second call (another
    second) at each line boundary of a first call, deterministically, with a line tracer."""
    import sys

    from sampler import record

    first, second = 1_700_000_000, 1_800_000_000
    record.rfc3339(0)  # the cache holds neither second
    code = record.rfc3339.__code__
    lines = 0
    interleaved: list[str] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
            if lines == stop_at:  # inside a trace function tracing is off: this call runs whole
                interleaved.append(record.rfc3339(second * 1_000_000_000 + 7000))
        return local

    def trace(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code is code else None

    sys.settrace(trace)
    try:
        got = record.rfc3339(first * 1_000_000_000 + 7000)
    finally:
        sys.settrace(None)
    assert got == _reference_ts(first)
    assert interleaved in ([], [_reference_ts(second)])
    # and whatever the cache holds now is a consistent pair
    assert record.rfc3339(first * 1_000_000_000 + 7000) == _reference_ts(first)
    assert record.rfc3339(second * 1_000_000_000 + 7000) == _reference_ts(second)


# -- one definition: the typed record, and the JSON Schema shipped for other languages ------
def test_the_shipped_json_schema_describes_the_typed_record() -> None:
    from sampler import record

    schema = sampler.json_schema()
    fields = record.wire_fields()
    assert list(schema["properties"]) == [f.name for f in fields] == list(record.FIELDS)
    assert sorted(schema["required"]) == sorted(f.name for f in fields if not f.nullable)
    for field in fields:
        assert schema["properties"][field.name]["type"] == ([field.kind, "null"] if field.nullable else field.kind), field
    nested = {"usage": record.Usage, "error": record.ErrorInfo, "sampling": record.Sampling}
    for name, typed in nested.items():
        assert list(schema["properties"][name]["properties"]) == list(typed.__annotations__), name
        assert sorted(schema["properties"][name]["required"]) == sorted(typed.__required_keys__), name
    # The converters fill the call fields; build adds the rest.
    assert set(record.CALL_FIELDS) < set(record.FIELDS)
    assert set(record.FIELDS) - set(record.CALL_FIELDS) == {
        "schema", "sample_id", "app", "env", "release", "category", "sampling", "redactions", "truncated", "attributes"
    }  # fmt: skip
