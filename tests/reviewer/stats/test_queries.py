"""Queries on real SQLite and real PostgreSQL: what counts as a verdict, windows, weights."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from reviewer.queries import (
    TimeWindow,
    category_summary,
    compare_windows,
    decompose_windows,
    load_category_counts,
)
from reviewer.stats import (
    CategoryCounts,
    ChangeVerdict,
    Status,
    compare_categories,
    decompose_pass_rate_change,
    wilson_interval,
)

from .conftest import T0, make_judgment, make_sample, store

WINDOW = TimeWindow(T0, T0 + timedelta(days=7))
BEFORE = TimeWindow(T0 - timedelta(days=7), T0)
DAY = timedelta(days=1)


def test_verdict_rules_per_sample(engine: Engine) -> None:
    at = T0 + DAY
    s = {name: make_sample(at, category="billing") for name in (
        "pass", "fail", "unscored", "unjudged", "fixed", "broke", "two-rubrics-one-fails", "unscored-skipped",
        "now-unscored", "same-instant", "other-model-later",
    )}  # fmt: skip
    later = at + timedelta(hours=5)
    judgments = [
        make_judgment(s["pass"], "pass", cost_usd=0.25),
        make_judgment(s["fail"], "fail"),
        make_judgment(s["unscored"], "unscored", cost_usd=None),
        # a newer rubric version supersedes the older one, whatever the verdicts
        make_judgment(s["fixed"], "fail", version="helpfulness-v1", cost_usd=0.5),
        make_judgment(s["fixed"], "pass", version="helpfulness-v2", at=later, cost_usd=0.5),
        make_judgment(s["broke"], "pass", version="helpfulness-v1"),
        make_judgment(s["broke"], "fail", version="helpfulness-v2", at=later),
        # every rubric's latest judgment must pass
        make_judgment(s["two-rubrics-one-fails"], "pass"),
        make_judgment(s["two-rubrics-one-fails"], "fail", rubric="safety"),
        # an unscored rubric is skipped, the others decide
        make_judgment(s["unscored-skipped"], "pass"),
        make_judgment(s["unscored-skipped"], "unscored", rubric="safety"),
        # the latest judgment of the only rubric is unscored: the sample is unscored
        make_judgment(s["now-unscored"], "fail", version="helpfulness-v1"),
        make_judgment(s["now-unscored"], "unscored", version="helpfulness-v2", at=later),
        # two judge models at the very same instant disagree: fail wins
        make_judgment(s["same-instant"], "pass", model="judge-a"),
        make_judgment(s["same-instant"], "fail", model="judge-b"),
        # a re-judgment by another model is the latest
        make_judgment(s["other-model-later"], "fail", model="judge-a"),
        make_judgment(s["other-model-later"], "pass", model="judge-b", at=later),
    ]
    store(engine, list(s.values()), judgments)

    [billing] = load_category_counts(engine, WINDOW)
    # pass: pass, fixed, unscored-skipped, other-model-later; fail: fail, broke, two-rubrics-one-fails,
    # same-instant; unscored: unscored, now-unscored; not judged: unjudged.
    assert (billing.samples, billing.judged, billing.passed, billing.failed, billing.unscored) == (11, 10, 4, 4, 2)
    # every judgment's cost counts, superseded ones too; NULL costs are skipped
    assert billing.cost_usd == pytest.approx(0.25 + 1.0 + 0.001 * 13, abs=1e-12)


def test_window_is_half_open_and_categories_are_grouped(engine: Engine) -> None:
    samples = [
        make_sample(WINDOW.start, category="billing"),  # first instant: in
        make_sample(WINDOW.end - timedelta(microseconds=1), category="billing"),  # in
        make_sample(WINDOW.end, category="billing"),  # end is exclusive: out
        make_sample(WINDOW.start - timedelta(microseconds=1), category="billing"),  # out
        make_sample(WINDOW.start + DAY, category="shipping"),
    ]
    store(engine, samples, [make_judgment(sample, "pass") for sample in samples])
    counts = load_category_counts(engine, WINDOW)
    assert [(c.category, c.samples, c.judged, c.passed) for c in counts] == [("billing", 2, 2, 2), ("shipping", 1, 1, 1)]
    assert load_category_counts(engine, TimeWindow(WINDOW.end + DAY, WINDOW.end + 2 * DAY)) == []


def test_weights_follow_the_sampling_rates(engine: Engine) -> None:
    at = T0 + DAY
    samples = [
        *(make_sample(at, category="vip", sampling_rate=0.5) for _ in range(3)),
        *(make_sample(at, category="vip", sampling_rate=0.25) for _ in range(2)),
        make_sample(at, category="vip", sampling_rate=0.125),  # not judged: counts in weight_samples only
    ]
    verdicts = ["pass", "pass", "fail", "pass", "fail"]
    store(engine, samples, [make_judgment(sample, v) for sample, v in zip(samples, verdicts, strict=False)])
    [vip] = load_category_counts(engine, WINDOW)
    assert vip == CategoryCounts(
        category="vip", samples=6, judged=5, passed=3, failed=2, unscored=0, cost_usd=pytest.approx(0.005, abs=1e-12),
        weight_samples=2 + 2 + 2 + 4 + 4 + 8, weight_passed=2 + 2 + 4, weight_failed=2 + 4,
        weight_sq_scored=3 * 4 + 2 * 16, min_rate=0.25, max_rate=0.5,
    )  # fmt: skip
    [summary] = category_summary(engine, WINDOW, min_samples=5)
    assert (summary.pass_rate.weighted, summary.pass_rate.rate) == (True, 8 / 14)
    assert summary.pass_rate.effective_n == pytest.approx(14**2 / 44, rel=1e-15)


def _fill(engine: Engine, window: TimeWindow, category: str, passed: int, failed: int, unjudged: int = 0) -> None:
    at = window.start + DAY
    samples = [make_sample(at, category=category) for _ in range(passed + failed + unjudged)]
    verdicts = ["pass"] * passed + ["fail"] * failed
    store(engine, samples, [make_judgment(sample, v) for sample, v in zip(samples, verdicts, strict=False)])


def test_summary_compare_and_decompose_from_the_store(engine: Engine) -> None:
    _fill(engine, BEFORE, "billing", 45, 5, unjudged=3)
    _fill(engine, WINDOW, "billing", 30, 20)
    _fill(engine, BEFORE, "shipping", 40, 10)
    _fill(engine, WINDOW, "shipping", 41, 9, unjudged=7)
    _fill(engine, WINDOW, "refunds", 10, 2)

    summary = category_summary(engine, WINDOW)
    assert [(r.category, r.samples, r.judged, r.passed, r.status) for r in summary] == [
        ("billing", 50, 50, 30, Status.OK),
        ("refunds", 12, 12, 10, Status.TOO_FEW_SAMPLES),
        ("shipping", 57, 50, 41, Status.OK),
    ]
    assert (summary[0].pass_rate.low, summary[0].pass_rate.high) == wilson_interval(30, 50)
    assert summary[0].estimated_calls == pytest.approx(5000.0, rel=1e-12)

    changes = compare_windows(engine, current=WINDOW, baseline=BEFORE)
    assert [(c.category, c.verdict) for c in changes] == [
        ("billing", ChangeVerdict.DROP),
        ("shipping", ChangeVerdict.NO_SIGNIFICANT_CHANGE),
        ("refunds", ChangeVerdict.TOO_FEW_SAMPLES),
    ]
    expected = compare_categories(load_category_counts(engine, BEFORE), load_category_counts(engine, WINDOW))
    assert changes == expected
    assert changes[0].change == pytest.approx(0.6 - 0.9, abs=1e-12)

    decomposition = decompose_windows(engine, current=WINDOW, baseline=BEFORE)
    assert decomposition == decompose_pass_rate_change(
        load_category_counts(engine, BEFORE), load_category_counts(engine, WINDOW)
    )
    # baseline 85/100; current 81/112: the rates are sums of equal weights, exact to rounding
    assert decomposition.baseline_rate == pytest.approx(85 / 100, rel=1e-12)
    assert decomposition.current_rate == pytest.approx(81 / 112, rel=1e-12)
    assert decomposition.mix_effect is not None and decomposition.quality_effect is not None
    assert decomposition.mix_effect + decomposition.quality_effect == pytest.approx(81 / 112 - 0.85, abs=1e-12)


def test_an_empty_store_has_no_categories(engine: Engine) -> None:
    assert load_category_counts(engine, WINDOW) == []
    assert compare_windows(engine, current=WINDOW, baseline=BEFORE) == []
    assert decompose_windows(engine, current=WINDOW, baseline=BEFORE).status is Status.NO_DATA
