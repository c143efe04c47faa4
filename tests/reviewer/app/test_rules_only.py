"""The review app says when verdicts rest on rule checks alone: a window notice, the runs' judge, the sample."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from reviewer.ingest.decode import decode
from reviewer.rules_only import RULES_ONLY_LABEL
from reviewer.store import JudgeRun, Judgment, Sample, ensure_schema, make_engine, refresh_sample_verdicts
from tests.records import encode, make_record
from tests.reviewer.app.seed import Seeded

OpenApp = Callable[..., AppTest]
BADGE = f":orange-badge[{RULES_ONLY_LABEL}]"
REASON = "partial: 2 of 3 criteria unscored: acknowledges_issue, clear_next_steps (no judge configured)"
CHECKS = [{"id": "concise", "kind": "rule", "verdict": "pass", "explanation": "length 470 <= 2000", "reason": None}]


def _criteria(verdict: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [{"id": name, "kind": "llm", "verdict": verdict, "explanation": reason or "fine", "reason": reason}
            for name in ("acknowledges_issue", "clear_next_steps")]


@pytest.fixture
def rules_only_store(tmp_path: Path) -> tuple[Seeded, list[str]]:
    """Three samples of the current window: two judged without a key (run 1), one by the LLM (run 2)."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    records = [make_record(i, category="billing", ts=(now - timedelta(hours=2 + i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
               for i in range(3)]
    rows = [decode(encode(r), topic="t", partition=0, offset=i, ingested_at=now) for i, r in enumerate(records)]
    ids = [row["sample_id"] for row in rows]
    with engine.begin() as connection:
        connection.execute(Sample.__table__.insert(), rows)  # type: ignore[attr-defined]
    with Session(engine) as session:
        runs = [JudgeRun(status="completed", rubric_names=["support"], judged=2, passed=2),
                JudgeRun(status="completed", rubric_names=["support"], judged=1, passed=1)]
        session.add_all(runs)
        session.commit()
        no_key, with_key = (run.id for run in runs)
        session.add_all([
            *(Judgment(sample_id=sample_id, rubric_name="support", rubric_version="v1", judge_model="none",
                       verdict="pass", unscored_reason=REASON, criteria=_criteria("unscored", "no judge configured"),
                       checks=CHECKS, run_id=no_key, created_at=now - timedelta(minutes=30)) for sample_id in ids[:2]),
            Judgment(sample_id=ids[2], rubric_name="support", rubric_version="v1", judge_model="claude-judge-test",
                     verdict="pass", criteria=_criteria("pass"), checks=CHECKS, run_id=with_key,
                     created_at=now - timedelta(minutes=20)),
        ])
        session.commit()
        refresh_sample_verdicts(session.connection())
        session.commit()
    engine.dispose()
    return Seeded(url=url, now=now), ids


def _texts(app: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


NOTICE = (f"{BADGE} 2 of 3 verdicts in the current window rest on rule checks alone (judge_model none: judged "
          "without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL).  \nTheir pass rates are the rule checks' alone: give "
          "the judge ANTHROPIC_API_KEY (and --require-llm) to judge the LLM criteria.")


@pytest.mark.parametrize("page", [None, "categories", "alerts"], ids=["overview", "categories", "alerts"])
def test_window_pages_carry_the_rules_only_notice(open_app: OpenApp, rules_only_store: tuple[Seeded, list[str]],
                                                  page: str | None) -> None:
    store, _ = rules_only_store
    app = open_app(store, page)
    assert NOTICE in _texts(app, "warning")


def test_no_notice_when_the_llm_judged(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded)
    assert not any(RULES_ONLY_LABEL in text for kind in ("warning", "markdown", "caption") for text in _texts(app, kind))


def test_runs_page_names_the_judge_and_the_reasons(open_app: OpenApp, rules_only_store: tuple[Seeded, list[str]]) -> None:
    store, _ = rules_only_store
    app = open_app(store, "runs")
    runs = app.dataframe[0].value
    assert dict(zip(runs["run"], runs["judge"], strict=True)) == {2: "LLM", 1: "rules only"}
    assert any(text.startswith(f"{BADGE} judge 'rules only'") for text in _texts(app, "caption"))
    app.selectbox(key="runs_selected").set_value(1).run()
    assert app.dataframe[1].value["reason"].tolist() == [REASON, REASON]


def test_sample_detail_shows_the_badge_and_what_was_skipped(open_app: OpenApp,
                                                             rules_only_store: tuple[Seeded, list[str]]) -> None:
    store, ids = rules_only_store
    app = open_app(store, "samples")
    app.text_input(key="samples_open_id").input(ids[0]).run()
    markdown = _texts(app, "markdown")
    assert any(f"verdict :green-badge[pass] {BADGE}" in text for text in markdown)
    assert any(f"**support**@`v1` · none · :green-badge[pass] {BADGE}" in text for text in markdown)
    assert "Partial: 2 of 3 criteria unscored: acknowledges_issue, clear_next_steps (no judge configured)" in _texts(
        app, "warning")
    app.text_input(key="samples_open_id").input(ids[2]).run()
    assert not any(BADGE in text for text in _texts(app, "markdown"))
