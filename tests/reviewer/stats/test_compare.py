"""Current vs baseline per category: the pooled two-proportion z-test and the ordering."""

from __future__ import annotations

import math

import pytest
from scipy.stats import chi2_contingency, norm

from reviewer.stats import (
    CategoryCounts,
    ChangeVerdict,
    Status,
    compare_categories,
    failing_categories,
    two_proportion_ztest,
)


def test_ztest_hand_worked() -> None:
    # 45/50 vs 30/50: pooled 0.75, variance 0.75·0.25·(2/50) = 0.0075, z = −0.3/√0.0075 = −2√3.
    test = two_proportion_ztest(45, 50, 30, 50)
    assert (test.rate_a, test.rate_b) == (0.9, 0.6)
    assert test.z == pytest.approx(-2 * math.sqrt(3), rel=1e-15)
    assert test.p_value == pytest.approx(2 * norm.cdf(-2 * math.sqrt(3)), rel=1e-14)
    assert round(test.p_value, 7) == 0.000532


@pytest.mark.parametrize(
    ("a", "b"),
    [((45, 50), (30, 50)), ((900, 1000), (850, 1000)), ((3, 31), (9, 40)), ((120, 125), (118, 125)), ((1, 30), (0, 45))],
    ids=["big-drop", "large-n", "small", "near-one", "near-zero"],
)
def test_ztest_agrees_with_scipy_chi_square_without_correction(a: tuple[int, int], b: tuple[int, int]) -> None:
    test = two_proportion_ztest(a[0], a[1], b[0], b[1])
    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    chi2 = chi2_contingency(table, correction=False)
    # The same test computed along two float paths: equal to ~1e-15, asserted to 1e-12.
    assert test.p_value == pytest.approx(float(chi2.pvalue), rel=1e-12)
    assert test.z**2 == pytest.approx(float(chi2.statistic), rel=1e-12)


@pytest.mark.parametrize(("a", "b"), [((30, 30), (40, 40)), ((0, 35), (0, 50))], ids=["all-pass", "all-fail"])
def test_ztest_without_variance_is_no_evidence(a: tuple[int, int], b: tuple[int, int]) -> None:
    test = two_proportion_ztest(a[0], a[1], b[0], b[1])
    assert (test.difference, test.z, test.p_value) == (0.0, 0.0, 1.0)


def test_ztest_rejects_empty_groups() -> None:
    with pytest.raises(ValueError):
        two_proportion_ztest(0, 0, 1, 2)


def _counts(name: str, passed: int, scored: int) -> CategoryCounts:
    return CategoryCounts.from_counts(name, passed=passed, failed=scored - passed)


BASELINE = [
    _counts("A", 90, 100),
    _counts("B", 900, 1000),
    _counts("C", 80, 100),
    _counts("D", 60, 100),
    _counts("E", 10, 20),
    _counts("F", 50, 100),
]
CURRENT = [
    _counts("A", 60, 100),  # −0.30, p ≈ 2e-6: significant drop
    _counts("B", 850, 1000),  # −0.05, p ≈ 7e-4: significant drop, smaller
    _counts("C", 75, 100),  # −0.05, p ≈ 0.39
    _counts("D", 90, 100),  # +0.30: significant rise
    _counts("E", 40, 50),  # baseline has 20 scored: too few
    _counts("F", 50, 100),  # no change, p = 1
    _counts("G", 40, 50),  # new: no baseline
]


def test_order_is_significant_drops_by_size_then_p_value_then_untested() -> None:
    changes = compare_categories(BASELINE, CURRENT, min_samples=30)
    assert [(c.category, c.verdict) for c in changes] == [
        ("A", ChangeVerdict.DROP),
        ("B", ChangeVerdict.DROP),
        ("D", ChangeVerdict.RISE),
        ("C", ChangeVerdict.NO_SIGNIFICANT_CHANGE),
        ("F", ChangeVerdict.NO_SIGNIFICANT_CHANGE),
        ("E", ChangeVerdict.TOO_FEW_SAMPLES),
        ("G", ChangeVerdict.TOO_FEW_SAMPLES),
    ]
    a = changes[0]
    assert a.change == pytest.approx(-0.3, abs=1e-15)
    assert a.p_value == two_proportion_ztest(90, 100, 60, 100).p_value
    assert (a.significant, a.failing, a.baseline.rate, a.current.rate) == (True, True, 0.9, 0.6)
    e, g = changes[5], changes[6]
    assert (e.change, e.z, e.p_value, e.baseline.status, e.current.status) == (
        None, None, None, Status.TOO_FEW_SAMPLES, Status.OK
    )  # fmt: skip
    assert (g.baseline.status, g.baseline.n) == (Status.NO_DATA, 0)


def test_failing_categories_are_the_significant_drops() -> None:
    assert [c.category for c in failing_categories(BASELINE, CURRENT)] == ["A", "B"]


def test_alpha_decides_significance() -> None:
    strict = compare_categories(BASELINE, CURRENT, alpha=1e-4)
    assert [(c.category, c.verdict) for c in strict[:3]] == [
        ("A", ChangeVerdict.DROP),
        ("D", ChangeVerdict.RISE),
        ("B", ChangeVerdict.NO_SIGNIFICANT_CHANGE),
    ]
