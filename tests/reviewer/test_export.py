"""``tastevin export``: the exact JSONL lines, the filters, streaming in pages, the output file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from reviewer.browse import SampleFilters
from reviewer.cli_export import export, parse_time
from reviewer.export import iter_export_rows
from reviewer.ingest.decode import decode
from reviewer.store import Judgment, Review, Rubric, Sample, ensure_schema, make_engine
from tests.records import encode, make_record

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
CRITERIA = [{"id": "clear_next_steps", "question": "Provides clear next steps."}]
CHECKS = [{"id": "concise", "type": "max_length", "chars": 2000}]


def _result(verdict: str) -> list[dict[str, Any]]:
    return [{"id": "clear_next_steps", "kind": "llm", "verdict": verdict, "explanation": f"judged {verdict}",
             "reason": None}]


@pytest.fixture
def store(sqlite_url: str) -> Iterator[tuple[str, Engine, list[dict[str, Any]]]]:
    engine, records = build_store(sqlite_url)
    yield sqlite_url, engine, records
    engine.dispose()


def build_store(url: str) -> tuple[Engine, list[dict[str, Any]]]:
    """Four samples: s0 judged pass and reviewed pass, s1 judged fail and reviewed fail, s2 judged pass
    (no review) and s3 unjudged, s2 and s3 with the same ts; s0 also has a superseded fail."""
    engine = make_engine(url)
    ensure_schema(engine)
    records = [make_record(0, category="billing"), make_record(1, category="billing"),
               make_record(2, category="shipping"), make_record(3, category="shipping", ts="2026-11-01T00:00:02.000000Z")]
    rows = [decode(encode(r), topic="t", partition=0, offset=i, ingested_at=T0) for i, r in enumerate(records)]
    with engine.begin() as connection:
        connection.execute(Sample.__table__.insert(), rows)  # type: ignore[attr-defined]
    ids = [r["sample_id"] for r in records]
    with Session(engine) as session:
        session.add(Rubric(name="support", version="v1", content_hash="0" * 64, criteria=CRITERIA, checks=CHECKS,
                           pass_rule={"mode": "all"}))
        judged = datetime(2026, 11, 2, tzinfo=timezone.utc)
        session.add(Judgment(sample_id=ids[0], rubric_name="support", rubric_version="v0", judge_model="judge-x",
                             verdict="fail", criteria=_result("fail"), created_at=T0))
        for sample_id, verdict in ((ids[0], "pass"), (ids[1], "fail"), (ids[2], "pass")):
            session.add(Judgment(sample_id=sample_id, rubric_name="support", rubric_version="v1", judge_model="judge-x",
                                 verdict=verdict, criteria=_result(verdict), created_at=judged))
        session.commit()
        reviewed = datetime(2026, 11, 3, tzinfo=timezone.utc)
        for sample_id, verdict, note in ((ids[0], "pass", "good"), (ids[1], "fail", None)):
            judgment = session.exec(
                select(Judgment).where(Judgment.sample_id == sample_id, Judgment.rubric_version == "v1")).one()
            session.add(Review(sample_id=sample_id, judgment_id=judgment.id, reviewer="ana", verdict=verdict,
                               agrees_with_judge=True, note=note, created_at=reviewed))
        session.commit()
    return engine, records


RUBRIC = {"name": "support", "version": "v1", "criteria": CRITERIA, "checks": CHECKS, "pass_rule": {"mode": "all"}}


def _line(record: dict[str, Any], *, verdict: str | None, expected: str | None = None,
          review: dict[str, Any] | None = None) -> dict[str, Any]:
    """The documented line for ``record`` (keys in the documented order)."""
    verdicts = [] if verdict is None else [{
        "rubric": "support", "rubric_version": "v1", "judge_model": "judge-x", "verdict": verdict,
        "unscored_reason": None, "rules_only": False, "criteria": _result(verdict), "checks": [], "run_id": None,
        "judged_at": "2026-11-02T00:00:00.000000Z"}]
    return {
        "schema": "tastevin.eval/v1",
        "id": record["sample_id"],
        "ts": record["ts"],
        "category": record["category"],
        "app": "support-bot",
        "model": "claude-sonnet-4-5",
        "input": {"system_instructions": [{"type": "text", "content": "You are a helpful support agent."}],
                  "messages": record["input_messages"]},
        "output": record["output_messages"],
        "expected_output": record["output_messages"] if expected else None,
        "expected_output_source": expected,
        "rubric": [] if verdict is None else [RUBRIC],
        "verdict": verdict,
        "verdicts": verdicts,
        "review": review,
        "attributes": {"prompt_version": "v7"},
    }


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for line in lines)


def _expected(records: list[dict[str, Any]], *, expected_from: str = "review") -> list[dict[str, Any]]:
    s0, s1, s2, s3 = records
    review0 = {"reviewer": "ana", "verdict": "pass", "agrees_with_judge": True, "note": "good",
               "reviewed_at": "2026-11-03T00:00:00.000000Z"}
    review1 = {"reviewer": "ana", "verdict": "fail", "agrees_with_judge": True, "note": None,
               "reviewed_at": "2026-11-03T00:00:00.000000Z"}
    tie = sorted([s2, s3], key=lambda r: r["sample_id"])
    lines = {
        s0["sample_id"]: _line(s0, verdict="pass", expected="review", review=review0),
        s1["sample_id"]: _line(s1, verdict="fail", review=review1),
        s2["sample_id"]: _line(s2, verdict="pass", expected="judge" if expected_from == "judge" else None),
        s3["sample_id"]: _line(s3, verdict=None),
    }
    return [lines[r["sample_id"]] for r in (s0, s1, *tie)]


def test_cli_writes_the_documented_lines_to_stdout(store: tuple[str, Engine, list[dict[str, Any]]]) -> None:
    url, _, records = store
    result = CliRunner().invoke(export, ["--db", url])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == _jsonl(_expected(records))
    assert result.stderr == f"exported 4 samples from {url} to stdout\n"


def test_expected_output_from_the_judge(store: tuple[str, Engine, list[dict[str, Any]]]) -> None:
    url, _, records = store
    result = CliRunner().invoke(export, ["--db", url, "--expected-from", "judge"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == _jsonl(_expected(records, expected_from="judge"))


@pytest.mark.parametrize(
    ("args", "indexes"),
    [
        (["--verdict", "pass"], [0, 2]),
        (["--verdict", "fail"], [1]),
        (["--verdict", "unscored"], []),
        (["--category", "shipping"], [2, 3]),
        (["--rubric", "support"], [0, 1, 2]),
        (["--since", "2026-11-01T00:00:01Z", "--until", "2026-11-01T00:00:02"], [1]),
        (["--limit", "2"], [0, 1]),
        (["--model", "gpt-x"], []),
    ],
    ids=["pass", "fail", "unscored", "category", "rubric", "since-until", "limit", "model"],
)
def test_cli_filters(store: tuple[str, Engine, list[dict[str, Any]]], args: list[str], indexes: list[int]) -> None:
    url, _, records = store
    result = CliRunner().invoke(export, ["--db", url, *args])
    assert result.exit_code == 0, result.output
    wanted = {records[i]["sample_id"] for i in indexes}
    assert result.stdout_bytes == _jsonl([line for line in _expected(records) if line["id"] in wanted])


def test_cli_writes_the_file_only_when_complete(store: tuple[str, Engine, list[dict[str, Any]]], tmp_path: Path) -> None:
    url, _, records = store
    out = tmp_path / "dataset.jsonl"
    result = CliRunner().invoke(export, ["--db", url, "--out", str(out), "--verdict", "fail"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == _jsonl([line for line in _expected(records) if line["id"] == records[1]["sample_id"]])
    assert result.stdout_bytes == b"" and f"exported 1 sample from {url} to {out}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset.jsonl", "tastevin.db", "tastevin.db-shm",
                                                          "tastevin.db-wal"]


def test_pages_of_one_sample_lose_nothing_at_equal_timestamps(store: tuple[str, Engine, list[dict[str, Any]]]) -> None:
    _, engine, records = store
    lines = list(iter_export_rows(engine, SampleFilters(), chunk_size=1))
    assert _jsonl(lines) == _jsonl(_expected(records))
    assert [line["id"] for line in iter_export_rows(engine, SampleFilters(), chunk_size=2, limit=3)] == [
        line["id"] for line in _expected(records)[:3]]
    assert list(iter_export_rows(engine, SampleFilters(), limit=0)) == []


def test_bad_arguments(store: tuple[str, Engine, list[dict[str, Any]]]) -> None:
    url, engine, _ = store
    result = CliRunner().invoke(export, ["--db", url, "--since", "2026-11-02", "--until", "2026-11-01"])
    assert result.exit_code == 2 and "is not before --until" in result.output
    result = CliRunner().invoke(export, ["--db", url, "--since", "yesterday"])
    assert result.exit_code == 2 and "neither an ISO 8601 date/time" in result.output
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_export_rows(engine, SampleFilters(), chunk_size=0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("2026-11-01T12:30:00Z", datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc)),
        ("2026-11-01T14:30:00+02:00", datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc)),
        ("36h", datetime(2026, 11, 8, 12, tzinfo=timezone.utc)),
        ("2w", datetime(2026, 10, 27, tzinfo=timezone.utc)),
    ],
    ids=["date", "zulu", "offset", "hours-ago", "weeks-ago"],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text, now=datetime(2026, 11, 10, tzinfo=timezone.utc)) == expected


def test_parse_time_refuses_words() -> None:
    with pytest.raises(click.BadParameter):
        parse_time("last week")


def test_postgresql_exports_the_same_lines(pg_url: str) -> None:
    engine, records = build_store(pg_url)
    try:
        result = CliRunner().invoke(export, ["--db", pg_url, "--expected-from", "judge"])
    finally:
        engine.dispose()
    assert result.exit_code == 0, result.output
    # JSONB keeps its own key order inside objects: equal as JSON, not byte for byte.
    assert [json.loads(line) for line in result.stdout_bytes.splitlines()] == _expected(records, expected_from="judge")
