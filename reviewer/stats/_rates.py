"""Pass rates with their uncertainty: Wilson intervals, inclusion weights, Kish's effective size.

Every sample row carries the probability it was sampled with (``sampling_rate``), so a
sample stands for ``1 / sampling_rate`` production calls. When all judged samples of a
group were drawn with the same rate the weights cancel and the rate is the plain share
``passed / scored``. When the rates differ, the rate is the Hájek ratio estimate
``Σ w·pass / Σ w`` (the Horvitz–Thompson total of passes divided by the Horvitz–Thompson
total of calls), and its interval is the Wilson interval at Kish's effective sample size
``(Σ w)² / Σ w²`` — unequal weights carry less information than as many equal ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy.special import ndtri

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MIN_SAMPLES = 30


class Status(StrEnum):
    """Whether a statistic could be computed; anything but ``OK`` comes without a number."""

    OK = "ok"
    TOO_FEW_SAMPLES = "too_few_samples"
    NO_DATA = "no_data"


def wilson_interval(successes: float, n: float, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """The two-sided Wilson score interval for ``successes`` out of ``n`` (no continuity correction).

    The same arithmetic as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``
    (Newcombe 1998), so integer counts give bit-identical bounds; unlike scipy, ``n`` and
    ``successes`` may be fractional (an effective size and ``rate * n``). The bound is
    exactly 0.0 when ``successes == 0`` and exactly 1.0 when ``successes == n``.

    Raises ``ValueError`` when ``n <= 0``, ``successes`` is outside ``[0, n]`` or
    ``confidence`` is outside ``(0, 1)``.
    """
    if not n > 0:
        raise ValueError(f"n must be positive, got {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, n={n!r}], got {successes!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence!r}")
    return _wilson(successes / n, n, confidence)


def _wilson(p: float, n: float, confidence: float) -> tuple[float, float]:
    # Term for term scipy's _binom_wilson_conf_int, so the floats come out identical.
    z = ndtri(0.5 + 0.5 * confidence)
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if p == 0 else center - delta
    high = 1.0 if p == 1 else center + delta
    return float(low), float(high)


def kish_effective_size(weights: Iterable[float] | np.ndarray) -> float:
    """Kish's effective sample size ``(Σ w)² / Σ w²`` of positive weights; 0.0 for none.

    Equals the number of weights when they are all equal, and is smaller otherwise.
    Raises ``ValueError`` for a negative or non-finite weight.
    """
    array = np.asarray(list(weights) if not isinstance(weights, np.ndarray) else weights, dtype=float)
    if array.size == 0:
        return 0.0
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("weights must be finite and non-negative")
    return kish_from_sums(float(array.sum()), float(np.square(array).sum()))


def kish_from_sums(weight_sum: float, weight_sq_sum: float) -> float:
    """Kish's effective sample size from ``Σ w`` and ``Σ w²`` (as aggregated in SQL); 0.0 when empty."""
    if weight_sq_sum <= 0:
        return 0.0
    return weight_sum * weight_sum / weight_sq_sum


@dataclass(frozen=True, slots=True)
class RateEstimate:
    """A pass rate with its Wilson interval, or the reason there is none.

    ``successes`` / ``n`` are the raw counts of judged samples (passes, and passes plus
    fails). With ``status`` other than ``OK``, ``rate``, ``low``, ``high`` and
    ``effective_n`` are ``None``: too few samples is said, never shown as a number.
    ``weighted`` says the rate was re-weighted by inclusion probability (the sampling
    rates differed); then ``effective_n`` is Kish's size, otherwise it equals ``n``.
    """

    status: Status
    successes: int
    n: int
    rate: float | None = None
    low: float | None = None
    high: float | None = None
    effective_n: float | None = None
    weighted: bool = False
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


def _gate(successes: int, n: int, min_samples: int) -> Status:
    if successes < 0 or n < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    if n == 0:
        return Status.NO_DATA
    if n < min_samples:
        return Status.TOO_FEW_SAMPLES
    return Status.OK


def rate_estimate(
    successes: int, n: int, *, min_samples: int = DEFAULT_MIN_SAMPLES, confidence: float = DEFAULT_CONFIDENCE
) -> RateEstimate:
    """The plain rate ``successes / n`` with its Wilson interval.

    ``NO_DATA`` when ``n == 0``, ``TOO_FEW_SAMPLES`` when ``n < min_samples``; raises
    ``ValueError`` for impossible counts.
    """
    status = _gate(successes, n, min_samples)
    if status is not Status.OK:
        return RateEstimate(status, successes, n, confidence=confidence)
    low, high = wilson_interval(successes, n, confidence=confidence)
    return RateEstimate(status, successes, n, successes / n, low, high, float(n), False, confidence)


def weighted_rate_estimate(
    successes: int,
    n: int,
    *,
    weight_successes: float,
    weight_total: float,
    weight_sq_total: float,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> RateEstimate:
    """The Hájek rate ``weight_successes / weight_total`` with a Wilson interval at Kish's size.

    Inputs are sums over the ``n`` judged samples of their weights ``w = 1 / sampling_rate``
    (``weight_total``), of ``w`` over the passes (``weight_successes``) and of ``w²``
    (``weight_sq_total``). The "too few samples" rule applies to the raw ``n``, as in
    :func:`rate_estimate`. Use :func:`rate_estimate` when all rates are equal: the result
    is the same up to rounding, and exact.

    Raises ``ValueError`` for impossible counts or sums.
    """
    status = _gate(successes, n, min_samples)
    if status is not Status.OK:
        return RateEstimate(status, successes, n, confidence=confidence, weighted=True)
    if not (weight_total > 0 and weight_sq_total > 0 and 0 <= weight_successes <= weight_total * (1 + 1e-12)):
        raise ValueError(
            f"inconsistent weight sums: successes {weight_successes!r}, total {weight_total!r}, "
            f"squares {weight_sq_total!r}"
        )
    rate = min(1.0, weight_successes / weight_total)
    if successes == 0:
        rate = 0.0
    elif successes == n:
        rate = 1.0
    effective_n = kish_from_sums(weight_total, weight_sq_total)
    low, high = _wilson(rate, effective_n, confidence)
    return RateEstimate(status, successes, n, rate, low, high, effective_n, True, confidence)
