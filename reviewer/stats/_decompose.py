"""Did the overall pass rate move because the traffic mix moved, or because quality did?

The overall rate is a share-weighted mean of category rates, ``R = Σ sᵢ rᵢ``. Its change
from the baseline window (0) to the current window (1) splits exactly into

* a **mix effect** ``Σ (sᵢ¹ − sᵢ⁰) · (rᵢ⁰ + rᵢ¹) / 2`` — categories' shares shifting, at
  their average rate, and
* a **quality effect** ``Σ (rᵢ¹ − rᵢ⁰) · (sᵢ⁰ + sᵢ¹) / 2`` — rates changing within
  categories, at their average share,

with no interaction term: this is Kitagawa's (1955) symmetric midpoint decomposition
(the shift-share analysis averaged over both orders of the two-factor split), and per
category ``mixᵢ + qualityᵢ = sᵢ¹ rᵢ¹ − sᵢ⁰ rᵢ⁰`` algebraically; in floating point the sums
agree to rounding (~1e-16).

Shares are of scored samples weighted by ``1 / sampling_rate`` and rates are the Hájek
estimates, so a category sampled at a lower rate gets its true weight; with one rate
everywhere these are plain counts. A category scored in one window only has no rate in
the other: it is given the same rate there, so its quality effect is zero and all of its
contribution (``± sᵢ rᵢ``) is mix — it appeared or vanished.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._categories import CategoryCounts
from ._rates import DEFAULT_MIN_SAMPLES, Status


@dataclass(frozen=True, slots=True)
class CategoryContribution:
    """One category's part of the change: ``mix + quality == total`` (up to rounding).

    ``baseline_rate`` / ``current_rate`` are ``None`` where the category had no scored
    sample (its share there is 0.0).
    """

    category: str
    baseline_share: float
    current_share: float
    baseline_rate: float | None
    current_rate: float | None
    mix: float
    quality: float

    @property
    def total(self) -> float:
        return self.mix + self.quality


@dataclass(frozen=True, slots=True)
class RateChangeDecomposition:
    """``total_change = current_rate − baseline_rate = mix_effect + quality_effect``.

    With ``status`` other than ``OK`` (a window with no scored sample, or fewer than
    ``min_samples``) every number is ``None`` and ``categories`` is empty.
    ``categories`` is sorted by the size of each contribution, largest first.
    """

    status: Status
    baseline_rate: float | None
    current_rate: float | None
    total_change: float | None
    mix_effect: float | None
    quality_effect: float | None
    categories: tuple[CategoryContribution, ...]


def decompose_rate_change(
    baseline: Mapping[str, tuple[float, float]],
    current: Mapping[str, tuple[float, float]],
) -> RateChangeDecomposition:
    """Decompose from plain numbers: ``{category: (size, successes)}`` per window.

    ``size`` may be a count or a sum of weights, ``successes`` the matching passes. Every
    category has ``size >= 0`` and ``0 <= successes <= size``; categories of size 0 are
    ignored. Returns ``NO_DATA`` when a window has no size at all; raises ``ValueError``
    for impossible numbers.
    """
    for window in (baseline, current):
        for name, (size, successes) in window.items():
            if not (math.isfinite(size) and size >= 0 and 0 <= successes <= size):
                raise ValueError(f"category {name!r}: need 0 <= successes <= size, got ({size!r}, {successes!r})")
    base = {name: value for name, value in baseline.items() if value[0] > 0}
    cur = {name: value for name, value in current.items() if value[0] > 0}
    base_total = math.fsum(size for size, _ in base.values())
    cur_total = math.fsum(size for size, _ in cur.values())
    if base_total == 0 or cur_total == 0:
        return RateChangeDecomposition(Status.NO_DATA, None, None, None, None, None, ())

    contributions = []
    for name in base.keys() | cur.keys():
        r0 = base[name][1] / base[name][0] if name in base else None
        r1 = cur[name][1] / cur[name][0] if name in cur else None
        s0 = base[name][0] / base_total if name in base else 0.0
        s1 = cur[name][0] / cur_total if name in cur else 0.0
        a0 = r0 if r0 is not None else r1
        a1 = r1 if r1 is not None else r0
        assert a0 is not None and a1 is not None
        mix = (s1 - s0) * (a0 + a1) / 2
        quality = (a1 - a0) * (s0 + s1) / 2
        contributions.append(CategoryContribution(name, s0, s1, r0, r1, mix, quality))
    contributions.sort(key=lambda item: (-abs(item.total), item.category))

    baseline_rate = math.fsum(successes for _, successes in base.values()) / base_total
    current_rate = math.fsum(successes for _, successes in cur.values()) / cur_total
    return RateChangeDecomposition(
        Status.OK,
        baseline_rate,
        current_rate,
        current_rate - baseline_rate,
        math.fsum(item.mix for item in contributions),
        math.fsum(item.quality for item in contributions),
        tuple(contributions),
    )


def decompose_pass_rate_change(
    baseline: Iterable[CategoryCounts],
    current: Iterable[CategoryCounts],
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> RateChangeDecomposition:
    """Decompose the change of the overall pass rate between two windows of category counts.

    Uses the inclusion weights (``weight_scored``, ``weight_passed``); ``TOO_FEW_SAMPLES``
    when either window has fewer than ``min_samples`` scored samples in all, ``NO_DATA``
    when one has none. Individual small categories are kept: the decomposition explains
    the overall point estimate, which they are part of.
    """
    base = list(baseline)
    cur = list(current)
    scored = (sum(item.scored for item in base), sum(item.scored for item in cur))
    if min(scored) == 0:
        return RateChangeDecomposition(Status.NO_DATA, None, None, None, None, None, ())
    if min(scored) < min_samples:
        return RateChangeDecomposition(Status.TOO_FEW_SAMPLES, None, None, None, None, None, ())
    # Counts built without weights (all zero) fall back to plain counts, for every category.
    if all(item.weight_scored > 0 for item in (*base, *cur) if item.scored):
        return decompose_rate_change(
            {item.category: (item.weight_scored, item.weight_passed) for item in base},
            {item.category: (item.weight_scored, item.weight_passed) for item in cur},
        )
    return decompose_rate_change(
        {item.category: (float(item.scored), float(item.passed)) for item in base},
        {item.category: (float(item.scored), float(item.passed)) for item in cur},
    )
