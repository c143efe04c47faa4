"""The statistics behind alerts: drift tests, Holm / BH, detectable drop — against hand computations and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2, chi2_contingency, ks_2samp, norm
from statsmodels.stats.power import NormalIndPower

from reviewer.stats import (
    Status,
    adjust_p_values,
    categorical_drift_test,
    drop_p_value,
    minimum_detectable_drop,
    numeric_drift_test,
    per_test_alpha,
    pooled_table,
    required_scale,
    wasserstein_permutation_pvalue,
)


def test_numeric_drift_test_reports_the_ks_p_value_and_the_normalised_wasserstein_effect() -> None:
    reference = [1.0, 2.0, 3.0, 4.0] * 10
    current = [2.0, 3.0, 4.0, 5.0] * 10
    test = numeric_drift_test("latency_ms", reference, current)
    scipy_ks = ks_2samp(reference, current)
    assert test.p_value == pytest.approx(float(scipy_ks.pvalue)) and test.statistic == pytest.approx(0.25)
    # Every value moved by 1: W₁ = 1, the reference's (population) sd is √1.25.
    assert test.effects == {"wasserstein_normed": pytest.approx(1 / math.sqrt(1.25))}
    assert test.thresholds == {"wasserstein_normed": 0.1} and test.large is True
    assert test.drifted(p_adjusted=0.5, alpha=0.01) is False  # large, but not significant
    assert test.drifted(p_adjusted=0.001, alpha=0.01) is True


def test_a_large_distance_from_few_values_is_not_drift() -> None:
    rng = np.random.default_rng(3)
    reference, current = rng.lognormal(6.5, 0.5, 1575), rng.lognormal(6.5, 0.5, 100)
    test = numeric_drift_test("latency_ms", reference, current)
    assert test.p_value is not None and test.p_value > 0.05  # same distribution
    assert test.drifted(test.p_value, 0.01) is False


def test_numeric_drift_test_too_few_and_constant() -> None:
    few = numeric_drift_test("x", [1.0] * 40, [1.0, float("nan")] * 10)
    assert few.status is Status.TOO_FEW_SAMPLES and few.p_value is None and few.large is None and few.effects == {}
    assert few.drifted(0.0, 0.01) is None
    constant = numeric_drift_test("x", [5.0] * 40, [5.0] * 39 + [6.0])
    assert constant.effects == {"wasserstein": pytest.approx(1 / 40)} and constant.thresholds == {"wasserstein": 0.0}
    assert constant.large is True and "constant" in constant.note


def test_categorical_drift_test_chi_square_and_g_test_by_hand() -> None:
    reference, current = {"a": 60, "b": 40}, {"a": 40, "b": 60}
    chi = categorical_drift_test("model", reference, current)
    # Every expected count is 50: chi² = 4 · 10² / 50 = 8 with 1 degree of freedom.
    assert chi.statistic == pytest.approx(8.0) and chi.dof == 1
    assert chi.p_value == pytest.approx(float(chi2.sf(8.0, 1)))
    g = categorical_drift_test("model", reference, current, test="g_test")
    hand_g = 2 * (2 * 60 * math.log(60 / 50) + 2 * 40 * math.log(40 / 50))
    assert g.statistic == pytest.approx(hand_g) and g.p_value == pytest.approx(float(chi2.sf(hand_g, 1)))
    # PSI = Σ (p − q) ln(p / q) = 2 · 0.2 · ln 1.5.
    assert chi.effects["psi"] == pytest.approx(0.4 * math.log(1.5)) and chi.large is True
    with pytest.raises(ValueError, match="unknown test"):
        categorical_drift_test("model", reference, current, test="fisher")


def test_rare_categories_are_pooled_so_one_odd_value_is_not_evidence() -> None:
    reference = {"stop": 600, "max_tokens": 60}
    current = {"stop": 90, "max_tokens": 9, "refusal": 1}
    table, labels = pooled_table(reference, current)
    # "refusal" (expected 0.13 in the current window) is pooled; the pooled cell is still below 5,
    # so it joins the smallest kept column.
    assert labels == ["max_tokens+(rare)", "stop"] and table.tolist() == [[60, 600], [10, 90]]
    expected = chi2_contingency(table, correction=False).expected_freq
    assert expected.min() >= 5
    test = categorical_drift_test("finish_reason", {"stop": 1500, "max_tokens": 500},
                                  {"stop": 37, "max_tokens": 12, "refusal": 1})
    assert test.effects["psi"] > 0.1  # PSI alone would call it drift (the new value's epsilon share) …
    assert test.p_value is not None and test.p_value > 0.5  # … the test does not
    assert test.drifted(test.p_value, 0.01) is False


def test_holm_and_bh_on_textbook_examples() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1, made monotone: 0.02, 0.03, 0.06, 0.06.
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: p·m/rank = 0.02, 0.02, 0.04, 0.04, step-up minimum from the largest.
    assert adjust_p_values(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_p_values(p, "none") == p
    # Benjamini & Hochberg (1995), the 15 p-values of their example: at q = 0.05 BH rejects 4.
    bh95 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
            0.6528, 0.7590, 1.0]
    assert sum(q < 0.05 for q in adjust_p_values(bh95, "bh")) == 4
    assert sum(q < 0.05 for q in adjust_p_values(bh95, "holm")) == 3  # Holm: 0.0019 < 0.05/13, 0.0095 > 0.05/12
    assert adjust_p_values([], "holm") == []
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values(p, "bonferroni")
    with pytest.raises(ValueError, match="within"):
        adjust_p_values([1.5], "holm")
    assert per_test_alpha(0.01, 20, "holm") == pytest.approx(0.0005) and per_test_alpha(0.01, 20, "none") == 0.01


def test_minimum_detectable_drop_by_hand() -> None:
    # 45 scored samples a day against a week's 315, 90% passing, α = 0.01 / 20 one-sided, 80% power.
    alpha = 0.01 / 20
    h = (norm.isf(alpha) + norm.ppf(0.8)) * math.sqrt(1 / 45 + 1 / 315)
    hand = 0.9 - math.sin(math.asin(math.sqrt(0.9)) - h / 2) ** 2
    mdd = minimum_detectable_drop(0.9, 315, 45, alpha=alpha)
    assert mdd is not None and mdd == pytest.approx(hand, rel=1e-6) and 0.2 < mdd < 0.3
    # More samples, smaller detectable drops.
    assert minimum_detectable_drop(0.9, 3150, 450, alpha=alpha) < mdd  # type: ignore[operator]
    # A tiny window cannot detect anything at 80%: not even 90% → 0%.
    assert minimum_detectable_drop(0.9, 3, 1, alpha=alpha) is None
    with pytest.raises(ValueError):
        minimum_detectable_drop(1.2, 10, 10, alpha=alpha)


def test_required_scale_detects_the_drop_with_the_power_asked_for() -> None:
    alpha = 0.01 / 20
    scale = required_scale(0.9, 0.05, 315, 45, alpha=alpha)
    assert scale is not None and scale > 1
    h = 2 * math.asin(math.sqrt(0.9)) - 2 * math.asin(math.sqrt(0.85))
    hand = (norm.isf(alpha) + norm.ppf(0.8)) ** 2 * (1 + 45 / 315) / h**2 / 45
    assert scale == pytest.approx(hand, rel=1e-6)
    power = NormalIndPower().power(effect_size=h, nobs1=45 * scale, alpha=alpha, ratio=7, alternative="larger")
    assert power == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_drop(0.9, 315 * scale, 45 * scale, alpha=alpha) == pytest.approx(0.05, abs=1e-3)
    assert required_scale(0.03, 0.05, 315, 45, alpha=alpha) is None  # a 5-point drop from 3% cannot happen


def test_drop_p_value_is_the_lower_tail() -> None:
    assert drop_p_value(-2.326) == pytest.approx(0.01, abs=1e-4) and drop_p_value(0.0) == 0.5


def test_wasserstein_permutation_pvalue() -> None:
    rng = np.random.default_rng(0)
    same = wasserstein_permutation_pvalue(rng.normal(0, 1, 200), rng.normal(0, 1, 50), resamples=99)
    shifted = wasserstein_permutation_pvalue(rng.normal(0, 1, 200), rng.normal(1, 1, 50), resamples=99)
    assert same > 0.05 and shifted == pytest.approx(0.01)  # the smallest p-value 99 resamples can give
