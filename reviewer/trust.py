"""How far to trust the judge: audits per rubric × category, and pass rates corrected for its errors.

* :func:`audit_key` — a sample's place in the audit order: a salted SHA-256 of its id as a
  number in [0, 1). Every reviewer and every process computes the same order, so the
  audit queue (``reviewer.reviews.audit_queue``) shows two people the same picks, and the
  picks are a uniform random sample whatever the sampler or the people chose to look at;
* :func:`audit_counts` — per (rubric, category) the 2×2 table judge × person of the
  **audit** reviews (``review.from_audit``) of scored judgments that count;
* :func:`audit_plan` — per stratum: judged samples, audits so far, and how many more give
  the false-pass rate to ± ``half_width`` (``reviewer.stats.audits_needed``);
* :func:`trust_by_rubric` — per rubric and per category: the judge's raw pass rate in a
  window beside the corrected one (``reviewer.stats.corrected_rate``), and per rubric the
  overall corrected rate, inclusion-weighted over categories as the raw rates are;
* :func:`describe` — the one-line text the pages show ("judge says 94%, corrected 81%
  [72–88%]", or the state that stands instead of a number).

The audits are all-time (not windowed): sensitivity and specificity are properties of the
judge (rubric and model), assumed stable across windows — the golden canary set checks
that. Reviews from the failure-first and newest queues are a convenience sample: they
count for κ (``reviewer.reviews.agreement_by_rubric``) and never here.

Functions take an ``Engine`` and block on the database; SQLAlchemy errors propagate.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .browse import JUDGMENT, REVIEW, SAMPLE
from .queries import TimeWindow
from .stats import (
    DEFAULT_HALF_WIDTH,
    DEFAULT_METHOD,
    DEFAULT_MIN_AUDITS,
    DEFAULT_MIN_SAMPLES,
    AuditCounts,
    CorrectedRate,
    CorrectionMethod,
    RateEstimate,
    TrustStatus,
    audits_needed,
    combine_corrected,
    corrected_rate,
    rate_estimate,
    weighted_rate_estimate,
)
from .store import verdicts

__all__ = [
    "AUDIT_SALT",
    "AuditStratum",
    "RubricTrust",
    "StratumTrust",
    "audit_counts",
    "audit_key",
    "audit_plan",
    "describe",
    "trust_by_rubric",
]

AUDIT_SALT = b"tastevin-audit/v1:"
Stratum = tuple[str, str]  # (rubric name, category)


def audit_key(sample_id: str) -> float:
    """The sample's place in the audit order, uniform in [0, 1) and the same in every process."""
    digest = hashlib.sha256(AUDIT_SALT + sample_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _scored_counting() -> list[sa.ColumnElement[bool]]:
    return [verdicts.counts(JUDGMENT), JUDGMENT.c.verdict.in_(("pass", "fail"))]


def audit_counts(engine: Engine, *, rubric: str | None = None) -> dict[Stratum, AuditCounts]:
    """Per (rubric, category): audit reviews of the scored judgments that count, as a 2×2 table."""
    j, r, s = JUDGMENT.c, REVIEW.c, SAMPLE.c
    statement = (
        sa.select(j.rubric_name, s.category, j.verdict.label("judge"), r.verdict.label("human"),
                  sa.func.count().label("n"))
        .select_from(REVIEW.join(JUDGMENT, j.id == r.judgment_id).join(SAMPLE, s.sample_id == j.sample_id))
        .where(r.from_audit.is_(True), *_scored_counting())
        .group_by(j.rubric_name, s.category, j.verdict, r.verdict)
    )
    if rubric is not None:
        statement = statement.where(j.rubric_name == rubric)
    cells: dict[Stratum, dict[tuple[str, str], int]] = defaultdict(dict)
    with engine.connect() as connection:
        for row in connection.execute(statement):
            cells[(row.rubric_name, row.category)][(row.judge, row.human)] = int(row.n)
    return {key: AuditCounts(c.get(("pass", "pass"), 0), c.get(("pass", "fail"), 0), c.get(("fail", "pass"), 0),
                             c.get(("fail", "fail"), 0)) for key, c in cells.items()}


@dataclass(frozen=True, slots=True)
class _Judged:
    passed: int = 0
    failed: int = 0
    weight_passed: float = 0.0
    weight_scored: float = 0.0
    weight_sq_scored: float = 0.0
    min_rate: float | None = None
    max_rate: float | None = None

    def raw(self, min_samples: int) -> RateEstimate:
        n = self.passed + self.failed
        if n == 0 or self.min_rate == self.max_rate:
            return rate_estimate(self.passed, n, min_samples=min_samples)
        return weighted_rate_estimate(self.passed, n, weight_successes=self.weight_passed,
                                      weight_total=self.weight_scored, weight_sq_total=self.weight_sq_scored,
                                      min_samples=min_samples)


def _judged(engine: Engine, window: TimeWindow | None, rubric: str | None) -> dict[Stratum, _Judged]:
    j, s = JUDGMENT.c, SAMPLE.c
    weight = sa.literal(1.0, sa.Float) / sa.func.nullif(s.sampling_rate, 0.0, type_=sa.Float)
    passed = j.verdict == "pass"
    statement = (
        sa.select(
            j.rubric_name, s.category,
            sa.func.sum(sa.case((passed, 1), else_=0)).label("passed"),
            sa.func.sum(sa.case((passed, 0), else_=1)).label("failed"),
            sa.func.sum(sa.case((passed, weight), else_=None)).label("weight_passed"),
            sa.func.sum(weight).label("weight_scored"),
            sa.func.sum(weight * weight).label("weight_sq_scored"),
            sa.func.min(s.sampling_rate).label("min_rate"),
            sa.func.max(s.sampling_rate).label("max_rate"),
        )  # fmt: skip
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(*_scored_counting())
        .group_by(j.rubric_name, s.category)
    )
    if window is not None:
        statement = statement.where(s.ts >= window.start, s.ts < window.end)
    if rubric is not None:
        statement = statement.where(j.rubric_name == rubric)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return {(row.rubric_name, row.category): _Judged(
        int(row.passed or 0), int(row.failed or 0), float(row.weight_passed or 0.0), float(row.weight_scored or 0.0),
        float(row.weight_sq_scored or 0.0), None if row.min_rate is None else float(row.min_rate),
        None if row.max_rate is None else float(row.max_rate)) for row in rows}


@dataclass(frozen=True, slots=True)
class AuditStratum:
    """One rubric × category of the audit: judged samples, audits so far, audits still needed."""

    rubric: str
    category: str
    judged: int
    audits: AuditCounts
    needed: int


def audit_plan(
    engine: Engine,
    *,
    rubric: str | None = None,
    half_width: float = DEFAULT_HALF_WIDTH,
    min_audits: int = DEFAULT_MIN_AUDITS,
) -> list[AuditStratum]:
    """Per (rubric, category) with scored judgments (all time): how many more audits give ± ``half_width``.

    ``needed`` is :func:`reviewer.stats.audits_needed` for the false-pass rate, at least
    what is missing to ``min_audits``, capped at the stratum's judged samples not audited
    yet. Sorted by rubric, then category.
    """
    judged = _judged(engine, None, rubric)
    audits = audit_counts(engine, rubric=rubric)
    out = []
    for key in sorted(judged):
        counts = audits.get(key, AuditCounts())
        total = judged[key].passed + judged[key].failed
        share = judged[key].failed / total if total else None
        wanted = max(audits_needed(counts, judge_fail_share=share, half_width=half_width), min_audits - counts.n)
        needed = min(wanted, max(0, total - counts.n))
        out.append(AuditStratum(key[0], key[1], total, counts, needed))
    return out


@dataclass(frozen=True, slots=True)
class StratumTrust:
    """One rubric × category in a window: the judge's raw rate and the corrected rate beside it."""

    rubric: str
    category: str
    weight: float
    corrected: CorrectedRate


@dataclass(frozen=True, slots=True)
class RubricTrust:
    """One rubric: the overall corrected rate (inclusion-weighted over categories) and its strata."""

    rubric: str
    overall: CorrectedRate
    strata: tuple[StratumTrust, ...]

    @property
    def audited(self) -> bool:
        return self.overall.audits.n > 0

    def to_dict(self) -> dict[str, Any]:
        return {"rubric": self.rubric, **_plain(self.overall),
                "categories": [{"category": s.category, **_plain(s.corrected)} for s in self.strata]}


def _plain(c: CorrectedRate) -> dict[str, Any]:
    return {
        "status": c.status.value, "method": c.method.value, "raw_rate": c.raw.rate, "raw_low": c.raw.low,
        "raw_high": c.raw.high, "scored": c.raw.n, "audits": c.audits.n, "sensitivity": c.sensitivity,
        "specificity": c.specificity, "false_pass_rate": c.audits.false_pass_rate, "corrected_rate": c.estimate,
        "corrected_low": c.low, "corrected_high": c.high, "audits_needed": c.audits_needed,
        "text": describe(c),
    }


def trust_by_rubric(
    engine: Engine,
    window: TimeWindow | None = None,
    *,
    rubric: str | None = None,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    min_audits: int = DEFAULT_MIN_AUDITS,
    method: CorrectionMethod = DEFAULT_METHOD,
    half_width: float = DEFAULT_HALF_WIDTH,
) -> list[RubricTrust]:
    """Per rubric with scored judgments in ``window`` (all time when None): raw vs corrected pass rates.

    The raw rate of a stratum is over the scored judgments that count of samples in the
    window (re-weighted by inclusion probability when the sampling rates differ); the
    audits are all-time. The overall row weighs each category by its estimated production
    calls. Sorted by rubric name, categories by name.
    """
    judged = _judged(engine, window, rubric)
    audits = audit_counts(engine, rubric=rubric)
    # "N more audits" as far as there are judged samples left to audit (all time).
    plan = {(p.rubric, p.category): p.needed
            for p in audit_plan(engine, rubric=rubric, half_width=half_width, min_audits=min_audits)}
    by_rubric: dict[str, list[StratumTrust]] = defaultdict(list)
    for (name, category), counts in sorted(judged.items()):
        corrected = corrected_rate(counts.raw(min_samples), audits.get((name, category), AuditCounts()),
                                   method=method, min_audits=min_audits, half_width=half_width)
        corrected = replace(corrected, audits_needed=plan.get((name, category), 0))
        by_rubric[name].append(StratumTrust(name, category, counts.weight_scored, corrected))
    out = []
    for name, strata in by_rubric.items():
        total = _Judged(
            sum(judged[(name, s.category)].passed for s in strata),
            sum(judged[(name, s.category)].failed for s in strata),
            sum(judged[(name, s.category)].weight_passed for s in strata),
            sum(s.weight for s in strata),
            sum(judged[(name, s.category)].weight_sq_scored for s in strata),
            min((r for s in strata if (r := judged[(name, s.category)].min_rate) is not None), default=None),
            max((r for s in strata if (r := judged[(name, s.category)].max_rate) is not None), default=None),
        )
        # The overall gate is on all the rubric's audits: a small stratum adds its share with what it has.
        components = [(s.weight, replace(corrected_rate(judged[(name, s.category)].raw(1), s.corrected.audits,
                                                        method=method, min_audits=1, check_chance=False),
                                         audits_needed=s.corrected.audits_needed)) for s in strata]
        overall = combine_corrected(components, total.raw(min_samples), method=method, min_audits=min_audits)
        out.append(RubricTrust(name, overall, tuple(strata)))
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def describe(c: CorrectedRate, *, half_width: float = DEFAULT_HALF_WIDTH) -> str:
    """The judge's rate and the corrected one in words, or the state that stands instead of a number."""
    judge = f"judge says {_pct(c.raw.rate)}" if c.raw.rate is not None else "judge: too few scored samples"
    more = (f"; {c.audits_needed:,} more audits to get ±{half_width * 100:.0f} points on false-pass rate"
            if c.audits_needed else "")
    if c.status is TrustStatus.OK:
        low, high = (c.low or 0.0) * 100, (c.high or 0.0) * 100
        return f"{judge}, corrected {_pct(c.estimate)} [{low:.0f}–{high:.0f}%] ({c.audits.n:,} audits){more}"
    if c.status is TrustStatus.JUDGE_AT_CHANCE:
        return f"{judge}; judge no better than chance on {c.audits.n:,} audits (Se + Sp ≤ 1): no corrected rate"
    if c.status is TrustStatus.TOO_FEW_AUDITS:
        return f"{judge}; too few audits ({c.audits.n:,}) for a corrected rate{more}"
    if c.status is TrustStatus.TOO_FEW_SAMPLES:
        return f"{judge}; too few scored samples for a corrected rate"
    return "no judged samples"
