"""A store seeded for the review app: samples in a baseline and a current window, judgments,
a judge run, alerts and reviews — inserted with the models (samples through the ingest decoder).

Times are relative to ``now`` so the app's default windows (the last 7 days, and 28
days before) hold them. What is in it:

* baseline (8–30 days ago): billing 60 samples (57 pass), shipping 40 (36 pass), refunds 4;
* current (within the last 6.5 days): billing 60 (30 pass, 30 fail — a significant drop),
  shipping 40 (36 pass), refunds 3 (2 pass, 1 unscored), account 5 never judged; a third
  of the current samples ask for another model, so ``request_model`` drifts;
* one current billing sample judged twice: a superseded pass, then a fail;
* run 1 (completed) holds every judgment; alerts: ``score_drop:billing`` firing,
  ``drift:request_model`` resolved; three reviews of current billing judgments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from reviewer.ingest.decode import decode
from reviewer.store import (
    Alert, JudgeRun, Judgment, Review, Rubric, Sample, ensure_schema, make_engine, refresh_sample_verdicts,
)
from tests.records import encode, make_record

RUBRIC_NAME = "support"
RUBRIC_VERSION = "v1"
JUDGE_MODEL = "claude-judge-test"
CRITERIA = [{"id": "acknowledges_issue", "question": "Acknowledges the customer's problem."},
            {"id": "clear_next_steps", "question": "Provides clear next steps."}]
CHECKS = [{"id": "concise", "type": "max_length", "chars": 2000}]


@dataclass
class Seeded:
    """Ids the tests look for."""

    url: str
    now: datetime
    run_id: int = 0
    failing_billing: list[str] = field(default_factory=list)
    twice_judged: str = ""
    reviewed_judgments: list[int] = field(default_factory=list)
    unreviewed_fail_judgment: int = 0
    samples: int = 0


def _criteria(verdict: str) -> list[dict[str, Any]]:
    if verdict == "unscored":
        return [{"id": c["id"], "kind": "llm", "verdict": "unscored", "explanation": "reply did not parse",
                 "reason": "reply did not parse"} for c in CRITERIA]
    second = "pass" if verdict == "pass" else "fail"
    return [
        {"id": "acknowledges_issue", "kind": "llm", "verdict": "pass", "explanation": "Says sorry for the delay.",
         "reason": None},
        {"id": "clear_next_steps", "kind": "llm", "verdict": second,
         "explanation": "Gives a tracking link and a date." if second == "pass" else "No next step is given.",
         "reason": None},
    ]


def seed_store(url: str, *, now: datetime | None = None) -> Seeded:
    """Create the schema at ``url`` and fill it (see the module docstring)."""
    now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        return _fill(engine, url, now)
    finally:
        engine.dispose()


def _fill(engine: Engine, url: str, now: datetime) -> Seeded:
    info = Seeded(url=url, now=now)
    rng = random.Random(7)
    plan: list[tuple[str, str, str | None]] = []  # (window, category, verdict)
    for window, category, verdicts in (
        ("baseline", "billing", ["pass"] * 57 + ["fail"] * 3),
        ("baseline", "shipping", ["pass"] * 36 + ["fail"] * 4),
        ("baseline", "refunds", ["pass"] * 4),
        ("current", "billing", ["pass"] * 30 + ["fail"] * 30),
        ("current", "shipping", ["pass"] * 36 + ["fail"] * 4),
        ("current", "refunds", ["pass", "pass", "unscored"]),
        ("current", "account", [None] * 5),
    ):
        plan += [(window, category, verdict) for verdict in verdicts]
    records, verdict_of = [], {}
    for i, (window, category, verdict) in enumerate(plan):
        if window == "baseline":
            ts = now - timedelta(days=8) - timedelta(minutes=rng.randrange(0, 22 * 24 * 60))
            model = "claude-sonnet-4-5"
        else:
            ts = now - timedelta(hours=1) - timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
            model = "claude-haiku-4-5" if i % 3 == 0 else "claude-sonnet-4-5"
        record = make_record(i, category=category, request_model=model,
                             ts=ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), latency_ms=700.0 + rng.random() * 900)
        records.append(record)
        verdict_of[record["sample_id"]] = (verdict, ts, window, category)
    rows = [decode(encode(r), topic="tastevin.samples", partition=0, offset=i, ingested_at=now)
            for i, r in enumerate(records)]
    with engine.begin() as connection:
        connection.execute(Sample.__table__.insert(), rows)  # type: ignore[attr-defined]
    info.samples = len(rows)

    with Session(engine) as session:
        session.add(Rubric(name=RUBRIC_NAME, version=RUBRIC_VERSION, content_hash="0" * 64, categories=["*"],
                           criteria=CRITERIA, checks=CHECKS, pass_rule={"mode": "all"}, judge_model=JUDGE_MODEL))
        run = JudgeRun(status="completed", mode="sync", trigger="schedule", rubric_names=[RUBRIC_NAME],
                       created_at=now - timedelta(minutes=50), started_at=now - timedelta(minutes=50),
                       finished_at=now - timedelta(minutes=40), stop_reason="done")
        session.add(run)
        session.commit()
        assert run.id is not None
        info.run_id = run.id
        judgments: list[Judgment] = []
        for sample_id, (verdict, ts, window, category) in verdict_of.items():
            if verdict is None:
                continue
            judgments.append(Judgment(
                sample_id=sample_id, rubric_name=RUBRIC_NAME, rubric_version=RUBRIC_VERSION, judge_model=JUDGE_MODEL,
                verdict=verdict, unscored_reason="all 2 criteria unscored: reply did not parse"
                if verdict == "unscored" else None,
                criteria=_criteria(verdict), checks=[{"id": "concise", "kind": "rule", "verdict": "pass",
                                                      "explanation": "length 470 <= 2000", "reason": None}],
                raw_reply='{"verdicts": []}', input_tokens=900, output_tokens=120, cost_usd=0.001, latency_ms=850.0,
                run_id=run.id, created_at=ts + timedelta(minutes=30)))
            if window == "current" and category == "billing" and verdict == "fail":
                info.failing_billing.append(sample_id)
        # One sample judged twice: the newer fail supersedes the older pass.
        twice = info.failing_billing[0]
        first_ts = verdict_of[twice][1]
        judgments.append(Judgment(
            sample_id=twice, rubric_name=RUBRIC_NAME, rubric_version="v0", judge_model=JUDGE_MODEL, verdict="pass",
            criteria=_criteria("pass"), checks=[], cost_usd=0.001, run_id=run.id,
            created_at=first_ts + timedelta(minutes=5)))
        info.twice_judged = twice
        session.add_all(judgments)
        run.judged = len(judgments)
        run.passed = sum(j.verdict == "pass" for j in judgments)
        run.failed = sum(j.verdict == "fail" for j in judgments)
        run.unscored = sum(j.verdict == "unscored" for j in judgments)
        run.cost_usd = 0.001 * len(judgments)
        session.add(run)
        session.commit()
        refresh_sample_verdicts(session.connection())  # what the judge does when it stores judgments
        session.commit()
        by_sample = {j.sample_id: j for j in judgments if j.rubric_version == RUBRIC_VERSION}
        reviewed = [by_sample[sid] for sid in info.failing_billing[1:4]]
        for judgment, (verdict, note) in zip(reviewed, [("fail", "Right, no next step."), ("fail", None),
                                                        ("pass", "The link is a next step.")], strict=True):
            assert judgment.id is not None
            session.add(Review(sample_id=judgment.sample_id, judgment_id=judgment.id, reviewer="ana", verdict=verdict,
                               agrees_with_judge=verdict == judgment.verdict, note=note,
                               created_at=now - timedelta(minutes=30)))
            info.reviewed_judgments.append(judgment.id)
        unreviewed = by_sample[info.failing_billing[4]]
        assert unreviewed.id is not None
        info.unreviewed_fail_judgment = unreviewed.id
        session.add(Alert(kind="score_drop", key="score_drop:billing", status="firing", fired_at=now - timedelta(minutes=20),
                          observed=0.5, expected=0.95, p_value=1.2e-7,
                          statistic={"test": "two_proportion_z", "z": -5.3, "baseline": [57, 60], "current": [30, 60]},
                          message="billing pass rate fell from 95.0% to 50.0%", delivery_status="delivered",
                          delivery_attempts=1))
        session.add(Alert(kind="drift", key="drift:request_model", status="resolved",
                          fired_at=now - timedelta(days=2), resolved_at=now - timedelta(days=1), observed=0.31,
                          expected=0.1, statistic={"method": "psi", "value": 0.31},
                          message="request_model drifted (PSI 0.31)", delivery_status="failed", delivery_attempts=5,
                          last_delivery_error="webhook answered 503"))
        session.commit()
    return info
