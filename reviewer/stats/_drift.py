"""Drift of one feature between a reference window and a current window.

Methods, chosen as Evidently chooses its defaults:

* categorical features — the population stability index (PSI) and the Jensen–Shannon
  distance, both over the union of the categories seen in either window;
* numeric features — the two-sample Kolmogorov–Smirnov test while the reference has at
  most 1,000 values (``KS_MAX_REFERENCE``), drift when ``p < 0.05``; above that the KS
  test flags negligible differences, and the Wasserstein distance divided by the
  reference's standard deviation is used instead, drift when ``≥ 0.1`` (a shift of a
  tenth of a standard deviation).

PSI is ``Σ (pᵢ − qᵢ) · ln(pᵢ / qᵢ)`` over category shares ``p`` (reference) and ``q``
(current). A category absent from one window would make it infinite, so an empty
share is replaced by ``PSI_EPSILON`` (1e-4, the usual choice, also Evidently's) before
the sum, without renormalising. Conventional reading: below 0.1 stable, 0.1 to 0.25 a
moderate shift, 0.25 and above a significant shift; drift is flagged from 0.1.

The Jensen–Shannon distance is ``scipy.spatial.distance.jensenshannon`` in base 2, so
it lies in [0, 1]; drift when ``≥ 0.1``. (Evidently uses the natural log with the same
threshold; base 2 gives values ``1/√ln 2 ≈ 1.20`` times larger, so it flags slightly
earlier.)

Every result names its method, value, threshold and verdict. Nothing is computed from an
empty window (``NO_DATA``) or from fewer than ``min_samples`` values in either window
(``TOO_FEW_SAMPLES``); then ``value`` and ``drifted`` are ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from ._rates import DEFAULT_MIN_SAMPLES, Status

PSI_EPSILON = 1e-4
PSI_THRESHOLD = 0.1
PSI_SIGNIFICANT = 0.25
JS_THRESHOLD = 0.1
KS_ALPHA = 0.05
KS_MAX_REFERENCE = 1000
WASSERSTEIN_THRESHOLD = 0.1


class DriftMethod(StrEnum):
    PSI = "psi"
    JENSEN_SHANNON = "jensen_shannon"
    KS = "ks"
    WASSERSTEIN_NORMED = "wasserstein_normed"
    WASSERSTEIN = "wasserstein"
    """Unnormalised, used only when the reference is constant (its std is zero)."""


class DriftVerdict(StrEnum):
    NO_DRIFT = "no_drift"
    MODERATE = "moderate_drift"
    DRIFT = "drift"
    TOO_FEW_SAMPLES = "too_few_samples"
    NO_DATA = "no_data"


class FeatureKind(StrEnum):
    CATEGORICAL = "categorical"
    NUMERIC = "numeric"


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One feature, one method: the number, the threshold it is compared with, the verdict.

    ``drifted`` is ``value >= threshold``, except for KS, where ``value`` is a p-value and
    drift is ``value < threshold``, and for the unnormalised Wasserstein distance of a
    constant reference, where drift is ``value > 0``. ``statistic`` is the KS statistic D (``None`` for
    other methods). ``reference_n`` / ``current_n`` count the values (or rows) used;
    ``note`` explains special cases (a constant reference, a reference subsample).
    """

    feature: str
    kind: FeatureKind
    method: DriftMethod
    status: Status
    verdict: DriftVerdict
    value: float | None
    threshold: float
    drifted: bool | None
    reference_n: int
    current_n: int
    statistic: float | None = None
    note: str = ""


def _gate(reference_n: int, current_n: int, min_samples: int) -> tuple[Status, DriftVerdict] | None:
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    if reference_n == 0 or current_n == 0:
        return Status.NO_DATA, DriftVerdict.NO_DATA
    if min(reference_n, current_n) < min_samples:
        return Status.TOO_FEW_SAMPLES, DriftVerdict.TOO_FEW_SAMPLES
    return None


def _shares(reference: Mapping[str, int], current: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(set(reference) | set(current))
    ref = np.array([reference.get(key, 0) for key in keys], dtype=float)
    cur = np.array([current.get(key, 0) for key in keys], dtype=float)
    return ref / ref.sum(), cur / cur.sum()


def population_stability_index(
    reference: Mapping[str, int], current: Mapping[str, int], *, epsilon: float = PSI_EPSILON
) -> float:
    """PSI of two categorical count tables (see the module docstring); both must be non-empty.

    Raises ``ValueError`` for a negative count or an empty table.
    """
    _check_counts(reference, current)
    ref, cur = _shares(reference, current)
    ref = np.where(ref == 0, epsilon, ref)
    cur = np.where(cur == 0, epsilon, cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensen_shannon_distance(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """The base-2 Jensen–Shannon distance of two categorical count tables, in [0, 1]."""
    _check_counts(reference, current)
    ref, cur = _shares(reference, current)
    return float(jensenshannon(ref, cur, base=2))


def _check_counts(reference: Mapping[str, int], current: Mapping[str, int]) -> None:
    for table in (reference, current):
        if any(count < 0 for count in table.values()):
            raise ValueError("category counts must be non-negative")
        if sum(table.values()) == 0:
            raise ValueError("a count table is empty")


def categorical_drift(
    feature: str,
    reference: Mapping[str, int],
    current: Mapping[str, int],
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> tuple[DriftResult, DriftResult]:
    """PSI and Jensen–Shannon results for one categorical feature, from ``{value: count}`` tables.

    PSI's verdict is ``MODERATE`` from 0.1 and ``DRIFT`` from 0.25 (``drifted`` from
    0.1); Jensen–Shannon's is ``DRIFT`` from 0.1.
    """
    ref_n, cur_n = sum(reference.values()), sum(current.values())
    gate = _gate(ref_n, cur_n, min_samples)
    if gate is not None:
        status, verdict = gate
        return (
            DriftResult(feature, FeatureKind.CATEGORICAL, DriftMethod.PSI, status, verdict, None, PSI_THRESHOLD,
                        None, ref_n, cur_n),
            DriftResult(feature, FeatureKind.CATEGORICAL, DriftMethod.JENSEN_SHANNON, status, verdict, None,
                        JS_THRESHOLD, None, ref_n, cur_n),
        )
    psi = population_stability_index(reference, current)
    if psi >= PSI_SIGNIFICANT:
        psi_verdict = DriftVerdict.DRIFT
    elif psi >= PSI_THRESHOLD:
        psi_verdict = DriftVerdict.MODERATE
    else:
        psi_verdict = DriftVerdict.NO_DRIFT
    js = jensen_shannon_distance(reference, current)
    js_drifted = js >= JS_THRESHOLD
    return (
        DriftResult(feature, FeatureKind.CATEGORICAL, DriftMethod.PSI, Status.OK, psi_verdict, psi, PSI_THRESHOLD,
                    psi >= PSI_THRESHOLD, ref_n, cur_n),
        DriftResult(feature, FeatureKind.CATEGORICAL, DriftMethod.JENSEN_SHANNON, Status.OK,
                    DriftVerdict.DRIFT if js_drifted else DriftVerdict.NO_DRIFT, js, JS_THRESHOLD, js_drifted,
                    ref_n, cur_n),
    )


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"expected a flat sequence of numbers, got shape {array.shape}")
    return array[np.isfinite(array)]


def numeric_drift(
    feature: str,
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    *,
    reference_size: int | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> DriftResult:
    """KS or normalised Wasserstein drift of one numeric feature (see the module docstring).

    NaN and infinite values are dropped first. ``reference_size`` is the size of the whole
    reference when ``reference`` is a subsample of it: the method is chosen by that size,
    as if all values were at hand. A constant reference cannot normalise the Wasserstein
    distance; the unnormalised distance is reported instead (method ``WASSERSTEIN``,
    threshold 0.0): any current value off the constant is drift.
    """
    ref, cur = _finite(reference), _finite(current)
    size = ref.size if reference_size is None else max(reference_size, ref.size)
    use_ks = size <= KS_MAX_REFERENCE
    gate = _gate(ref.size, cur.size, min_samples)
    if gate is not None:
        status, verdict = gate
        method, threshold = (DriftMethod.KS, KS_ALPHA) if use_ks else (DriftMethod.WASSERSTEIN_NORMED,
                                                                        WASSERSTEIN_THRESHOLD)
        return DriftResult(feature, FeatureKind.NUMERIC, method, status, verdict, None, threshold, None,
                           ref.size, cur.size)
    note = "" if size == ref.size else f"reference subsampled: {ref.size:,} of {size:,} values"
    if use_ks:
        result = ks_2samp(ref, cur)
        p_value = float(result.pvalue)
        drifted = p_value < KS_ALPHA
        return DriftResult(feature, FeatureKind.NUMERIC, DriftMethod.KS, Status.OK,
                           DriftVerdict.DRIFT if drifted else DriftVerdict.NO_DRIFT, p_value, KS_ALPHA, drifted,
                           ref.size, cur.size, statistic=float(result.statistic), note=note)
    distance = float(wasserstein_distance(ref, cur))
    std = float(np.std(ref))
    if std == 0 or not math.isfinite(distance / std):
        drifted = distance > 0
        constant = f"reference is constant ({ref[0]:g}): unnormalised distance, drift when above 0"
        return DriftResult(feature, FeatureKind.NUMERIC, DriftMethod.WASSERSTEIN, Status.OK,
                           DriftVerdict.DRIFT if drifted else DriftVerdict.NO_DRIFT, distance, 0.0, drifted,
                           ref.size, cur.size, note="; ".join(filter(None, (constant, note))))
    normed = distance / std
    drifted = normed >= WASSERSTEIN_THRESHOLD
    return DriftResult(feature, FeatureKind.NUMERIC, DriftMethod.WASSERSTEIN_NORMED, Status.OK,
                       DriftVerdict.DRIFT if drifted else DriftVerdict.NO_DRIFT, normed, WASSERSTEIN_THRESHOLD,
                       drifted, ref.size, cur.size, note=note)
