"""Mix vs quality: Kitagawa's symmetric decomposition, hand-worked and on random data."""

from __future__ import annotations

import numpy as np
import pytest

from reviewer.stats import (
    CategoryCounts,
    Status,
    decompose_pass_rate_change,
    decompose_rate_change,
)

CASES = {
    # baseline, current ({category: (scored, passed)}), expected (total, mix, quality), per category (mix, quality)
    "pure-mix": (
        {"a": (80, 72), "b": (20, 10)},
        {"a": (50, 45), "b": (50, 25)},
        # rates stay 0.9 and 0.5; shares 0.8/0.2 → 0.5/0.5: R 0.82 → 0.70.
        (-0.12, -0.12, 0.0),
        {"a": (-0.3 * 0.9, 0.0), "b": (0.3 * 0.5, 0.0)},
    ),
    "pure-quality": (
        {"a": (50, 45), "b": (50, 25)},
        {"a": (50, 40), "b": (50, 25)},
        # shares stay 0.5/0.5; a's rate 0.9 → 0.8.
        (-0.05, 0.0, -0.05),
        {"a": (0.0, -0.1 * 0.5), "b": (0.0, 0.0)},
    ),
    "both": (
        {"a": (80, 72), "b": (20, 10)},
        {"a": (50, 40), "b": (50, 30)},
        # mix: −0.3·(0.9+0.8)/2 + 0.3·(0.5+0.6)/2 = −0.255 + 0.165; quality: −0.1·0.65 + 0.1·0.35.
        (-0.12, -0.09, -0.03),
        {"a": (-0.255, -0.065), "b": (0.165, 0.035)},
    ),
    "new-category": (
        {"a": (100, 90)},
        {"a": (50, 45), "c": (50, 20)},
        # c has no baseline rate: it takes its current one, so all of c (0.5·0.4) is mix.
        (-0.25, -0.25, 0.0),
        {"a": (-0.5 * 0.9, 0.0), "c": (0.5 * 0.4, 0.0)},
    ),
    "vanished-category": (
        {"a": (50, 45), "c": (50, 20)},
        {"a": (100, 90)},
        (0.25, 0.25, 0.0),
        {"a": (0.5 * 0.9, 0.0), "c": (-0.5 * 0.4, 0.0)},
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hand_worked_decompositions(case: str) -> None:
    baseline, current, (total, mix, quality), per_category = CASES[case]
    result = decompose_rate_change(baseline, current)
    assert result.status is Status.OK
    assert result.total_change == pytest.approx(total, abs=1e-15)
    assert result.mix_effect == pytest.approx(mix, abs=1e-15)
    assert result.quality_effect == pytest.approx(quality, abs=1e-15)
    got = {c.category: (c.mix, c.quality) for c in result.categories}
    assert got == {name: pytest.approx(value, abs=1e-15) for name, value in per_category.items()}


def test_contributions_are_sorted_by_size_and_carry_shares_and_rates() -> None:
    result = decompose_rate_change({"a": (80, 72), "b": (20, 10)}, {"a": (50, 40), "b": (50, 30)})
    a, b = result.categories
    assert (a.category, a.baseline_share, a.current_share, a.baseline_rate, a.current_rate) == ("a", 0.8, 0.5, 0.9, 0.8)
    assert (b.category, b.baseline_share, b.current_share, b.baseline_rate, b.current_rate) == ("b", 0.2, 0.5, 0.5, 0.6)
    assert a.total == pytest.approx(-0.32, abs=1e-15)


@pytest.mark.parametrize("seed", range(20), ids=[f"seed{s}" for s in range(20)])
def test_mix_plus_quality_is_the_total_change(seed: int) -> None:
    rng = np.random.default_rng(seed)

    def window() -> dict[str, tuple[float, float]]:
        out = {}
        for name in "abcdefgh":
            if rng.random() < 0.8:
                size = float(rng.integers(1, 10_000)) / float(rng.choice([1.0, 0.1, 0.01]))
                out[name] = (size, size * float(rng.random()))
        return out or {"a": (1.0, 1.0)}

    result = decompose_rate_change(window(), window())
    assert result.mix_effect is not None and result.quality_effect is not None and result.total_change is not None
    assert result.mix_effect + result.quality_effect == pytest.approx(result.total_change, abs=1e-12)
    for item in result.categories:
        s0r0 = item.baseline_share * (item.baseline_rate or 0.0)
        s1r1 = item.current_share * (item.current_rate or 0.0)
        assert item.mix + item.quality == pytest.approx(s1r1 - s0r0, abs=1e-12)


def test_from_counts_uses_inclusion_weights() -> None:
    # a sampled at 1% (w = 100), b at 10% (w = 10): b's 10 samples stand for 100 calls, not 10.
    baseline = [
        CategoryCounts.from_counts("a", passed=90, failed=10, sampling_rate=0.01),
        CategoryCounts.from_counts("b", passed=5, failed=5, sampling_rate=0.1),
    ]
    current = [
        CategoryCounts.from_counts("a", passed=80, failed=20, sampling_rate=0.01),
        CategoryCounts.from_counts("b", passed=50, failed=50, sampling_rate=0.1),
    ]
    result = decompose_pass_rate_change(baseline, current, min_samples=30)
    expected = decompose_rate_change({"a": (10000, 9000), "b": (100, 50)}, {"a": (10000, 8000), "b": (1000, 500)})
    assert result.baseline_rate == pytest.approx(9050 / 10100, rel=1e-15)
    assert result.current_rate == pytest.approx(8500 / 11000, rel=1e-15)
    assert result.mix_effect == pytest.approx(expected.mix_effect, rel=1e-15)
    assert result.quality_effect == pytest.approx(expected.quality_effect, rel=1e-15)


@pytest.mark.parametrize(
    ("baseline", "current", "status"),
    [
        ([], [CategoryCounts.from_counts("a", passed=40, failed=0)], Status.NO_DATA),
        (
            [CategoryCounts.from_counts("a", passed=0, failed=0, unscored=50)],
            [CategoryCounts.from_counts("a", passed=40, failed=0)],
            Status.NO_DATA,
        ),
        (
            [CategoryCounts.from_counts("a", passed=20, failed=9)],
            [CategoryCounts.from_counts("a", passed=40, failed=0)],
            Status.TOO_FEW_SAMPLES,
        ),
    ],
    ids=["empty-baseline", "only-unscored", "29-scored"],
)
def test_no_decomposition_without_enough_scored_samples(
    baseline: list[CategoryCounts], current: list[CategoryCounts], status: Status
) -> None:
    result = decompose_pass_rate_change(baseline, current, min_samples=30)
    assert (result.status, result.total_change, result.mix_effect, result.categories) == (status, None, None, ())


def test_impossible_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="successes"):
        decompose_rate_change({"a": (10, 11)}, {"a": (10, 5)})
