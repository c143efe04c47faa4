"""Where the pass rate dropped: each category's current window against its baseline window.

The test is the pooled two-proportion z-test on the raw counts of scored samples
(identical to Pearson's chi-square test of the 2×2 table without continuity
correction). Within a category the samples are normally drawn at one rate, so the raw
counts are the right data for the test even when the reported rates are re-weighted.

Order of :func:`compare_categories` — the most certain, largest drops first:

1. significant drops (``p < alpha`` and the rate went down), largest drop first;
2. every other tested category, smallest p-value first (then largest drop first);
3. categories without a test (too few samples in either window), by name.

Ties are broken by category name, so the order is total and stable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from scipy.stats import norm

from ._categories import CategoryCounts, pass_rate
from ._rates import DEFAULT_CONFIDENCE, DEFAULT_MIN_SAMPLES, RateEstimate, Status

DEFAULT_ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class ZTest:
    """A two-sided pooled two-proportion z-test of ``rate_b - rate_a``.

    ``z`` is positive when b's rate is the higher. When both samples are all passes
    or all fails the pooled variance is zero: there is no evidence of a difference,
    and the result is ``z = 0.0``, ``p_value = 1.0`` (as Fisher's exact test gives).
    """

    rate_a: float
    rate_b: float
    difference: float
    z: float
    p_value: float


def two_proportion_ztest(successes_a: int, n_a: int, successes_b: int, n_b: int) -> ZTest:
    """Test whether ``successes_b / n_b`` differs from ``successes_a / n_a`` (pooled, two-sided).

    Raises ``ValueError`` when either ``n`` is zero or a count is impossible.
    """
    for successes, n in ((successes_a, n_a), (successes_b, n_b)):
        if n <= 0 or not 0 <= successes <= n:
            raise ValueError(f"need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance == 0:
        return ZTest(rate_a, rate_b, rate_b - rate_a, 0.0, 1.0)
    z = (rate_b - rate_a) / math.sqrt(variance)
    return ZTest(rate_a, rate_b, rate_b - rate_a, z, float(2 * norm.sf(abs(z))))


class ChangeVerdict(StrEnum):
    DROP = "drop"
    RISE = "rise"
    NO_SIGNIFICANT_CHANGE = "no_significant_change"
    TOO_FEW_SAMPLES = "too_few_samples"


@dataclass(frozen=True, slots=True)
class CategoryChange:
    """One category's pass rate, baseline window against current window.

    ``change`` is ``current − baseline`` (negative: a drop), from the reported rates
    (re-weighted when sampling rates differ); ``z`` / ``p_value`` come from the test on
    raw counts. Without enough scored samples in either window (``min_samples``), the
    verdict is ``TOO_FEW_SAMPLES`` and ``change``, ``z``, ``p_value`` are ``None``.
    ``significant`` means ``p_value < alpha``; ``failing`` a significant drop.
    """

    category: str
    baseline: RateEstimate
    current: RateEstimate
    change: float | None
    z: float | None
    p_value: float | None
    verdict: ChangeVerdict
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < self.alpha

    @property
    def failing(self) -> bool:
        return self.verdict is ChangeVerdict.DROP


def compare_category(
    baseline: CategoryCounts,
    current: CategoryCounts,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> CategoryChange:
    """Compare one category across two windows (see :class:`CategoryChange`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha!r}")
    base = pass_rate(baseline, min_samples=min_samples, confidence=confidence)
    cur = pass_rate(current, min_samples=min_samples, confidence=confidence)
    if base.status is not Status.OK or cur.status is not Status.OK:
        return CategoryChange(current.category, base, cur, None, None, None, ChangeVerdict.TOO_FEW_SAMPLES, alpha)
    assert base.rate is not None and cur.rate is not None
    test = two_proportion_ztest(baseline.passed, baseline.scored, current.passed, current.scored)
    change = cur.rate - base.rate
    if test.p_value >= alpha:
        verdict = ChangeVerdict.NO_SIGNIFICANT_CHANGE
    else:
        verdict = ChangeVerdict.DROP if test.difference < 0 else ChangeVerdict.RISE
    return CategoryChange(current.category, base, cur, change, test.z, test.p_value, verdict, alpha)


def _order(change: CategoryChange) -> tuple[int, float, float, str]:
    if change.p_value is None or change.change is None:
        return (2, 0.0, 0.0, change.category)
    if change.failing:
        return (0, change.change, change.p_value, change.category)
    return (1, change.p_value, change.change, change.category)


def compare_categories(
    baseline: Iterable[CategoryCounts],
    current: Iterable[CategoryCounts],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[CategoryChange]:
    """Every category seen in either window, compared and sorted as the module docstring says.

    A category missing from one window counts as empty there (``TOO_FEW_SAMPLES``).
    The p-values are per category, not adjusted for testing many categories: with 20
    categories and no real change, one "significant" drop is expected at ``alpha=0.05``;
    lower ``alpha`` (e.g. ``0.05 / number of categories``, Bonferroni) for alerting.
    """
    base = {item.category: item for item in baseline}
    cur = {item.category: item for item in current}
    changes = [
        compare_category(
            base.get(name) or _empty(name),
            cur.get(name) or _empty(name),
            alpha=alpha,
            min_samples=min_samples,
            confidence=confidence,
        )
        for name in base.keys() | cur.keys()
    ]
    return sorted(changes, key=_order)


def failing_categories(
    baseline: Iterable[CategoryCounts],
    current: Iterable[CategoryCounts],
    *,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> list[CategoryChange]:
    """Only the significant drops of :func:`compare_categories`, largest drop first."""
    changes = compare_categories(baseline, current, alpha=alpha, min_samples=min_samples)
    return [change for change in changes if change.failing]


def _empty(category: str) -> CategoryCounts:
    return CategoryCounts(category=category, samples=0, judged=0, passed=0, failed=0, unscored=0)
