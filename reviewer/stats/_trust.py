"""Pass rates corrected for the judge's errors, measured on a random audit of judged samples.

The judge's raw pass rate ``p`` is its opinion. People audit a random sample of the judged
samples (``reviewer.reviews`` draws it); each audit is one cell of the 2×2 table judge ×
person. From that table come the judge's **sensitivity** ``Se = P(judge pass | person pass)``
and **specificity** ``Sp = P(judge fail | person fail)``; ``1 − Sp`` is the false-pass rate.

Two corrected estimators of the true pass rate ``θ``, both with a normal interval:

* **PPI** — prediction-powered inference (Angelopoulos et al., Science 2023) for a mean:
  ``θ̂ = p − r̄`` where ``r̄`` is the audits' mean of ``judge − person`` (each 1, 0 or −1).
  ``Var = p(1 − p)/n_eff + Var(r)/m``. It needs no per-class minimum (a stratum where
  people almost never fail a sample still gets an estimate) and is unbiased without
  clipping. The variance of ``r`` is taken with half a pseudo-count in each disagreement
  cell (``(c + ½)/(m + 1)``, Jeffreys-like): with no disagreement in the audits the plain
  variance is 0 and the interval would claim the judge is perfect (measured: 77% coverage
  at 30 audits of a 99%/90% judge without it, ≥ 94% with it).
* **Rogan–Gladen with the delta method** — ``θ̂ = (p + Sp − 1)/(Se + Sp − 1)`` clipped to
  [0, 1] (Rogan & Gladen 1978); the variance adds the uncertainty of ``p``, ``Se`` and
  ``Sp`` (Lee et al., "How to Correctly Report LLM-as-a-Judge Evaluations", 2025):
  ``[p(1−p)/n + (1−θ)²·Sp(1−Sp)/m₀ + θ²·Se(1−Se)/m₁] / (Se + Sp − 1)²``, with each
  proportion in the variance taken Agresti–Coull-adjusted (``(x + z²/2)/(m + z²)``) so
  that an audit with no error does not give a zero variance.

The default is PPI, chosen by simulation (``benchmarks/bench_judge_trust.py``): over a grid
of true rates, judge qualities and audit sizes it keeps its coverage closer to the nominal
95% and its intervals are narrower than Rogan–Gladen's, whose ratio is unstable when
``Se + Sp`` is near 1 or an audit class is small (see the README for the numbers).

States instead of numbers: ``NO_DATA`` (nothing judged), ``TOO_FEW_SAMPLES`` (the raw
rate itself has too few judged samples), ``TOO_FEW_AUDITS`` (fewer than
``min_audits`` audits, or — for Rogan–Gladen — no audit in one of the person's classes),
``JUDGE_AT_CHANCE`` (``Se + Sp ≤ 1``: the judge's verdict carries no information about the
person's, and no correction can recover the rate). Never a 0.0 stand-in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from scipy.special import ndtri

from ._rates import DEFAULT_CONFIDENCE, RateEstimate, wilson_interval

DEFAULT_MIN_AUDITS = 30
DEFAULT_HALF_WIDTH = 0.10


class TrustStatus(StrEnum):
    """Whether a corrected rate could be computed; anything but ``OK`` comes without a number."""

    OK = "ok"
    NO_DATA = "no_data"
    TOO_FEW_SAMPLES = "too_few_samples"
    TOO_FEW_AUDITS = "too_few_audits"
    JUDGE_AT_CHANCE = "judge_no_better_than_chance"


class CorrectionMethod(StrEnum):
    PPI = "ppi"
    ROGAN_GLADEN = "rogan_gladen"


DEFAULT_METHOD = CorrectionMethod.PPI


@dataclass(frozen=True, slots=True)
class AuditCounts:
    """The 2×2 table of audits: judge verdict (first) against the person's (second)."""

    pass_pass: int = 0
    pass_fail: int = 0  # the judge passed what the person failed: a false pass
    fail_pass: int = 0  # the judge failed what the person passed: a false fail
    fail_fail: int = 0

    def __post_init__(self) -> None:
        if min(self.pass_pass, self.pass_fail, self.fail_pass, self.fail_fail) < 0:
            raise ValueError(f"audit counts must be non-negative, got {self!r}")

    def __add__(self, other: AuditCounts) -> AuditCounts:
        return AuditCounts(self.pass_pass + other.pass_pass, self.pass_fail + other.pass_fail,
                           self.fail_pass + other.fail_pass, self.fail_fail + other.fail_fail)

    @property
    def n(self) -> int:
        return self.pass_pass + self.pass_fail + self.fail_pass + self.fail_fail

    @property
    def human_pass(self) -> int:
        return self.pass_pass + self.fail_pass

    @property
    def human_fail(self) -> int:
        return self.pass_fail + self.fail_fail

    @property
    def sensitivity(self) -> float | None:
        """P(judge pass | person pass); None without a person-passed audit."""
        return self.pass_pass / self.human_pass if self.human_pass else None

    @property
    def specificity(self) -> float | None:
        """P(judge fail | person fail); None without a person-failed audit."""
        return self.fail_fail / self.human_fail if self.human_fail else None

    @property
    def false_pass_rate(self) -> float | None:
        """P(judge pass | person fail) = 1 − specificity."""
        return self.pass_fail / self.human_fail if self.human_fail else None


@dataclass(frozen=True, slots=True)
class CorrectedRate:
    """The judge's raw rate beside the corrected estimate of the true pass rate.

    ``raw`` is the judge's rate over every judged sample (as the pages show it).
    ``sensitivity`` / ``specificity`` come from ``audits`` (None when a class has no
    audit). With ``status`` other than ``OK``, ``estimate``, ``low``, ``high`` and
    ``std_error`` are None. ``audits_needed`` is how many more audits give a false-pass
    rate to ± ``half_width`` (0 when already there).
    """

    status: TrustStatus
    method: CorrectionMethod
    raw: RateEstimate
    audits: AuditCounts
    sensitivity: float | None
    specificity: float | None
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    std_error: float | None = None
    audits_needed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def ok(self) -> bool:
        return self.status is TrustStatus.OK


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1), got {confidence!r}")
    return float(ndtri(0.5 + 0.5 * confidence))


def rogan_gladen(p: float, sensitivity: float, specificity: float) -> float | None:
    """``(p + Sp − 1) / (Se + Sp − 1)`` clipped to [0, 1]; None when ``Se + Sp ≤ 1``."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        return None
    return min(1.0, max(0.0, (p + specificity - 1) / youden))


def _adjusted(x: float, m: float, z: float) -> float:
    return (x + z * z / 2) / (m + z * z)


def rogan_gladen_interval(
    p: float, n_eff: float, audits: AuditCounts, *, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float, float] | None:
    """``(estimate, low, high, std_error)`` by Rogan–Gladen and the delta method, or None.

    None when a person class has no audit or ``Se + Sp ≤ 1``. ``p`` is the judge's rate
    over ``n_eff`` judged samples (Kish's size when weighted).
    """
    se, sp = audits.sensitivity, audits.specificity
    if se is None or sp is None:
        return None
    theta = rogan_gladen(p, se, sp)
    if theta is None:
        return None
    z = _z(confidence)
    pa = _adjusted(p * n_eff, n_eff, z)
    sea = _adjusted(audits.pass_pass, audits.human_pass, z)
    spa = _adjusted(audits.fail_fail, audits.human_fail, z)
    variance = (pa * (1 - pa) / n_eff + (1 - theta) ** 2 * spa * (1 - spa) / audits.human_fail
                + theta**2 * sea * (1 - sea) / audits.human_pass) / (se + sp - 1) ** 2
    std = math.sqrt(variance)
    return theta, max(0.0, theta - z * std), min(1.0, theta + z * std), std


def ppi_interval(
    p: float, n_eff: float, audits: AuditCounts, *, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float, float, float] | None:
    """``(estimate, low, high, std_error)`` by prediction-powered inference, or None without audits.

    ``θ̂ = p − r̄``, ``r̄ = (false passes − false fails) / audits``; the estimate is clipped
    to [0, 1] (the rectified mean of a 0/1 outcome can overshoot by chance).
    """
    m = audits.n
    if m == 0 or n_eff <= 0:
        return None
    z = _z(confidence)
    rectifier = (audits.pass_fail - audits.fail_pass) / m
    theta = min(1.0, max(0.0, p - rectifier))
    up, down = (audits.pass_fail + 0.5) / (m + 1), (audits.fail_pass + 0.5) / (m + 1)
    rectifier_var = up + down - (up - down) ** 2
    pa = _adjusted(p * n_eff, n_eff, z)
    std = math.sqrt(pa * (1 - pa) / n_eff + rectifier_var / m)
    return theta, max(0.0, theta - z * std), min(1.0, theta + z * std), std


def audits_needed(
    audits: AuditCounts,
    *,
    judge_fail_share: float | None = None,
    half_width: float = DEFAULT_HALF_WIDTH,
    confidence: float = DEFAULT_CONFIDENCE,
) -> int:
    """How many more audits (of this stratum) give the false-pass rate to ± ``half_width``.

    The false-pass rate is a share of person-failed audits, so it needs ``m₀`` of those
    with ``z·√(q(1−q)/m₀) ≤ half_width``, ``q`` the Agresti–Coull-adjusted false-pass rate
    (½ before any person-failed audit: the worst case). Audits arrive in person-failed
    ones at the audits' share of failures, adjusted as ``(fails + 1)/(audits + 2)``; before
    any audit, at ``judge_fail_share`` (the judge's fail rate), else ½. The share is
    floored at 1% so a stratum that almost never fails asks for a large but finite number.
    """
    if not 0 < half_width < 1:
        raise ValueError(f"half_width must be within (0, 1), got {half_width!r}")
    z = _z(confidence)
    m0 = audits.human_fail
    q = _adjusted(audits.pass_fail, m0, z) if m0 else 0.5
    needed_fails = math.ceil(z * z * q * (1 - q) / half_width**2)
    missing = needed_fails - m0
    if missing <= 0:
        return 0
    if audits.n:
        share = (audits.human_fail + 1) / (audits.n + 2)
    elif judge_fail_share is not None:
        share = judge_fail_share
    else:
        share = 0.5
    return math.ceil(missing / max(0.01, share))


def corrected_rate(
    raw: RateEstimate,
    audits: AuditCounts,
    *,
    method: CorrectionMethod = DEFAULT_METHOD,
    min_audits: int = DEFAULT_MIN_AUDITS,
    half_width: float = DEFAULT_HALF_WIDTH,
    confidence: float = DEFAULT_CONFIDENCE,
    check_chance: bool = True,
) -> CorrectedRate:
    """The corrected pass rate of one stratum from the judge's ``raw`` rate and its ``audits``.

    ``raw`` is a :class:`RateEstimate` (plain or inclusion-weighted) over every judged
    sample of the stratum. ``NO_DATA`` when nothing was judged, ``TOO_FEW_SAMPLES`` when
    ``raw`` itself has no rate, ``TOO_FEW_AUDITS`` below ``min_audits`` audits; with both
    person classes audited and ``Se + Sp ≤ 1``, ``JUDGE_AT_CHANCE`` (unless ``check_chance`` is
    False: a component of :func:`combine_corrected`, whose audits are judged pooled). Raises
    ``ValueError`` for ``min_audits < 1``.
    """
    if min_audits < 1:
        raise ValueError(f"min_audits must be at least 1, got {min_audits}")
    se, sp = audits.sensitivity, audits.specificity
    judge_fail = None if raw.rate is None else 1 - raw.rate
    needed = audits_needed(audits, judge_fail_share=judge_fail, half_width=half_width, confidence=confidence)

    def state(status: TrustStatus) -> CorrectedRate:
        return CorrectedRate(status, method, raw, audits, se, sp, audits_needed=needed, confidence=confidence)

    if raw.n == 0:
        return state(TrustStatus.NO_DATA)
    if raw.rate is None or raw.effective_n is None:
        return state(TrustStatus.TOO_FEW_SAMPLES)
    if audits.n < min_audits:
        return state(TrustStatus.TOO_FEW_AUDITS)
    if check_chance and se is not None and sp is not None and se + sp <= 1:
        return state(TrustStatus.JUDGE_AT_CHANCE)
    if method is CorrectionMethod.PPI:
        result = ppi_interval(raw.rate, raw.effective_n, audits, confidence=confidence)
    else:
        result = rogan_gladen_interval(raw.rate, raw.effective_n, audits, confidence=confidence)
    if result is None:  # Rogan–Gladen without an audit in one person class
        return state(TrustStatus.TOO_FEW_AUDITS)
    estimate, low, high, std = result
    return CorrectedRate(TrustStatus.OK, method, raw, audits, se, sp, estimate, low, high, std, needed, confidence)


def combine_corrected(
    parts: Sequence[tuple[float, CorrectedRate]],
    raw: RateEstimate,
    *,
    method: CorrectionMethod = DEFAULT_METHOD,
    min_audits: int = DEFAULT_MIN_AUDITS,
    confidence: float = DEFAULT_CONFIDENCE,
) -> CorrectedRate:
    """The overall corrected rate of strata ``(weight, corrected)``: ``Σ W·θ`` with ``Var = Σ W²·Var``.

    ``weight`` is each stratum's estimated production calls (``Σ 1/sampling_rate``), so
    the overall rate is inclusion-weighted as the raw one is; ``raw`` is the overall raw
    rate shown beside it. The parts should be computed with ``min_audits=1``,
    ``check_chance=False`` and ``min_samples=1`` (a small stratum still adds its share):
    the ``min_audits`` and chance gates apply to the pooled audits here. A stratum without an estimate (no audit, or Rogan–Gladen
    without one person class) makes the whole ``TOO_FEW_AUDITS``; the whole is
    ``JUDGE_AT_CHANCE`` when its pooled audits say ``Se + Sp ≤ 1`` or every stratum does.
    ``audits_needed`` adds up.
    """
    audits = sum((c.audits for _, c in parts), AuditCounts())
    needed = sum(c.audits_needed for _, c in parts)
    se, sp = audits.sensitivity, audits.specificity
    live = [(w, c) for w, c in parts if c.status is not TrustStatus.NO_DATA]
    total = sum(w for w, _ in live)

    def state(status: TrustStatus) -> CorrectedRate:
        return CorrectedRate(status, method, raw, audits, se, sp, audits_needed=needed, confidence=confidence)

    if not live or total <= 0 or raw.n == 0:
        return state(TrustStatus.NO_DATA)
    if raw.rate is None:
        return state(TrustStatus.TOO_FEW_SAMPLES)
    if audits.n < min_audits:
        return state(TrustStatus.TOO_FEW_AUDITS)
    if (se is not None and sp is not None and se + sp <= 1) or all(
            c.status is TrustStatus.JUDGE_AT_CHANCE for _, c in live):
        return state(TrustStatus.JUDGE_AT_CHANCE)
    if any(not c.ok for _, c in live):
        return state(TrustStatus.TOO_FEW_AUDITS)
    z = _z(confidence)
    estimate = sum(w / total * (c.estimate or 0.0) for w, c in live)
    std = math.sqrt(sum((w / total) ** 2 * (c.std_error or 0.0) ** 2 for w, c in live))
    return CorrectedRate(TrustStatus.OK, method, raw, audits, se, sp, estimate, max(0.0, estimate - z * std),
                         min(1.0, estimate + z * std), std, needed, confidence)


def audit_only_interval(audits: AuditCounts, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float, float]:
    """The people's own pass rate over the audits with its Wilson interval (the no-judge baseline)."""
    if audits.n == 0:
        raise ValueError("no audits")
    low, high = wilson_interval(audits.human_pass, audits.n, confidence=confidence)
    return audits.human_pass / audits.n, low, high
