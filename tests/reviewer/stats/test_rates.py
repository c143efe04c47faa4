"""Wilson intervals, Kish's effective size and weighted rates: against scipy and by hand."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from reviewer.stats import (
    CategoryCounts,
    RateEstimate,
    Status,
    kish_effective_size,
    kish_from_sums,
    merge_counts,
    pass_rate,
    rate_estimate,
    weighted_rate_estimate,
    wilson_interval,
)

Z95 = 1.959963984540054  # ndtri(0.975)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 29, 30, 31, 100, 263, 1000, 12345])
def test_wilson_equals_scipy_bit_for_bit(n: int) -> None:
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == (float(ci.low), float(ci.high))


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.99], ids=["80%", "90%", "99%"])
def test_wilson_equals_scipy_at_other_confidences(confidence: float) -> None:
    ci = binomtest(17, 40).proportion_ci(confidence_level=confidence, method="wilson")
    assert wilson_interval(17, 40, confidence=confidence) == (float(ci.low), float(ci.high))


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        # Tables of the Wilson interval (Newcombe 1998, method 3), to 4 decimals.
        (0, 10, (0.0, 0.2775)),
        (3, 10, (0.1078, 0.6032)),
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (81, 263, (0.2553, 0.3662)),
    ],
    ids=["0/10", "3/10", "5/10", "10/10", "81/263"],
)
def test_wilson_hand_worked(k: int, n: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(k, n)
    assert (round(low, 4), round(high, 4)) == expected


def _closed_form(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The textbook form: (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)."""
    center = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (center - half) / (1 + z * z / n), (center + half) / (1 + z * z / n)


@pytest.mark.parametrize(
    ("k", "n"), [(3, 10), (50, 100), (1, 1000), (7.25, 13.5)], ids=["3/10", "50/100", "1/1000", "fractional"]
)
def test_wilson_matches_the_closed_form(k: float, n: float) -> None:
    assert wilson_interval(k, n) == pytest.approx(_closed_form(k / n, n), rel=1e-12)


def test_wilson_bounds_at_the_edges_are_exact() -> None:
    # k = 0: the upper bound is z²/(n + z²); k = n: the lower bound is n/(n + z²).
    assert wilson_interval(0, 10)[1] == pytest.approx(Z95**2 / (10 + Z95**2), rel=1e-15)
    assert wilson_interval(10, 10)[0] == pytest.approx(10 / (10 + Z95**2), rel=1e-15)


@pytest.mark.parametrize(
    ("args", "message"),
    [((0, 0), "n must be positive"), ((11, 10), "successes must be within"), ((-1, 10), "successes must be within")],
    ids=["n=0", "k>n", "k<0"],
)
def test_wilson_rejects_impossible_counts(args: tuple[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wilson_interval(*args)


def test_wilson_rejects_a_bad_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [([1, 1, 1, 1], 4.0), ([1, 3], 1.6), ([100.0] * 7, 7.0), ([], 0.0), ([2, 2, 10, 10], 24**2 / 208)],
    ids=["equal", "1-and-3", "equal-100", "empty", "mixed"],
)
def test_kish_effective_size(weights: list[float], expected: float) -> None:
    # (Σw)²/Σw²: e.g. [1, 3] → 16/10; [2, 2, 10, 10] → 24²/208.
    assert kish_effective_size(weights) == pytest.approx(expected, rel=1e-15)


def test_kish_rejects_negative_weights() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        kish_effective_size([1.0, -1.0])


@pytest.mark.parametrize(
    ("successes", "n", "status"),
    [(0, 0, Status.NO_DATA), (5, 29, Status.TOO_FEW_SAMPLES), (5, 30, Status.OK)],
    ids=["none", "29", "30"],
)
def test_rate_estimate_says_too_few_samples_instead_of_a_number(successes: int, n: int, status: Status) -> None:
    estimate = rate_estimate(successes, n, min_samples=30)
    assert estimate.status is status
    if status is Status.OK:
        assert (estimate.rate, estimate.effective_n) == (5 / 30, 30.0)
        assert (estimate.low, estimate.high) == wilson_interval(5, 30)
    else:
        assert (estimate.rate, estimate.low, estimate.high, estimate.effective_n) == (None, None, None, None)


def test_weighted_rate_is_the_hajek_ratio_with_a_kish_sized_interval() -> None:
    # 10 samples drawn at rate 0.5 (w = 2), all pass; 10 at rate 0.1 (w = 10), 5 pass.
    # Hájek: (10·2 + 5·10) / (10·2 + 10·10) = 70/120; Kish: 120² / (10·4 + 10·100) = 14400/1040.
    estimate = weighted_rate_estimate(
        15, 20, weight_successes=70.0, weight_total=120.0, weight_sq_total=1040.0, min_samples=20
    )
    assert estimate.weighted
    assert estimate.rate == 70 / 120
    assert estimate.effective_n == 14400 / 1040
    assert (estimate.low, estimate.high) == pytest.approx(_closed_form(70 / 120, 14400 / 1040), rel=1e-12)
    assert kish_from_sums(120.0, 1040.0) == kish_effective_size([2.0] * 10 + [10.0] * 10)


def test_pass_rate_reweights_only_when_sampling_rates_differ() -> None:
    low = CategoryCounts.from_counts("a", passed=10, failed=0, sampling_rate=0.5)
    high = CategoryCounts.from_counts("b", passed=5, failed=5, sampling_rate=0.1)
    assert pass_rate(low, min_samples=1) == RateEstimate(
        Status.OK, 10, 10, 1.0, *wilson_interval(10, 10), effective_n=10.0
    )
    merged = pass_rate(merge_counts([low, high]), min_samples=1)
    assert merged.weighted and merged.rate == pytest.approx(70 / 120, rel=1e-15)
    assert merged.effective_n == pytest.approx(14400 / 1040, rel=1e-15)


def test_weighted_rate_keeps_the_exact_edges() -> None:
    estimate = weighted_rate_estimate(
        30, 30, weight_successes=2999.9999999999995, weight_total=3000.0, weight_sq_total=300000.0
    )
    assert (estimate.rate, estimate.high) == (1.0, 1.0)


def test_weighted_rate_rejects_inconsistent_sums() -> None:
    with pytest.raises(ValueError, match="inconsistent weight sums"):
        weighted_rate_estimate(5, 30, weight_successes=50.0, weight_total=0.0, weight_sq_total=0.0)
