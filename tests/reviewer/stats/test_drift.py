"""Drift per feature: PSI, Jensen–Shannon, KS, normalised Wasserstein — scipy and hand-worked."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from reviewer.stats import (
    PSI_EPSILON,
    DriftMethod,
    DriftVerdict,
    FeatureKind,
    Status,
    categorical_drift,
    jensen_shannon_distance,
    numeric_drift,
    population_stability_index,
)


def test_psi_hand_worked() -> None:
    # (0.5 − 0.6)·ln(0.5/0.6) + (0.5 − 0.4)·ln(0.5/0.4) = 0.1·ln 1.2 + 0.1·ln 1.25 = 0.1·ln 1.5
    assert population_stability_index({"a": 50, "b": 50}, {"a": 60, "b": 40}) == pytest.approx(
        0.1 * math.log(1.5), rel=1e-14
    )


def test_psi_replaces_an_empty_share_by_epsilon() -> None:
    # reference shares (1, 0 → ε), current (0.5, 0.5)
    expected = 0.5 * math.log(2) + (PSI_EPSILON - 0.5) * math.log(PSI_EPSILON / 0.5)
    assert population_stability_index({"a": 100}, {"a": 50, "b": 50}) == pytest.approx(expected, rel=1e-14)


def test_psi_of_identical_shares_is_zero() -> None:
    assert population_stability_index({"a": 3, "b": 1}, {"b": 10, "a": 30}) == 0.0


def test_jensen_shannon_hand_worked_and_scipy() -> None:
    # P = (½, ½), Q = (1, 0), M = (¾, ¼): KL(P‖M) = ½·log2(⅔) + ½·log2(2), KL(Q‖M) = log2(4/3).
    js = 0.5 * (0.5 * math.log2(2 / 3) + 0.5 + math.log2(4 / 3))
    assert jensen_shannon_distance({"a": 5, "b": 5}, {"a": 10}) == pytest.approx(math.sqrt(js), rel=1e-14)
    assert jensen_shannon_distance({"a": 5, "b": 5}, {"a": 10}) == float(jensenshannon([0.5, 0.5], [1.0, 0.0], base=2))
    assert jensen_shannon_distance({"a": 7}, {"b": 3}) == 1.0


@pytest.mark.parametrize(
    ("current", "psi_verdict", "js_verdict"),
    [
        ({"a": 50, "b": 50}, DriftVerdict.NO_DRIFT, DriftVerdict.NO_DRIFT),
        ({"a": 70, "b": 30}, DriftVerdict.MODERATE, DriftVerdict.DRIFT),
        ({"a": 90, "b": 10}, DriftVerdict.DRIFT, DriftVerdict.DRIFT),
        ({"a": 55, "b": 45}, DriftVerdict.NO_DRIFT, DriftVerdict.NO_DRIFT),
    ],
    ids=["same", "moderate", "significant", "small"],
)
def test_categorical_verdicts(current: dict[str, int], psi_verdict: DriftVerdict, js_verdict: DriftVerdict) -> None:
    reference = {"a": 50, "b": 50}
    psi, js = categorical_drift("finish_reason", reference, current)
    assert (psi.method, psi.kind, psi.status, psi.verdict, psi.threshold) == (
        DriftMethod.PSI, FeatureKind.CATEGORICAL, Status.OK, psi_verdict, 0.1
    )  # fmt: skip
    assert psi.value == population_stability_index(reference, current)
    assert psi.drifted is (psi_verdict is not DriftVerdict.NO_DRIFT)
    assert (js.method, js.verdict, js.threshold, js.value) == (
        DriftMethod.JENSEN_SHANNON, js_verdict, 0.1, jensen_shannon_distance(reference, current)
    )  # fmt: skip
    assert (psi.reference_n, psi.current_n) == (100, 100)


@pytest.mark.parametrize(
    ("reference", "current", "status"),
    [({}, {"a": 40}, Status.NO_DATA), ({"a": 40}, {"a": 0}, Status.NO_DATA), ({"a": 29}, {"a": 40}, Status.TOO_FEW_SAMPLES)],
    ids=["empty-reference", "zero-counts", "29"],
)
def test_categorical_without_enough_data(reference: dict[str, int], current: dict[str, int], status: Status) -> None:
    for result in categorical_drift("app", reference, current, min_samples=30):
        assert (result.status, result.verdict.value, result.value, result.drifted) == (status, status.value, None, None)


def test_small_reference_uses_ks_like_scipy() -> None:
    rng = np.random.default_rng(1)
    reference, current = rng.normal(0, 1, 400), rng.normal(0.3, 1, 300)
    result = numeric_drift("latency_ms", reference, current)
    expected = ks_2samp(reference, current)
    assert (result.method, result.threshold, result.reference_n, result.current_n) == (DriftMethod.KS, 0.05, 400, 300)
    assert (result.value, result.statistic) == (float(expected.pvalue), float(expected.statistic))
    assert result.drifted is True and float(expected.pvalue) < 0.05


def test_ks_hand_worked() -> None:
    same = numeric_drift("x", np.arange(40.0), np.arange(40.0))
    apart = numeric_drift("x", np.arange(40.0), np.arange(40.0) + 100)
    assert (same.statistic, same.value, same.verdict) == (0.0, 1.0, DriftVerdict.NO_DRIFT)
    assert (apart.statistic, apart.verdict) == (1.0, DriftVerdict.DRIFT)


def test_large_reference_uses_wasserstein_over_std_like_scipy() -> None:
    rng = np.random.default_rng(2)
    reference, current = rng.lognormal(6, 0.5, 5000), rng.lognormal(6.05, 0.5, 2000)
    result = numeric_drift("input_tokens", reference, current)
    expected = wasserstein_distance(reference, current) / np.std(reference)
    assert (result.method, result.threshold, result.statistic) == (DriftMethod.WASSERSTEIN_NORMED, 0.1, None)
    assert result.value == float(expected)


def test_wasserstein_hand_worked() -> None:
    # Shifting every value by 10 moves the distribution by 10; std of 0..99 is √((100² − 1)/12).
    reference = np.arange(100.0)
    result = numeric_drift("x", reference, reference + 10, reference_size=5000)
    assert result.method is DriftMethod.WASSERSTEIN_NORMED
    assert result.value == pytest.approx(10 / math.sqrt((100**2 - 1) / 12), rel=1e-12)
    assert (result.drifted, result.note) == (True, "reference subsampled: 100 of 5,000 values")


@pytest.mark.parametrize(("size", "method"), [(1000, DriftMethod.KS), (1001, DriftMethod.WASSERSTEIN_NORMED)],
                         ids=["1000", "1001"])
def test_method_switches_above_1000_reference_values(size: int, method: DriftMethod) -> None:
    rng = np.random.default_rng(3)
    assert numeric_drift("x", rng.normal(size=size), rng.normal(size=50)).method is method


@pytest.mark.parametrize(
    ("current", "drifted", "value"),
    [(np.full(50, 7.0), False, 0.0), (np.array([7.0] * 40 + [9.0] * 10), True, 0.4)],
    ids=["still-constant", "moved"],
)
def test_constant_reference_reports_the_unnormalised_distance(current: np.ndarray, drifted: bool, value: float) -> None:
    result = numeric_drift("output_tokens", np.full(2000, 7.0), current)
    assert (result.method, result.threshold, result.drifted) == (DriftMethod.WASSERSTEIN, 0.0, drifted)
    assert result.value == pytest.approx(value, abs=1e-12)
    assert "constant" in result.note


def test_nan_and_inf_are_dropped() -> None:
    reference = np.concatenate([np.arange(40.0), [np.nan, np.inf]])
    result = numeric_drift("x", reference, np.arange(40.0))
    assert (result.reference_n, result.value) == (40, 1.0)


@pytest.mark.parametrize(
    ("reference", "current", "status"),
    [([], [1.0] * 40, Status.NO_DATA), ([1.0] * 40, [np.nan] * 3, Status.NO_DATA), ([1.0] * 5, [1.0] * 40, Status.TOO_FEW_SAMPLES)],
    ids=["empty", "all-nan", "too-few"],
)
def test_numeric_without_enough_data(reference: list[float], current: list[float], status: Status) -> None:
    result = numeric_drift("x", reference, current)
    assert (result.status, result.value, result.drifted, result.method) == (status, None, None, DriftMethod.KS)
