"""Per-category summaries: counts in, rates with intervals or "too few samples" out."""

from __future__ import annotations

import pytest

from reviewer.stats import (
    ALL_CATEGORIES,
    CategoryCounts,
    Status,
    merge_counts,
    summarize_categories,
    summarize_overall,
    wilson_interval,
)


def test_summary_rows_are_sorted_and_gated_by_scored_samples() -> None:
    rows = summarize_categories(
        [
            # 34 judged but only 29 scored: unscored samples do not make a rate.
            CategoryCounts.from_counts("shipping", passed=29, failed=0, unscored=5, samples=80, cost_usd=0.5),
            CategoryCounts.from_counts("billing", passed=27, failed=3, samples=60, cost_usd=1.25),
            CategoryCounts.from_counts("refunds", passed=0, failed=0, unscored=4, samples=9),
            CategoryCounts.from_counts("account", passed=0, failed=0, samples=12),
        ],
        min_samples=30,
    )
    assert [(r.category, r.samples, r.judged, r.passed, r.failed, r.unscored, r.cost_usd, r.status) for r in rows] == [
        ("account", 12, 0, 0, 0, 0, 0.0, Status.NO_DATA),
        ("billing", 60, 30, 27, 3, 0, 1.25, Status.OK),
        ("refunds", 9, 4, 0, 0, 4, 0.0, Status.NO_DATA),
        ("shipping", 80, 34, 29, 0, 5, 0.5, Status.TOO_FEW_SAMPLES),
    ]
    billing = rows[1].pass_rate
    assert (billing.rate, (billing.low, billing.high), billing.weighted) == (0.9, wilson_interval(27, 30), False)
    shipping = rows[3].pass_rate
    assert (shipping.successes, shipping.n, shipping.rate, shipping.low, shipping.high) == (29, 29, None, None, None)


@pytest.mark.parametrize(("min_samples", "status"), [(10, Status.OK), (11, Status.TOO_FEW_SAMPLES)], ids=["10", "11"])
def test_min_samples_is_a_parameter(min_samples: int, status: Status) -> None:
    [row] = summarize_categories([CategoryCounts.from_counts("a", passed=7, failed=3)], min_samples=min_samples)
    assert row.status is status


def test_estimated_calls_use_the_inclusion_weights() -> None:
    [row] = summarize_categories(
        [CategoryCounts.from_counts("a", passed=20, failed=20, samples=50, sampling_rate=0.01)]
    )
    assert row.estimated_calls == 5000.0
    assert (row.pass_rate.rate, row.pass_rate.weighted) == (0.5, False)


def test_overall_row_reweights_categories_sampled_at_different_rates() -> None:
    # 40 of 40 pass in a category sampled at 10% (each stands for 10 calls), 0 of 40 in one
    # sampled at 1% (100 calls each): the plain share says 50%, the calls say 400/4400.
    counts = [
        CategoryCounts.from_counts("vip", passed=40, failed=0, sampling_rate=0.1),
        CategoryCounts.from_counts("bulk", passed=0, failed=40, sampling_rate=0.01),
    ]
    overall = summarize_overall(counts)
    assert overall.category == ALL_CATEGORIES
    assert (overall.samples, overall.passed, overall.failed) == (80, 40, 40)
    assert overall.pass_rate.weighted
    assert overall.pass_rate.rate == pytest.approx(400 / 4400, rel=1e-15)
    # Kish: (400 + 4000)² / (40·10² + 40·100²) = 4400² / 404000.
    assert overall.pass_rate.effective_n == pytest.approx(4400**2 / 404000, rel=1e-15)


def test_merge_counts_adds_everything_up() -> None:
    merged = merge_counts(
        [
            CategoryCounts.from_counts("a", passed=1, failed=2, unscored=3, samples=10, cost_usd=0.25, sampling_rate=0.5),
            CategoryCounts.from_counts("b", passed=4, failed=0, samples=4, cost_usd=0.5, sampling_rate=0.25),
        ],
        category="both",
    )
    assert merged == CategoryCounts(
        category="both", samples=14, judged=10, passed=5, failed=2, unscored=3, cost_usd=0.75,
        weight_samples=36.0, weight_passed=18.0, weight_failed=4.0, weight_sq_scored=3 * 4.0 + 4 * 16.0,
        min_rate=0.25, max_rate=0.5,
    )  # fmt: skip


@pytest.mark.parametrize(
    "fields",
    [
        {"samples": 1, "judged": 2, "passed": 2, "failed": 0, "unscored": 0},
        {"samples": 5, "judged": 3, "passed": 1, "failed": 1, "unscored": 0},
        {"samples": 5, "judged": 1, "passed": -1, "failed": 2, "unscored": 0},
    ],
    ids=["judged>samples", "parts!=judged", "negative"],
)
def test_counts_reject_impossible_numbers(fields: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        CategoryCounts(category="x", **fields)


def test_duplicate_categories_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        summarize_categories([CategoryCounts.from_counts("a", passed=1, failed=0)] * 2)
