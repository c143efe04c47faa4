"""Per-category pass rates over one time window, from counts aggregated by the store.

The vocabulary, used everywhere in ``reviewer.stats`` and ``reviewer.queries``:

* **samples** — sampled calls in the window;
* **judged** — samples with at least one judgment (``passed + failed + unscored``);
* **scored** — judged samples with a pass or fail verdict (``passed + failed``): the
  denominator of a pass rate, and what ``min_samples`` is compared with. Unscored
  samples are counted and shown, never folded into a rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._rates import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    RateEstimate,
    Status,
    rate_estimate,
    weighted_rate_estimate,
)

ALL_CATEGORIES = "(all)"


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoryCounts:
    """What the store knows about one category in one window (plain numbers, no rates).

    ``weight_*`` are sums of ``w = 1 / sampling_rate`` (the production calls a sample
    stands for): over all samples (``weight_samples``), over passes and fails, and of
    ``w²`` over scored samples. ``min_rate`` / ``max_rate`` are the lowest and highest
    sampling rate among scored samples (``None`` when none is scored); when they differ
    the pass rate is re-weighted. ``cost_usd`` is what judging the window's samples cost,
    every judgment included.
    """

    category: str
    samples: int
    judged: int
    passed: int
    failed: int
    unscored: int
    cost_usd: float = 0.0
    weight_samples: float = 0.0
    weight_passed: float = 0.0
    weight_failed: float = 0.0
    weight_sq_scored: float = 0.0
    min_rate: float | None = None
    max_rate: float | None = None

    def __post_init__(self) -> None:
        if min(self.samples, self.judged, self.passed, self.failed, self.unscored) < 0:
            raise ValueError(f"negative count in {self!r}")
        if self.passed + self.failed + self.unscored != self.judged or self.judged > self.samples:
            raise ValueError(f"need passed + failed + unscored == judged <= samples in {self!r}")

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def weight_scored(self) -> float:
        return self.weight_passed + self.weight_failed

    @property
    def rates_differ(self) -> bool:
        return self.min_rate is not None and self.max_rate is not None and self.min_rate != self.max_rate

    @classmethod
    def from_counts(
        cls,
        category: str,
        *,
        passed: int,
        failed: int,
        unscored: int = 0,
        samples: int | None = None,
        sampling_rate: float = 1.0,
        cost_usd: float = 0.0,
    ) -> CategoryCounts:
        """Counts whose samples were all drawn with one ``sampling_rate`` (``samples`` defaults to judged)."""
        if not 0 < sampling_rate <= 1:
            raise ValueError(f"sampling_rate must be within (0, 1], got {sampling_rate!r}")
        judged = passed + failed + unscored
        samples = judged if samples is None else samples
        weight = 1.0 / sampling_rate
        scored = passed + failed
        return cls(
            category=category,
            samples=samples,
            judged=judged,
            passed=passed,
            failed=failed,
            unscored=unscored,
            cost_usd=cost_usd,
            weight_samples=samples * weight,
            weight_passed=passed * weight,
            weight_failed=failed * weight,
            weight_sq_scored=scored * weight * weight,
            min_rate=sampling_rate if scored else None,
            max_rate=sampling_rate if scored else None,
        )


def merge_counts(counts: Iterable[CategoryCounts], category: str = ALL_CATEGORIES) -> CategoryCounts:
    """The counts of several categories added up, as one category named ``category``."""
    items = list(counts)
    rates = [rate for item in items for rate in (item.min_rate, item.max_rate) if rate is not None]
    return CategoryCounts(
        category=category,
        samples=sum(item.samples for item in items),
        judged=sum(item.judged for item in items),
        passed=sum(item.passed for item in items),
        failed=sum(item.failed for item in items),
        unscored=sum(item.unscored for item in items),
        cost_usd=sum(item.cost_usd for item in items),
        weight_samples=sum(item.weight_samples for item in items),
        weight_passed=sum(item.weight_passed for item in items),
        weight_failed=sum(item.weight_failed for item in items),
        weight_sq_scored=sum(item.weight_sq_scored for item in items),
        min_rate=min(rates) if rates else None,
        max_rate=max(rates) if rates else None,
    )


def pass_rate(
    counts: CategoryCounts, *, min_samples: int = DEFAULT_MIN_SAMPLES, confidence: float = DEFAULT_CONFIDENCE
) -> RateEstimate:
    """The pass rate of ``counts`` over its scored samples, re-weighted only when sampling rates differ."""
    if counts.rates_differ:
        return weighted_rate_estimate(
            counts.passed,
            counts.scored,
            weight_successes=counts.weight_passed,
            weight_total=counts.weight_scored,
            weight_sq_total=counts.weight_sq_scored,
            min_samples=min_samples,
            confidence=confidence,
        )
    return rate_estimate(counts.passed, counts.scored, min_samples=min_samples, confidence=confidence)


@dataclass(frozen=True, slots=True)
class CategorySummary:
    """One row of the per-category table: the counts, and the pass rate or why there is none.

    ``pass_rate.status`` is ``TOO_FEW_SAMPLES`` when fewer than ``min_samples`` samples
    were scored, ``NO_DATA`` when none was; its ``rate`` is then ``None``.
    ``estimated_calls`` is the number of production calls the samples stand for.
    """

    category: str
    samples: int
    judged: int
    passed: int
    failed: int
    unscored: int
    cost_usd: float
    estimated_calls: float
    pass_rate: RateEstimate

    @property
    def status(self) -> Status:
        return self.pass_rate.status


def summarize_category(
    counts: CategoryCounts, *, min_samples: int = DEFAULT_MIN_SAMPLES, confidence: float = DEFAULT_CONFIDENCE
) -> CategorySummary:
    """The summary row of one category (see :class:`CategorySummary`)."""
    return CategorySummary(
        category=counts.category,
        samples=counts.samples,
        judged=counts.judged,
        passed=counts.passed,
        failed=counts.failed,
        unscored=counts.unscored,
        cost_usd=counts.cost_usd,
        estimated_calls=counts.weight_samples,
        pass_rate=pass_rate(counts, min_samples=min_samples, confidence=confidence),
    )


def summarize_categories(
    counts: Iterable[CategoryCounts], *, min_samples: int = DEFAULT_MIN_SAMPLES, confidence: float = DEFAULT_CONFIDENCE
) -> list[CategorySummary]:
    """One :class:`CategorySummary` per category, sorted by category name.

    Raises ``ValueError`` when a category appears twice.
    """
    items = list(counts)
    names = [item.category for item in items]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate categories in {sorted(names)}")
    return [
        summarize_category(item, min_samples=min_samples, confidence=confidence)
        for item in sorted(items, key=lambda item: item.category)
    ]


def summarize_overall(
    counts: Iterable[CategoryCounts], *, min_samples: int = DEFAULT_MIN_SAMPLES, confidence: float = DEFAULT_CONFIDENCE
) -> CategorySummary:
    """All categories as one row named ``(all)``.

    The pass rate is re-weighted whenever sampling rates differ anywhere, e.g. between
    categories sampled at different rates, which a plain share would misstate.
    """
    return summarize_category(merge_counts(counts), min_samples=min_samples, confidence=confidence)
