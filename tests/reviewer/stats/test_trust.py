"""Corrected pass rates: exact values by hand, the explicit states, and a coverage simulation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from reviewer.stats import (
    AuditCounts,
    CorrectionMethod,
    TrustStatus,
    audits_needed,
    combine_corrected,
    corrected_rate,
    rate_estimate,
    rogan_gladen,
    weighted_rate_estimate,
)

Z = 1.959963984540054  # the 97.5% normal quantile
# 1,000 judged samples, 940 passed by the judge; 100 audits: the judge passed 20 the person failed.
RAW = rate_estimate(940, 1000)
AUDITS = AuditCounts(pass_pass=70, pass_fail=20, fail_pass=2, fail_fail=8)


def test_audit_counts_give_the_judge_s_sensitivity_and_specificity() -> None:
    assert (AUDITS.n, AUDITS.human_pass, AUDITS.human_fail) == (100, 72, 28)
    assert AUDITS.sensitivity == 70 / 72
    assert AUDITS.specificity == 8 / 28
    assert AUDITS.false_pass_rate == 20 / 28
    assert AuditCounts().sensitivity is None and AuditCounts().specificity is None
    with pytest.raises(ValueError, match="non-negative"):
        AuditCounts(pass_pass=-1)


def test_ppi_matches_a_hand_computation() -> None:
    result = corrected_rate(RAW, AUDITS, method=CorrectionMethod.PPI)
    assert result.status is TrustStatus.OK
    # θ = p − (false passes − false fails) / audits = 0.94 − 18/100
    assert result.estimate == pytest.approx(0.76, abs=1e-15)
    up, down = 20.5 / 101, 2.5 / 101
    adjusted_p = (940 + Z**2 / 2) / (1000 + Z**2)
    std = math.sqrt(adjusted_p * (1 - adjusted_p) / 1000 + (up + down - (up - down) ** 2) / 100)
    assert result.std_error == pytest.approx(std, rel=1e-12)
    assert (result.low, result.high) == (pytest.approx(0.76 - Z * std), pytest.approx(0.76 + Z * std))
    assert result.std_error == pytest.approx(0.044916, abs=1e-6)  # by hand: √(0.0000579 + 0.0019596)


def test_rogan_gladen_matches_a_hand_computation() -> None:
    se, sp = Fraction(70, 72), Fraction(8, 28)
    theta = (Fraction(94, 100) + sp - 1) / (se + sp - 1)
    assert rogan_gladen(0.94, float(se), float(sp)) == pytest.approx(float(theta), rel=1e-14)
    assert float(theta) == pytest.approx(0.875077, abs=1e-6)  # 0.225714 / 0.257937
    result = corrected_rate(RAW, AUDITS, method=CorrectionMethod.ROGAN_GLADEN)
    assert result.status is TrustStatus.OK
    assert result.estimate == pytest.approx(float(theta), rel=1e-14)

    def adj(x: float, m: float) -> float:
        return (x + Z**2 / 2) / (m + Z**2)

    pa, sea, spa = adj(940, 1000), adj(70, 72), adj(8, 28)
    t = float(theta)
    var = (pa * (1 - pa) / 1000 + (1 - t) ** 2 * spa * (1 - spa) / 28 + t**2 * sea * (1 - sea) / 72) / float(
        se + sp - 1) ** 2
    assert result.std_error == pytest.approx(math.sqrt(var), rel=1e-12)
    assert result.high == 1.0  # clipped: the interval would pass 1


@pytest.mark.parametrize(("p", "expected"), [(0.0, 0.0), (0.1, 0.0), (0.3, 0.1 / 0.7), (1.0, 1.0)])
def test_rogan_gladen_is_clipped_and_undefined_at_chance(p: float, expected: float) -> None:
    assert rogan_gladen(p, 0.9, 0.8) == pytest.approx(expected)
    assert rogan_gladen(p, 0.5, 0.5) is None
    assert rogan_gladen(p, 0.3, 0.6) is None


def test_states_instead_of_numbers() -> None:
    at_chance = AuditCounts(pass_pass=40, pass_fail=10, fail_pass=40, fail_fail=10)  # Se 0.5, Sp 0.5
    cases = {
        TrustStatus.NO_DATA: corrected_rate(rate_estimate(0, 0), AUDITS),
        TrustStatus.TOO_FEW_SAMPLES: corrected_rate(rate_estimate(9, 10), AUDITS),
        TrustStatus.TOO_FEW_AUDITS: corrected_rate(RAW, AuditCounts(pass_pass=29)),
        TrustStatus.JUDGE_AT_CHANCE: corrected_rate(RAW, at_chance),
    }
    for status, result in cases.items():
        assert result.status is status
        assert (result.estimate, result.low, result.high, result.std_error) == (None, None, None, None)
    # Rogan–Gladen needs a person-failed audit for Sp; PPI does not.
    all_pass = AuditCounts(pass_pass=58, fail_pass=2)
    assert corrected_rate(RAW, all_pass, method=CorrectionMethod.ROGAN_GLADEN).status is TrustStatus.TOO_FEW_AUDITS
    ppi = corrected_rate(RAW, all_pass)
    assert ppi.status is TrustStatus.OK and ppi.estimate == pytest.approx(0.94 + 2 / 60)
    with pytest.raises(ValueError, match="min_audits"):
        corrected_rate(RAW, AUDITS, min_audits=0)


def test_audits_needed_for_ten_points_on_the_false_pass_rate() -> None:
    # No audit yet: worst case q = ½ needs ⌈1.96² · ¼ / 0.01⌉ = 97 person-failed audits,
    # arriving at the judge's fail rate (20%): 485 audits.
    assert audits_needed(AuditCounts(), judge_fail_share=0.2) == 485
    assert audits_needed(AuditCounts()) == 194
    # 28 person-failed audits with 20 false passes: q = (20 + 1.92)/(28 + 3.84) ≈ 0.688, so
    # ⌈3.8415 · 0.688 · 0.312 / 0.01⌉ = 83 fails, 55 more at a fail share of 29/102.
    q = (20 + Z**2 / 2) / (28 + Z**2)
    fails = math.ceil(Z**2 * q * (1 - q) / 0.01)
    assert fails == 83
    assert audits_needed(AUDITS) == math.ceil((fails - 28) / (29 / 102)) == 194
    assert audits_needed(AuditCounts(pass_pass=100, pass_fail=10, fail_fail=90)) == 0
    assert corrected_rate(RAW, AUDITS).audits_needed == 194
    with pytest.raises(ValueError, match="half_width"):
        audits_needed(AUDITS, half_width=0)


def test_combined_rate_is_weighted_by_estimated_calls() -> None:
    a = corrected_rate(RAW, AUDITS)
    b = corrected_rate(rate_estimate(500, 1000), AuditCounts(pass_pass=40, pass_fail=10, fail_pass=0, fail_fail=50))
    overall = combine_corrected([(3000.0, a), (1000.0, b)], rate_estimate(1440, 2000))
    assert overall.status is TrustStatus.OK
    assert overall.estimate == pytest.approx(0.75 * 0.76 + 0.25 * 0.40)
    assert overall.std_error == pytest.approx(math.hypot(0.75 * (a.std_error or 0), 0.25 * (b.std_error or 0)))
    assert overall.audits == AUDITS + b.audits and overall.audits_needed == a.audits_needed + b.audits_needed
    # The gate is on the total: a stratum with 3 audits adds its share; one with none blocks.
    few = corrected_rate(RAW, AuditCounts(pass_pass=3), min_audits=1)
    assert combine_corrected([(1.0, a), (1.0, few)], RAW).status is TrustStatus.OK
    none = corrected_rate(RAW, AuditCounts(), min_audits=1)
    assert combine_corrected([(1.0, a), (1.0, none)], RAW).status is TrustStatus.TOO_FEW_AUDITS
    assert combine_corrected([(1.0, few)], RAW).status is TrustStatus.TOO_FEW_AUDITS  # 3 < 30 in all
    assert combine_corrected([(1.0, a)], rate_estimate(5, 10)).status is TrustStatus.TOO_FEW_SAMPLES
    assert combine_corrected([], rate_estimate(0, 0)).status is TrustStatus.NO_DATA


def test_a_weighted_raw_rate_uses_kish_size() -> None:
    raw = weighted_rate_estimate(940, 1000, weight_successes=1880.0, weight_total=2000.0, weight_sq_total=8000.0)
    assert raw.effective_n == 500.0
    result = corrected_rate(raw, AUDITS)
    unweighted = corrected_rate(RAW, AUDITS)
    assert result.estimate == pytest.approx(0.76)
    assert (result.std_error or 0) > (unweighted.std_error or 0)


def test_simulation_corrected_interval_covers_the_truth_and_the_raw_one_does_not() -> None:
    """A fake judge with Se 0.95, Sp 0.60 over 1,000 samples of true pass rate 0.80, 100 audits."""
    theta, se, sp, n, m, reps = 0.80, 0.95, 0.60, 1000, 100, 300
    rng = np.random.default_rng(15)
    covered = {"raw": 0, "ppi": 0, "rogan_gladen": 0}
    computed = {"ppi": 0, "rogan_gladen": 0}
    for _ in range(reps):
        truth = rng.random(n) < theta
        judge = np.where(truth, rng.random(n) < se, rng.random(n) < 1 - sp)
        audited = rng.choice(n, size=m, replace=False)
        t, j = truth[audited], judge[audited]
        audits = AuditCounts(int(np.sum(j & t)), int(np.sum(j & ~t)), int(np.sum(~j & t)), int(np.sum(~j & ~t)))
        raw = rate_estimate(int(judge.sum()), n)
        covered["raw"] += int((raw.low or 0) <= theta <= (raw.high or 0))
        for method in (CorrectionMethod.PPI, CorrectionMethod.ROGAN_GLADEN):
            result = corrected_rate(raw, audits, method=method)
            if result.ok:
                computed[method.value] += 1
                covered[method.value] += int((result.low or 0) <= theta <= (result.high or 0))
    assert computed == {"ppi": reps, "rogan_gladen": reps}
    assert covered["ppi"] / reps >= 0.93
    assert covered["rogan_gladen"] / reps >= 0.93
    # The judge's own rate is 0.80·0.95 + 0.20·0.40 = 0.84: its interval (±2.3 points) misses 0.80.
    assert covered["raw"] / reps < 0.10
