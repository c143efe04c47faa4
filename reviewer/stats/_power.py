"""The drop a score check can detect, and the sampling that would detect a given drop.

A score-drop check compares ``n_current`` scored samples with ``n_baseline`` at a baseline
pass rate ``p₀``. Its test is one-sided (only drops alert) at the per-test level ``α``
(after correction: see :func:`reviewer.stats.per_test_alpha`). The power of that test is
taken from ``statsmodels.stats.power.NormalIndPower`` on Cohen's arcsine effect size
``h = 2·asin √p₀ − 2·asin √p₁`` (``statsmodels.stats.proportion.proportion_effectsize``):

* :func:`minimum_detectable_drop` — the smallest drop ``p₀ − p₁`` detected with the given
  power (80% by default) at these sample sizes;
* :func:`required_scale` — by how much both windows' sample counts must grow (a higher
  sampling rate for the category, or a longer window) to detect a drop of ``drop`` points
  with that power. The ratio of the two windows stays as it is.
"""

from __future__ import annotations

import math

from scipy.stats import norm

DEFAULT_POWER = 0.8


def _check(baseline_rate: float, n_baseline: float, n_current: float, alpha: float, power: float) -> None:
    if not 0 <= baseline_rate <= 1:
        raise ValueError(f"baseline_rate must be within [0, 1], got {baseline_rate!r}")
    if n_baseline <= 0 or n_current <= 0:
        raise ValueError(f"sample sizes must be positive, got {n_baseline!r} and {n_current!r}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be within (0, 1), got {alpha!r} and {power!r}")


def minimum_detectable_drop(
    baseline_rate: float, n_baseline: float, n_current: float, *, alpha: float, power: float = DEFAULT_POWER
) -> float | None:
    """The smallest drop (fraction, 0.19 = 19 points) detected with ``power`` by a one-sided test at ``alpha``.

    ``None`` when not even a drop to 0% would be detected with that power.
    """
    _check(baseline_rate, n_baseline, n_current, alpha, power)
    from statsmodels.stats.power import NormalIndPower  # imported on first use: reviewer.stats stays light

    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=n_current, alpha=alpha, power=power,
                                           ratio=n_baseline / n_current, alternative="larger"))
    angle = math.asin(math.sqrt(baseline_rate)) - h / 2
    if angle < 0:
        return None
    return baseline_rate - math.sin(angle) ** 2


def required_scale(
    baseline_rate: float, drop: float, n_baseline: float, n_current: float, *, alpha: float,
    power: float = DEFAULT_POWER,
) -> float | None:
    """The factor on both windows' sample counts that detects a drop of ``drop`` with ``power``.

    Below 1 the sizes already suffice. ``None`` when the drop cannot happen
    (``drop > baseline_rate``) or is not positive.
    """
    _check(baseline_rate, n_baseline, n_current, alpha, power)
    if not 0 < drop <= baseline_rate:
        return None
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = float(proportion_effectsize(baseline_rate, baseline_rate - drop))
    ratio = n_baseline / n_current
    if h <= 0:
        return None
    needed = float(NormalIndPower().solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=ratio,
                                                alternative="larger"))
    return needed / n_current


def drop_p_value(z: float) -> float:
    """The one-sided p-value of a drop from the pooled z statistic (``z < 0``: current rate lower)."""
    return float(norm.cdf(z))
