"""Verdicts made on rule checks alone are counted per window and per run, and `tastevin alert` says so."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reviewer.cli import cli
from reviewer.queries import TimeWindow
from reviewer.rules_only import RULES_ONLY_LABEL, RulesOnly, runs_rules_only, window_rules_only
from reviewer.store import JudgeRun, Judgment, ensure_schema, make_engine, refresh_sample_verdicts
from tests.reviewer.stats.conftest import make_sample

NOW = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
CURRENT = TimeWindow(NOW - timedelta(days=1), NOW)
BASELINE = TimeWindow(CURRENT.start - timedelta(days=7), CURRENT.start)
SKIPPED = [{"id": "tone", "kind": "llm", "verdict": "unscored", "explanation": "no judge configured",
            "reason": "no judge configured"}]
JUDGED = [{"id": "tone", "kind": "llm", "verdict": "pass", "explanation": "polite", "reason": None}]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    created = make_engine(url)
    ensure_schema(created, auto_upgrade=True)
    yield created
    created.dispose()


def _judgment(sample_id: str, *, model: str, criteria: list[dict[str, Any]], run_id: int | None,
              at: datetime, rubric: str = "support") -> Judgment:
    return Judgment(sample_id=sample_id, rubric_name=rubric, rubric_version=f"{rubric}-v1", judge_model=model,
                    verdict="pass", criteria=criteria, run_id=run_id, created_at=at,
                    unscored_reason="partial: 1 of 2 criteria unscored: tone (no judge configured)"
                    if model == "none" and criteria else None)


def _seed(engine: Engine) -> tuple[int, int]:
    """In the current window: 3 samples judged without a key (run 1), one of them judged again by the LLM
    (run 2), one judged by the LLM only, and a rules-only rubric everywhere; one rules-only sample before."""
    samples = [make_sample(NOW - timedelta(hours=1 + i)) for i in range(4)] + [make_sample(NOW - timedelta(days=3))]
    with Session(engine, expire_on_commit=False) as session:
        runs = [JudgeRun(status="completed"), JudgeRun(status="completed")]
        session.add_all([*samples, *runs])
        session.commit()
        first, second = (run.id for run in runs)
        assert first is not None and second is not None
        early, late = NOW - timedelta(minutes=30), NOW - timedelta(minutes=10)
        session.add_all([
            *(_judgment(s.sample_id, model="none", criteria=SKIPPED, run_id=first, at=early)
              for s in (samples[0], samples[1], samples[2], samples[4])),
            _judgment(samples[2].sample_id, model="claude-x", criteria=JUDGED, run_id=second, at=late),
            _judgment(samples[3].sample_id, model="claude-x", criteria=JUDGED, run_id=second, at=late),
            # A rubric without LLM criteria is judged without an LLM by design: never "rules only".
            *(_judgment(s.sample_id, model="none", criteria=[], run_id=first, at=early, rubric="format")
              for s in samples),
        ])
        session.commit()
    with engine.begin() as connection:
        refresh_sample_verdicts(connection)
    return first, second


def test_counts_per_window_and_per_run(engine: Engine) -> None:
    first, second = _seed(engine)
    # Counting judgments of the current window: samples 0 and 1 rules-only; 2's LLM judgment supersedes.
    assert window_rules_only(engine, CURRENT) == RulesOnly(judgments=4, rules_only=2)
    assert window_rules_only(engine, BASELINE) == RulesOnly(judgments=1, rules_only=1)
    assert window_rules_only(engine, TimeWindow(NOW, NOW + timedelta(days=1))) == RulesOnly()
    # Per run, what the run itself did (superseded or not).
    assert runs_rules_only(engine, [first, second, 99]) == {
        first: RulesOnly(judgments=4, rules_only=4), second: RulesOnly(judgments=2, rules_only=0), 99: RulesOnly()}
    assert runs_rules_only(engine, []) == {}


@pytest.mark.parametrize(
    ("counts", "note"),
    [
        (RulesOnly(), None),
        (RulesOnly(judgments=5, rules_only=0), None),
        (RulesOnly(judgments=3, rules_only=3),
         f"{RULES_ONLY_LABEL}: all 3 verdicts in the current window rest on rule checks alone "
         "(judge_model none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)"),
        (RulesOnly(judgments=1200, rules_only=2),
         f"{RULES_ONLY_LABEL}: 2 of 1,200 verdicts in the current window rest on rule checks alone "
         "(judge_model none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)"),
    ],
    ids=["nothing", "all-llm", "all-rules-only", "some-rules-only"],
)
def test_note(counts: RulesOnly, note: str | None) -> None:
    assert counts.note("in the current window") == note


def test_alert_says_when_a_window_is_rules_only(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    try:
        _seed(engine)
    finally:
        engine.dispose()
    args = ["alert", "--db", sqlite_url, "--now", NOW.isoformat(), "--check", "score_drop"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    notes = [line for line in text.output.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: {RULES_ONLY_LABEL}: 2 of 4 verdicts in the current window rest on rule checks alone (judge_model "
        "none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)",
        f"note: {RULES_ONLY_LABEL}: the one verdict in the baseline window rests on rule checks alone (judge_model "
        "none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)"]
    report = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert report["rules_only"] == {"current": {"judgments": 4, "rules_only": 2},
                                    "baseline": {"judgments": 1, "rules_only": 1}}
