"""Drift as an alert sees it: a significance test *and* an effect size, both reported.

The drift report (:mod:`._drift`) describes how far two windows are apart. An alert must
also ask whether the difference could be chance: at 100 current values the normalised
Wasserstein distance of two samples of one log-normal distribution is ≥ 0.1 in 71% of
windows. So a feature drifts only when

* the test is significant at the evaluation's (corrected) α — decided by the caller,
  who corrects the whole family of an evaluation's tests (:mod:`._multitest`) — and
* the effect passes its threshold (:attr:`DriftTest.large`).

Numeric features: the two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``) and
the Wasserstein distance divided by the reference's standard deviation (effect threshold
0.1, a shift of a tenth of a standard deviation). KS was chosen over a permutation test on
the Wasserstein statistic by measured power (``benchmarks/bench_alerts.py --power``,
log-normal latency shifted by 0.1–0.3 sd, 50 to 1,000 current values): the two have the
same power within the measurement's noise (e.g. 0.90 vs 0.85 at 200 values and 0.2 sd),
while KS takes 1–14 ms and 499 permutations 23–515 ms — and at the corrected level
(α ≈ 0.01 / 17 ≈ 6·10⁻⁴) a permutation p-value needs ≥ 1,700 resamples per feature to be
able to fall below it at all. :func:`wasserstein_permutation_pvalue` stays for that
measurement. Ties (token counts) make the KS p-value conservative, never liberal.

Categorical features: Pearson's chi-square test of the 2 × K table (reference, current)
× categories (``scipy.stats.chi2_contingency``, no continuity correction), with
categories whose expected count is below 5 pooled into one cell so the chi-square
approximation holds (a value seen once in one window is no evidence of drift). The
G-test (``lambda_="log-likelihood"``) is available; Pearson's is the default because
it keeps its level better with small expected counts. Effects: PSI (threshold 0.1) and
the Jensen–Shannon distance (threshold 0.1) of the unpooled tables; the effect is large
when either passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from ._drift import (
    JS_THRESHOLD,
    PSI_THRESHOLD,
    WASSERSTEIN_THRESHOLD,
    FeatureKind,
    jensen_shannon_distance,
    population_stability_index,
)
from ._rates import DEFAULT_MIN_SAMPLES, Status

MIN_EXPECTED_COUNT = 5.0
POOLED_LABEL = "(rare)"
CATEGORICAL_TESTS = ("chi_square", "g_test")


@dataclass(frozen=True, slots=True)
class DriftTest:
    """One feature's test of "same distribution in both windows" and its effect size.

    ``p_value`` is the raw p-value of ``test``; ``effects`` maps each effect measure
    (``wasserstein_normed``, or ``psi`` and ``jensen_shannon``) to its value and
    ``thresholds`` to its threshold; ``large`` says the effect passes (any measure at or
    above its threshold). Without enough data (``status`` not ``OK``) ``p_value`` and
    ``large`` are ``None`` and ``effects`` is empty. ``statistic`` is the test's (KS D or
    chi-square / G), ``dof`` the chi-square degrees of freedom (0 for KS).
    """

    feature: str
    kind: FeatureKind
    test: str
    status: Status
    p_value: float | None
    statistic: float | None
    large: bool | None
    reference_n: int
    current_n: int
    effects: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    dof: int = 0
    note: str = ""

    def drifted(self, p_adjusted: float | None, alpha: float) -> bool | None:
        """Significant at ``alpha`` (with the corrected p-value) and large; None without a test."""
        if self.p_value is None or self.large is None or p_adjusted is None:
            return None
        return p_adjusted < alpha and self.large


def _status(reference_n: int, current_n: int, min_samples: int) -> Status:
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    if reference_n == 0 or current_n == 0:
        return Status.NO_DATA
    if min(reference_n, current_n) < min_samples:
        return Status.TOO_FEW_SAMPLES
    return Status.OK


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"expected a flat sequence of numbers, got shape {array.shape}")
    return array[np.isfinite(array)]


def normalised_wasserstein(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, str]:
    """``(effect, threshold, note)``: W₁ / std(reference), or W₁ itself (threshold 0) for a constant reference."""
    distance = float(wasserstein_distance(reference, current))
    std = float(np.std(reference))
    if std == 0 or not math.isfinite(distance / std):
        return distance, 0.0, f"reference is constant ({reference[0]:g}): unnormalised distance, large when above 0"
    return distance / std, WASSERSTEIN_THRESHOLD, ""


def numeric_drift_test(
    feature: str,
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> DriftTest:
    """KS test and normalised Wasserstein effect of one numeric feature (NaN/inf dropped first)."""
    ref, cur = _finite(reference), _finite(current)
    status = _status(ref.size, cur.size, min_samples)
    if status is not Status.OK:
        return DriftTest(feature, FeatureKind.NUMERIC, "ks", status, None, None, None, ref.size, cur.size)
    result = ks_2samp(ref, cur)
    effect, threshold, note = normalised_wasserstein(ref, cur)
    large = effect > 0 if threshold == 0 else effect >= threshold
    name = "wasserstein_normed" if threshold else "wasserstein"
    return DriftTest(feature, FeatureKind.NUMERIC, "ks", status, float(result.pvalue), float(result.statistic), large,
                     ref.size, cur.size, {name: effect}, {name: threshold}, note=note)


def wasserstein_permutation_pvalue(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    resamples: int = 199,
    seed: int = 0,
) -> float:
    """The permutation p-value of the Wasserstein distance: ``(1 + #{W* ≥ W}) / (1 + resamples)``.

    Each resample splits the pooled values at random into windows of the original sizes.
    The normalisation by the reference's std does not change the ordering much and is
    left out (the raw distance is the statistic). For the power comparison only.
    """
    ref, cur = _finite(reference), _finite(current)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("both windows need values")
    observed = float(wasserstein_distance(ref, cur))
    pooled = np.concatenate([ref, cur])
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(resamples):
        permuted = rng.permutation(pooled)
        if wasserstein_distance(permuted[: ref.size], permuted[ref.size:]) >= observed - 1e-12:
            exceed += 1
    return (1 + exceed) / (1 + resamples)


def pooled_table(reference: Mapping[str, int], current: Mapping[str, int]) -> tuple[np.ndarray, list[str]]:
    """The 2 × K table of counts, categories with expected count < 5 pooled into ``(rare)``.

    Columns sorted by label, the pooled column last. When the pooled column itself stays
    below 5 expected it is merged into the smallest other column, so every expected count
    is at least 5 whenever the table has two or more columns.
    """
    labels = sorted(set(reference) | set(current))
    table = np.array([[reference.get(key, 0) for key in labels], [current.get(key, 0) for key in labels]], dtype=float)
    totals = table.sum(axis=1)
    share = totals / totals.sum()
    expected_min = np.outer(share, table.sum(axis=0)).min(axis=0)
    keep = expected_min >= MIN_EXPECTED_COUNT
    kept_labels = [label for label, k in zip(labels, keep, strict=True) if k]
    kept = table[:, keep]
    rare = table[:, ~keep].sum(axis=1, keepdims=True)
    if rare.sum() > 0:
        if (np.outer(share, rare.sum(axis=0)).min() >= MIN_EXPECTED_COUNT) or kept.shape[1] == 0:
            kept, kept_labels = np.hstack([kept, rare]), [*kept_labels, POOLED_LABEL]
        else:
            smallest = int(np.argmin(kept.sum(axis=0)))
            kept = kept.copy()
            kept[:, smallest] += rare[:, 0]
            kept_labels[smallest] = f"{kept_labels[smallest]}+{POOLED_LABEL}"
    return kept, kept_labels


def categorical_drift_test(
    feature: str,
    reference: Mapping[str, int],
    current: Mapping[str, int],
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    test: str = "chi_square",
) -> DriftTest:
    """Chi-square (or G-) test of homogeneity and PSI / Jensen–Shannon effects of one categorical feature.

    Raises ``ValueError`` for an unknown ``test`` or a negative count.
    """
    if test not in CATEGORICAL_TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(CATEGORICAL_TESTS)}")
    if any(count < 0 for table in (reference, current) for count in table.values()):
        raise ValueError("category counts must be non-negative")
    ref_n, cur_n = sum(reference.values()), sum(current.values())
    status = _status(ref_n, cur_n, min_samples)
    if status is not Status.OK:
        return DriftTest(feature, FeatureKind.CATEGORICAL, test, status, None, None, None, ref_n, cur_n)
    psi = population_stability_index(reference, current)
    js = jensen_shannon_distance(reference, current)
    effects = {"psi": psi, "jensen_shannon": js}
    thresholds = {"psi": PSI_THRESHOLD, "jensen_shannon": JS_THRESHOLD}
    large = psi >= PSI_THRESHOLD or js >= JS_THRESHOLD
    table, labels = pooled_table(reference, current)
    note = f"pooled into {labels[-1]}" if labels and POOLED_LABEL in labels[-1] else ""
    if table.shape[1] < 2:  # one category in all: nothing to test
        return DriftTest(feature, FeatureKind.CATEGORICAL, test, status, 1.0, 0.0, large, ref_n, cur_n, effects,
                         thresholds, 0, note)
    lambda_ = "pearson" if test == "chi_square" else "log-likelihood"
    result = chi2_contingency(table, correction=False, lambda_=lambda_)
    return DriftTest(feature, FeatureKind.CATEGORICAL, test, status, float(result.pvalue), float(result.statistic),
                     large, ref_n, cur_n, effects, thresholds, int(result.dof), note)
