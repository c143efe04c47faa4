"""Datasets: the file shapes, content-hashed versions, the store source, export round trips, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from judge.dataset_cases import Case, CaseError, parse_cases
from judge.datasets import cases_from_store, dataset_cases, find_dataset, list_datasets, store_dataset
from reviewer.browse import SampleFilters
from reviewer.cli import cli
from reviewer.store import Dataset, DatasetCase, DatasetVersion, ensure_schema, make_engine
from tests.judge.conftest import records, seed
from tests.reviewer.test_export import build_store

COMMON = [
    {"id": "c1", "category": "billing", "input": "I was charged twice for my order.",
     "expected_output": None, "expected_intent": "refund",
     "rubric": ["Acknowledges the double charge", "Provides clear next steps"]},
    {"id": "c2", "category": "shipping",
     "input": [{"role": "user", "content": "Where is my parcel?"},
               {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}]},
               {"role": "user", "content": "Tracking says nothing."}],
     "system_prompt": "You are a support agent.", "expected_output": "It ships tomorrow."},
    {"id": "c3", "input": "hello", "rubric": [{"id": "greets", "question": "Greets back"}],
     "reference_output": "Hi!", "attributes": {"tier": "gold"}},
]


def _jsonl(items: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Engine]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    made = make_engine(url)
    ensure_schema(made)
    yield made
    made.dispose()


def _counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (session.exec(select(func.count()).select_from(Dataset)).one(),
                session.exec(select(func.count()).select_from(DatasetVersion)).one(),
                session.exec(select(func.count()).select_from(DatasetCase)).one())


# --- the file shapes ----------------------------------------------------------------------


def test_the_common_shape_is_read_into_cases() -> None:
    cases = parse_cases(_jsonl(COMMON), source="cases.jsonl")
    assert [c.id for c in cases] == ["c1", "c2", "c3"]
    c1, c2, c3 = cases
    assert (c1.category, c1.input, c1.attributes) == ("billing", "I was charged twice for my order.",
                                                      {"expected_intent": "refund"})
    assert c1.criteria == [{"id": "acknowledges_the_double_charge", "question": "Acknowledges the double charge"},
                           {"id": "provides_clear_next_steps", "question": "Provides clear next steps"}]
    assert c2.input == [
        {"role": "user", "parts": [{"type": "text", "content": "Where is my parcel?"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Let me check."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Tracking says nothing."}]},
    ]
    assert (c2.system_prompt, c2.expected_output, c2.input_text) == (
        "You are a support agent.", "It ships tomorrow.", "Tracking says nothing.")
    assert (c3.category, c3.criteria, c3.reference_output, c3.attributes) == (
        "uncategorized", [{"id": "greets", "question": "Greets back"}], "Hi!", {"tier": "gold"})
    # A JSON array holds the same cases.
    assert parse_cases(json.dumps(COMMON)) == cases


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": "x", "category": "billing"}', "cases.jsonl: line 2: input: required field is missing"),
        ('{"id": "x", "input": 3}', "cases.jsonl: line 2: input: must be a string or a list of messages, not int"),
        ('{"input": "hi"}', "cases.jsonl: line 2: id: required field is missing"),
        ('{"id": "x", "input": "hi", "rubrik": []}', "cases.jsonl: line 2: rubrik: unknown field; did you mean 'rubric'?"),
        ('{"id": "x", "input": [{"role": "bot", "content": "hi"}]}',
         "cases.jsonl: line 2: input[0].role: must be one of user, assistant, system, not 'bot'"),
        ('{"id": "x", "input": "hi", "rubric": "be nice"}',
         "cases.jsonl: line 2: rubric: must be a list of criteria (questions), not str"),
        ('{"id": "x", "input": "hi"', "cases.jsonl: line 2: invalid JSON: Expecting ',' delimiter (column 26)"),
        ('["not", "an object"]', "cases.jsonl: line 2: a case must be a JSON object, not list"),
        ('{"id": "c1", "input": "again"}', "cases.jsonl: line 2: id: duplicate case id 'c1' (first on line 1)"),
    ],
    ids=["no-input", "bad-input", "no-id", "unknown-field", "bad-role", "rubric-not-list", "bad-json", "not-object",
         "duplicate-id"],
)
def test_a_malformed_line_names_the_line_and_the_field(line: str, problem: str) -> None:
    text = json.dumps(COMMON[0]) + "\n" + line + "\n"
    with pytest.raises(CaseError) as caught:
        parse_cases(text, source="cases.jsonl")
    assert caught.value.problems == [problem]


def test_a_bad_file_stores_nothing_and_the_cli_says_where(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(_jsonl(COMMON[:2]) + '{"id": "c9", "category": "billing"}\n')
    result = CliRunner().invoke(cli, ["datasets", "create", "support", "--from-file", str(path), "--db", sqlite_url])
    assert result.exit_code != 0
    assert "cases.jsonl: line 3: input: required field is missing" in str(result.exception)
    engine = make_engine(sqlite_url)
    try:
        ensure_schema(engine)
        assert _counts(engine) == (0, 0, 0)
    finally:
        engine.dispose()


# --- versions -----------------------------------------------------------------------------


def test_versions_are_content_hashed_and_a_name_points_at_the_latest(engine: Engine) -> None:
    cases = parse_cases(_jsonl(COMMON))
    first = store_dataset(engine, "support", cases, source={"kind": "file", "path": "a"})
    assert first.created and first.case_count == 3 and len(first.version) == 16
    assert first.categories == {"billing": 1, "shipping": 1, "uncategorized": 1}
    # The same content in another order (and from another file) is the same version.
    again = store_dataset(engine, "support", list(reversed(cases)), source={"kind": "file", "path": "b"})
    assert (again.created, again.version, again.id) == (False, first.version, first.id)
    assert _counts(engine) == (1, 1, 3)

    changed = store_dataset(engine, "support", cases[:2], source={"kind": "file", "path": "c"})
    assert changed.created and changed.version != first.version
    assert find_dataset(engine, "support").version == changed.version
    old = find_dataset(engine, f"support@{first.version[:8]}")
    assert (old.version, old.latest) == (first.version, False)
    assert [c.id for _, c in dataset_cases(engine, old.id)] == ["c1", "c2", "c3"]
    assert [d.version for d in list_datasets(engine)] == [changed.version]
    # Re-creating the first content points the name at it again, without a new version.
    back = store_dataset(engine, "support", cases, source={"kind": "file", "path": "a"})
    assert (back.created, back.id) == (False, first.id)
    assert find_dataset(engine, "support").version == first.version
    assert _counts(engine) == (1, 2, 5)


def test_stored_cases_come_back_equal(engine: Engine) -> None:
    cases = parse_cases(_jsonl(COMMON))
    stored = store_dataset(engine, "support", cases, source={})
    assert [c for _, c in dataset_cases(engine, stored.id)] == cases


def test_unknown_names_and_duplicates_are_errors(engine: Engine) -> None:
    from reviewer.errors import ConfigError

    with pytest.raises(ConfigError, match="no dataset 'nope' \\(no dataset is stored yet\\)"):
        find_dataset(engine, "nope")
    store_dataset(engine, "support", parse_cases(_jsonl(COMMON)), source={})
    with pytest.raises(ConfigError, match="has no version 'ffff'"):
        find_dataset(engine, "support@ffff")
    with pytest.raises(ConfigError, match="duplicate case id 'a'"):
        store_dataset(engine, "x", [Case(id="a", category="c", input="1"), Case(id="a", category="c", input="2")],
                      source={})


# --- from the store, and the round trips --------------------------------------------------


def test_export_then_dataset_from_file_is_the_dataset_from_the_store(tmp_path: Path, sqlite_url: str) -> None:
    engine, _ = build_store(sqlite_url)
    try:
        runner = CliRunner()
        out = tmp_path / "export.jsonl"
        assert runner.invoke(cli, ["export", "--db", sqlite_url, "--out", str(out)]).exit_code == 0
        from_file = runner.invoke(cli, ["datasets", "create", "traffic", "--from-file", str(out), "--db", sqlite_url])
        assert from_file.exit_code == 0, from_file.output
        stored = find_dataset(engine, "traffic")
        from_store = runner.invoke(cli, ["datasets", "create", "traffic", "--from-store", "--db", sqlite_url])
        assert from_store.exit_code == 0, from_store.output
        assert "found (already stored)" in from_store.output
        assert find_dataset(engine, "traffic").version == stored.version
        cases = dict((c.id, c) for _, c in dataset_cases(engine, stored.id))
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        s0 = cases[lines[0]["id"]]
        assert s0.source_sample_id == lines[0]["id"]
        assert s0.system_prompt == "You are a helpful support agent."
        assert s0.input == lines[0]["input"]["messages"]
        assert s0.reference_output is not None and s0.reference_output.startswith("I'm sorry for the delay.")
        assert s0.expected_output == s0.reference_output  # reviewed pass
        assert s0.production is not None and s0.production["verdict"] == lines[0]["verdict"]
        assert s0.production["verdicts"] == lines[0]["verdicts"]
        assert cases[lines[1]["id"]].expected_output is None  # reviewed fail

        # datasets export -> datasets create is the same version again.
        again = tmp_path / "again.jsonl"
        exported = runner.invoke(cli, ["datasets", "export", "traffic", "--db", sqlite_url, "--out", str(again)])
        assert exported.exit_code == 0, exported.output
        assert len(again.read_text().splitlines()) == 4
        copy = runner.invoke(cli, ["datasets", "create", "copy", "--from-file", str(again), "--db", sqlite_url])
        assert copy.exit_code == 0, copy.output
        assert find_dataset(engine, "copy").version == stored.version
    finally:
        engine.dispose()


def test_per_category_is_stratified_and_deterministic(engine: Engine) -> None:
    ids = seed(engine, records(40, categories=("billing", "billing", "billing", "shipping", "refunds")))
    filters = SampleFilters()
    first = cases_from_store(engine, filters, per_category=3)
    assert sorted(c.category for c in first) == ["billing"] * 3 + ["refunds"] * 3 + ["shipping"] * 3
    assert cases_from_store(engine, filters, per_category=3) == first
    # Nested: a larger N keeps the same cases and adds to them.
    larger = {c.id for c in cases_from_store(engine, filters, per_category=5)}
    assert {c.id for c in first} <= larger and len(larger) == 15
    assert {c.id for c in first} <= set(ids)
    only = cases_from_store(engine, SampleFilters(category="refunds"), per_category=100)
    assert len(only) == 8 and {c.category for c in only} == {"refunds"}
    assert len(cases_from_store(engine, filters, per_category=3, limit=4)) == 4
    assert len(cases_from_store(engine, filters, limit=7)) == 7


def test_the_cli_lists_shows_and_checks_its_options(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(COMMON), encoding="utf-8-sig")  # with the BOM some editors write
    runner = CliRunner()
    created = runner.invoke(cli, ["datasets", "create", "support", "--from-file", str(path), "--db", sqlite_url])
    assert created.exit_code == 0, created.output
    assert "3 cases stored; categories: billing 1, shipping 1, uncategorized 1" in created.output
    listed = json.loads(runner.invoke(cli, ["datasets", "list", "--json", "--db", sqlite_url]).output)
    [entry] = listed["datasets"]
    assert (entry["name"], entry["cases"], entry["latest"]) == ("support", 3, True)
    shown = runner.invoke(cli, ["datasets", "show", "support", "--db", sqlite_url])
    assert shown.exit_code == 0 and f"dataset support@{entry['version']} (latest): 3 cases" in shown.output
    assert "billing" in shown.output and "shipping" in shown.output
    both = runner.invoke(cli, ["datasets", "create", "x", "--from-file", str(path), "--from-store", "--db", sqlite_url])
    assert both.exit_code == 2 and "exactly one of --from-file FILE and --from-store" in both.output
    stray = runner.invoke(cli, ["datasets", "create", "x", "--from-file", str(path), "--per-category", "3",
                                "--db", sqlite_url])
    assert stray.exit_code == 2 and "--per-category only apply with --from-store" in stray.output
    empty = runner.invoke(cli, ["datasets", "create", "x", "--from-store", "--db", sqlite_url])
    assert empty.exit_code != 0 and "no sample matches these filters" in str(empty.exception)
