"""Audit draws and corrected pass rates from the store, on SQLite and PostgreSQL.

A fake judge over samples whose true verdict is known: in billing it passes 152 of 160
true passes and 20 of 40 true failures; in login it is perfect on 100 samples. People
audit from the audit queue and give the true verdict.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reviewer.queries import TimeWindow
from reviewer.reviews import ReviewError, agreement_by_rubric, audit_queue, record_review
from reviewer.stats import AuditCounts, TrustStatus, rate_estimate
from reviewer.store import Judgment
from reviewer.trust import audit_counts, audit_key, audit_plan, describe, trust_by_rubric
from tests.reviewer.stats.conftest import T0, make_judgment, make_sample, store

TRUTH: dict[str, bool] = {}


def seed(engine: Engine) -> None:
    samples, judgments = [], []
    plan = [("billing", True, True, 152), ("billing", True, False, 8), ("billing", False, True, 20),
            ("billing", False, False, 20), ("login", True, True, 80), ("login", False, False, 20)]
    for category, truth, judge_pass, count in plan:
        for i in range(count):
            sample = make_sample(T0 + timedelta(minutes=i), category=category)
            TRUTH[sample.sample_id] = truth
            samples.append(sample)
            judgments.append(make_judgment(sample, "pass" if judge_pass else "fail"))
    unscored = make_sample(T0, category="billing")
    samples.append(unscored)
    judgments.append(make_judgment(unscored, "unscored"))
    store(engine, samples, judgments)


def _judgment_ids(engine: Engine) -> dict[int, str]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(Judgment.__table__.c.id, Judgment.__table__.c.sample_id)).all())  # type: ignore[attr-defined]


def audit(engine: Engine, reviewer: str, count: int, category: str | None = None) -> list[int]:
    """``count`` audits from the queue, each with the sample's true verdict."""
    done = []
    for item in audit_queue(engine, reviewer=reviewer, category=category, limit=count):
        record_review(engine, judgment_id=item.judgment_id, reviewer=reviewer,
                      verdict="pass" if TRUTH[item.sample_id] else "fail", from_audit=True)
        done.append(item.judgment_id)
    return done


def test_audit_draw_is_deterministic_stratified_and_in_audit_order(engine: Engine) -> None:
    seed(engine)
    first = audit_queue(engine, reviewer="ann", limit=1000)
    assert [i.judgment_id for i in audit_queue(engine, reviewer="bo", limit=1000)] == [i.judgment_id for i in first]
    keys = [audit_key(i.sample_id) for i in first]
    assert keys == sorted(keys)
    assert {i.category for i in first} == {"billing", "login"}
    assert all(i.verdict in ("pass", "fail") for i in first)  # unscored judgments are not audited
    # Billing needs ⌈97 / (28/200)⌉ > 200 audits: all of its 200 scored samples are picked.
    plan = {(p.rubric, p.category): p for p in audit_plan(engine)}
    assert plan[("helpfulness", "billing")].needed == 200
    login = plan[("helpfulness", "login")]
    assert login.needed == 100 and login.judged == 100
    # Within a stratum, the picks are the samples first in audit order.
    billing = [i.judgment_id for i in audit_queue(engine, category="billing", limit=10)]
    assert billing == [i.judgment_id for i in first if i.category == "billing"][:10]
    assert audit_key("a" * 32) == audit_key("a" * 32) and 0 <= audit_key("a" * 32) < 1


def test_audits_leave_the_queue_for_everyone_and_only_audits_count(engine: Engine) -> None:
    seed(engine)
    done = audit(engine, "ann", 40, category="billing")
    assert len(done) == 40
    left = {i.judgment_id for i in audit_queue(engine, reviewer="bo", limit=1000)}
    assert not left & set(done)
    # A convenience review does not enter the audit counts, but counts for agreement (κ).
    extra = next(iter(left))
    record_review(engine, judgment_id=extra, reviewer="cy", verdict="fail")
    counts = audit_counts(engine)
    ids = _judgment_ids(engine)
    expected = AuditCounts()
    for judgment_id in done:
        with engine.connect() as connection:
            judge = connection.execute(sa.text("SELECT verdict FROM judgment WHERE id = :i"), {"i": judgment_id}).scalar()
        truth = TRUTH[ids[judgment_id]]
        expected = expected + AuditCounts(int(judge == "pass" and truth), int(judge == "pass" and not truth),
                                          int(judge == "fail" and truth), int(judge == "fail" and not truth))
    assert counts == {("helpfulness", "billing"): expected}
    assert agreement_by_rubric(engine, min_samples=1)[0].n == 41
    # cy reviewed `extra` outside the audit: skipped for cy, still picked for others.
    assert extra not in {i.judgment_id for i in audit_queue(engine, reviewer="cy", limit=1000)}
    assert extra in {i.judgment_id for i in audit_queue(engine, reviewer="dee", limit=1000)}


def test_an_unscored_judgment_cannot_be_audited(engine: Engine) -> None:
    seed(engine)
    with engine.connect() as connection:
        unscored = connection.execute(sa.text("SELECT id FROM judgment WHERE verdict = 'unscored'")).scalar_one()
    with pytest.raises(ReviewError, match="not part of the audit"):
        record_review(engine, judgment_id=unscored, reviewer="ann", verdict="pass", from_audit=True)


def test_corrected_rates_per_stratum_and_overall(engine: Engine) -> None:
    seed(engine)
    before = trust_by_rubric(engine, min_samples=1)
    assert [r.rubric for r in before] == ["helpfulness"]
    assert before[0].overall.status is TrustStatus.TOO_FEW_AUDITS and not before[0].audited
    assert "too few audits (0)" in describe(before[0].overall)
    audit(engine, "ann", 1000)  # every pick: billing's 200 and login's 100
    (rubric,) = trust_by_rubric(engine, min_samples=1)
    billing, login = rubric.strata
    assert (billing.category, login.category) == ("billing", "login")
    # Billing: judge passes 172/200; audits of all 200: 20 false passes, 8 false fails.
    assert billing.corrected.raw == rate_estimate(172, 200, min_samples=1)
    assert billing.corrected.audits == AuditCounts(152, 20, 8, 20)
    assert billing.corrected.status is TrustStatus.OK
    assert billing.corrected.estimate == pytest.approx(172 / 200 - (20 - 8) / 200)  # = 0.80, the truth
    assert (billing.corrected.sensitivity, billing.corrected.specificity) == (152 / 160, 20 / 40)
    assert login.corrected.estimate == pytest.approx(0.80)
    # Overall: both weigh 100 calls per sample (rate 0.01): 200 and 100 samples.
    assert rubric.overall.estimate == pytest.approx((2 * 0.80 + 1 * 0.80) / 3)
    assert rubric.overall.raw.rate == pytest.approx(252 / 300)
    text = describe(billing.corrected)
    assert text.startswith("judge says 86%, corrected 80% [") and "(200 audits)" in text
    payload = rubric.to_dict()
    assert payload["categories"][0]["corrected_rate"] == pytest.approx(0.80)
    assert payload["status"] == "ok" and payload["audits"] == 300
    # A window with no sample: nothing to correct.
    empty = TimeWindow(T0 - timedelta(days=9), T0 - timedelta(days=8))
    assert trust_by_rubric(engine, empty) == []
    window = TimeWindow(T0, T0 + timedelta(days=1))
    assert trust_by_rubric(engine, window, min_samples=1)[0].overall.estimate == pytest.approx(0.80)


def test_a_judge_at_chance_is_said_so(engine: Engine) -> None:
    samples, judgments = [], []
    for i in range(60):  # the judge passes every other sample whatever the truth
        sample = make_sample(T0 + timedelta(minutes=i), category="chat")
        TRUTH[sample.sample_id] = i % 4 < 2
        samples.append(sample)
        judgments.append(make_judgment(sample, "pass" if i % 2 else "fail", rubric="tone"))
    store(engine, samples, judgments)
    audit(engine, "ann", 60)
    (rubric,) = trust_by_rubric(engine, min_samples=1)
    assert rubric.overall.status is TrustStatus.JUDGE_AT_CHANCE
    assert rubric.overall.estimate is None
    assert "judge no better than chance" in describe(rubric.overall)


def test_alert_json_carries_the_corrected_rates(engine: Engine, db_url: str) -> None:
    import json

    from click.testing import CliRunner

    from reviewer.cli import cli

    seed(engine)
    args = ["alert", "--db", db_url, "--now", (T0 + timedelta(days=1)).isoformat(), "--window", "2d", "--json"]
    before = json.loads(CliRunner().invoke(cli, args).output)
    assert before["judge_trust"] == []  # no audits: nothing to say beside the raw rate
    audit(engine, "ann", 1000)
    result = CliRunner().invoke(cli, args)
    (trust,) = json.loads(result.output)["judge_trust"]
    assert trust["rubric"] == "helpfulness" and trust["status"] == "ok" and trust["audits"] == 300
    assert trust["raw_rate"] == pytest.approx(252 / 300) and trust["corrected_rate"] == pytest.approx(0.80)
    assert [c["category"] for c in trust["categories"]] == ["billing", "login"]
    assert trust["text"].startswith("judge says 84%, corrected 80% [")


def test_golden_set_from_settled_reviews_and_a_check(engine: Engine) -> None:
    from reviewer.golden import add_from_reviews, golden_checks, golden_items, record_check

    seed(engine)
    done = audit(engine, "ann", 12, category="login")
    record_review(engine, judgment_id=done[0], reviewer="bo", verdict="pass" if not TRUTH[
        _judgment_ids(engine)[done[0]]] else "fail")  # bo disagrees with ann on one sample: not settled
    assert add_from_reviews(engine, rubric="helpfulness", added_by="ann") == 11
    assert add_from_reviews(engine, rubric="helpfulness") == 0
    items = golden_items(engine, rubric="helpfulness")
    assert all(item.verdict == ("pass" if TRUTH[item.sample_id] else "fail") for item in items)
    check = record_check(engine, rubric_name="helpfulness", rubric_version="v2", judge_model="m",
                         pairs=[(item.verdict, "pass") for item in items])
    (stored,) = golden_checks(engine)
    assert stored.id == check.id and stored.pass_pass + stored.pass_fail == 11 and stored.errored == 0
    with pytest.raises(ReviewError, match="name the rubric"):
        add_from_reviews(engine, rubric=" ")
