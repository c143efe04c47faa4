"""People check the judge: a queue of judgments to review, recording reviews, agreement.

* :func:`review_queue` — the judgment that counts for each (sample, rubric) (the rule of
  ``reviewer.store.verdicts``) that no one has reviewed yet (no ``review`` row points at
  it), most recently judged first;
* :func:`audit_queue` — the random **audit** picks not audited yet: per rubric × category
  the judged samples first in :func:`reviewer.trust.audit_key` order, as many as that
  stratum still needs (:func:`reviewer.trust.audit_plan`); the same picks for everyone;
* :func:`record_review` — a person's verdict (pass/fail) on a judged sample, whether it
  agrees with the judge, and a note, into the ``review`` table;
* :func:`agreement_by_rubric` — per rubric, judge against people: Cohen's κ, the share of
  agreement and the judge's false-pass rate, with the counts behind them.

Only reviews of scored judgments (the judge said pass or fail) enter the agreement
statistics: an unscored judgment has no verdict to agree with. Every review counts,
so a judgment reviewed by two people is two pairs. Agreement is over every review: a
**convenience sample** (people pick failures and oddities); only audit reviews
(``from_audit``) are a random sample, and only they enter ``reviewer.trust``.

Functions take an ``Engine`` and block on the database; SQLAlchemy errors propagate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .errors import TastevinError
from .browse import JUDGMENT, REVIEW, SAMPLE
from .stats import DEFAULT_HALF_WIDTH, DEFAULT_MIN_SAMPLES, RateEstimate, Status, rate_estimate
from .store import utc_now, verdicts
from .trust import audit_key, audit_plan

__all__ = [
    "Agreement",
    "Kappa",
    "QueueItem",
    "ReviewError",
    "agreement_by_rubric",
    "audit_queue",
    "cohens_kappa",
    "queue_size",
    "record_review",
    "review_queue",
]

REVIEW_VERDICTS = ("pass", "fail")
MAX_NOTE_CHARS = 10_000


class ReviewError(TastevinError, ValueError):
    """A review cannot be recorded (unknown judgment, bad verdict, inconsistent agreement…)."""


# --- Cohen's kappa -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kappa:
    """Cohen's κ of two raters, or why there is none (``value`` is then ``None``).

    ``status`` is ``NO_DATA`` for an empty table, ``TOO_FEW_SAMPLES`` below
    ``min_samples`` pairs; ``undefined`` is True when chance agreement is 1 (both raters
    used one and the same label for everything), where κ = 0/0.
    """

    status: Status
    value: float | None
    observed: float | None
    expected: float | None
    n: int
    undefined: bool = False


def cohens_kappa(table: Sequence[Sequence[int]], *, min_samples: int = 1) -> Kappa:
    """Cohen's κ from a square confusion table ``table[i][j]`` = pairs rated i by A and j by B.

    κ = (pₒ − pₑ) / (1 − pₑ), with pₒ = Σᵢ tᵢᵢ / n the observed agreement and
    pₑ = Σᵢ (rowᵢ / n)(colᵢ / n) the agreement expected by chance from each rater's own
    label shares (Cohen 1960). κ = 1 is perfect agreement, 0 chance level, negative worse
    than chance. When pₑ = 1 κ is undefined: ``value`` is None and ``undefined`` True.

    Raises ``ValueError`` for a table that is not square or has a negative count.
    """
    size = len(table)
    if size == 0 or any(len(row) != size for row in table):
        raise ValueError("the confusion table must be square and non-empty")
    if any(count < 0 for row in table for count in row):
        raise ValueError("counts must be non-negative")
    n = sum(sum(row) for row in table)
    if n == 0:
        return Kappa(Status.NO_DATA, None, None, None, 0)
    if n < min_samples:
        return Kappa(Status.TOO_FEW_SAMPLES, None, None, None, n)
    observed = sum(table[i][i] for i in range(size)) / n
    rows = [sum(table[i]) / n for i in range(size)]
    cols = [sum(table[i][j] for i in range(size)) / n for j in range(size)]
    expected = sum(r * c for r, c in zip(rows, cols, strict=True))
    if expected >= 1.0:
        return Kappa(Status.OK, None, observed, expected, n, undefined=True)
    return Kappa(Status.OK, (observed - expected) / (1 - expected), observed, expected, n)


# --- the queue -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A judgment waiting for a person: the latest of its (sample, rubric), not reviewed yet."""

    judgment_id: int
    sample_id: str
    ts: datetime
    category: str
    rubric_name: str
    rubric_version: str
    judge_model: str
    verdict: str
    unscored_reason: str | None
    judged_at: datetime


def _queue_conditions(
    *, rubric: str | None, verdict: str | None, category: str | None, include_unscored: bool
) -> list[sa.ColumnElement[bool]]:
    j = JUDGMENT.c
    # Both review.sample_id and review (judgment_id, reviewer) are indexed.
    reviewed = sa.exists().where(REVIEW.c.sample_id == j.sample_id, REVIEW.c.judgment_id == j.id)
    conditions = [verdicts.counts(JUDGMENT), ~reviewed]
    if rubric is not None:
        conditions.append(j.rubric_name == rubric)
    if verdict is not None:
        conditions.append(j.verdict == verdict)
    elif not include_unscored:
        conditions.append(j.verdict.in_(REVIEW_VERDICTS))
    if category is not None:
        conditions.append(SAMPLE.c.category == category)
    return conditions


def review_queue(
    engine: Engine,
    *,
    rubric: str | None = None,
    verdict: str | None = None,
    category: str | None = None,
    include_unscored: bool = False,
    limit: int = 20,
) -> list[QueueItem]:
    """Up to ``limit`` judgments to review, most recently judged first.

    Without ``verdict``, unscored judgments are left out unless ``include_unscored``.
    One query that walks the ``judgment.created_at`` index and stops after ``limit``.
    """
    j, s = JUDGMENT.c, SAMPLE.c
    statement = (
        sa.select(j.id.label("judgment_id"), j.sample_id, s.ts, s.category, j.rubric_name, j.rubric_version,
                  j.judge_model, j.verdict, j.unscored_reason, j.created_at.label("judged_at"))
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(*_queue_conditions(rubric=rubric, verdict=verdict, category=category, include_unscored=include_unscored))
        .order_by(j.created_at.desc(), j.id.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [QueueItem(**row._asdict()) for row in rows]


def queue_size(
    engine: Engine,
    *,
    rubric: str | None = None,
    verdict: str | None = None,
    category: str | None = None,
    include_unscored: bool = False,
    cap: int = 10_000,
) -> tuple[int, bool]:
    """``(count, capped)``: how many judgments wait for review, counting at most ``cap``."""
    inner = (
        sa.select(JUDGMENT.c.id)
        .select_from(JUDGMENT.join(SAMPLE, SAMPLE.c.sample_id == JUDGMENT.c.sample_id))
        .where(*_queue_conditions(rubric=rubric, verdict=verdict, category=category, include_unscored=include_unscored))
        .limit(cap + 1)
        .subquery()
    )
    with engine.connect() as connection:
        count = int(connection.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())
    return min(count, cap), count > cap


def audit_queue(
    engine: Engine,
    *,
    rubric: str | None = None,
    category: str | None = None,
    reviewer: str | None = None,
    half_width: float = DEFAULT_HALF_WIDTH,
    limit: int = 20,
) -> list[QueueItem]:
    """Up to ``limit`` audit picks nobody has audited yet, in audit order (the same for everyone).

    Per (rubric, category) the scored judgments that count are ordered by
    :func:`reviewer.trust.audit_key` of their sample and the first ``needed`` not yet
    audited are picked (``needed`` from :func:`reviewer.trust.audit_plan`: none once the
    false-pass rate is known to ± ``half_width``). A judgment that ``reviewer`` already
    reviewed outside the audit is skipped for them only (one review per person per
    judgment); others still get it. Reads every scored judgment's id of the rubric (two
    narrow queries), so it costs a few hundred ms per 100,000 judgments.
    """
    j, s, r = JUDGMENT.c, SAMPLE.c, REVIEW.c
    audited = sa.exists().where(r.judgment_id == j.id, r.from_audit.is_(True))
    conditions = [verdicts.counts(JUDGMENT), j.verdict.in_(REVIEW_VERDICTS), ~audited]
    name = (reviewer or "").strip()
    if name:
        conditions.append(~sa.exists().where(r.judgment_id == j.id, r.reviewer == name))
    if rubric is not None:
        conditions.append(j.rubric_name == rubric)
    if category is not None:
        conditions.append(s.category == category)
    candidates = (
        sa.select(j.id, j.sample_id, j.rubric_name, s.category)
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(*conditions)
    )
    needed = {(p.rubric, p.category): p.needed for p in audit_plan(engine, rubric=rubric, half_width=half_width)}
    with engine.connect() as connection:
        rows = connection.execute(candidates).all()
    strata: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for row in rows:
        strata.setdefault((row.rubric_name, row.category), []).append((audit_key(row.sample_id), int(row.id)))
    picks: list[tuple[float, int]] = []
    for key, members in strata.items():
        members.sort()
        picks.extend(members[: needed.get(key, 0)])
    picks.sort()
    ids = [judgment_id for _, judgment_id in picks[:limit]]
    if not ids:
        return []
    statement = (
        sa.select(j.id.label("judgment_id"), j.sample_id, s.ts, s.category, j.rubric_name, j.rubric_version,
                  j.judge_model, j.verdict, j.unscored_reason, j.created_at.label("judged_at"))
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(j.id.in_(ids))
    )
    with engine.connect() as connection:
        found = {row.judgment_id: QueueItem(**row._asdict()) for row in connection.execute(statement)}
    return [found[i] for i in ids if i in found]


# --- recording -------------------------------------------------------------------------------


def record_review(
    engine: Engine,
    *,
    judgment_id: int,
    reviewer: str,
    verdict: str,
    agrees_with_judge: bool | None = None,
    note: str | None = None,
    from_audit: bool = False,
) -> int:
    """Store a person's review of judgment ``judgment_id``; returns the new review's id.

    ``from_audit`` marks a review made from :func:`audit_queue` (only those estimate the
    judge's sensitivity and specificity); it needs a scored judgment.

    ``verdict`` is the person's own verdict on the sample (``pass``/``fail``). When the
    judge scored the sample, ``agrees_with_judge`` is derived from the two verdicts; a
    value passed in must match it. For an unscored judgment it stays ``None`` (passing
    True/False is an error). A blank ``note`` is stored as NULL.

    Raises ``ReviewError`` for an unknown judgment, a bad verdict, an empty reviewer
    name, a contradictory ``agrees_with_judge``, or a second review of the same
    judgment by the same reviewer. The last is the store's unique index on
    ``(judgment_id, reviewer)``: the insert is ``ON CONFLICT DO NOTHING``, so of two
    tabs saving at once one writes and the other gets this error, never two rows.
    """
    if verdict not in REVIEW_VERDICTS:
        raise ReviewError(f"the verdict must be 'pass' or 'fail', not {verdict!r}")
    name = reviewer.strip()
    if not name:
        raise ReviewError("give the reviewer's name")
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE_CHARS:
        raise ReviewError(f"the note is longer than {MAX_NOTE_CHARS:,} characters")
    with engine.begin() as connection:
        judgment = connection.execute(
            sa.select(JUDGMENT.c.sample_id, JUDGMENT.c.verdict).where(JUDGMENT.c.id == judgment_id)
        ).first()
        if judgment is None:
            raise ReviewError(f"there is no judgment {judgment_id}")
        if from_audit and judgment.verdict not in REVIEW_VERDICTS:
            raise ReviewError("the judge left this sample unscored: it is not part of the audit")
        if judgment.verdict in REVIEW_VERDICTS:
            agrees = verdict == judgment.verdict
            if agrees_with_judge is not None and agrees_with_judge != agrees:
                raise ReviewError(
                    f"the judge said {judgment.verdict} and you said {verdict}: that is "
                    f"{'agreement' if agrees else 'disagreement'}, not {'agreement' if agrees_with_judge else 'disagreement'}"
                )
        else:
            if agrees_with_judge is not None:
                raise ReviewError("the judge left this sample unscored: there is no verdict to agree with")
            agrees = None
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        inserted = connection.execute(
            insert(REVIEW)
            .values(sample_id=judgment.sample_id, judgment_id=judgment_id, reviewer=name, verdict=verdict,
                    agrees_with_judge=agrees, note=text, created_at=utc_now(), from_audit=from_audit)
            .on_conflict_do_nothing(index_elements=[REVIEW.c.judgment_id, REVIEW.c.reviewer])
            .returning(REVIEW.c.id)
        ).scalar_one_or_none()
        if inserted is None:
            # Read after the conflict: on PostgreSQL this statement sees the row that won.
            existing = connection.execute(
                sa.select(REVIEW.c.id).where(REVIEW.c.judgment_id == judgment_id, REVIEW.c.reviewer == name)
            ).scalar_one_or_none()
            raise ReviewError(
                f"{name} already reviewed judgment {judgment_id}"
                + (f" (review {existing})" if existing is not None else "")
                + ": one review per person per judgment"
            )
        return int(inserted)


# --- agreement -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agreement:
    """Judge against people on one rubric, over reviews of scored judgments.

    The 2×2 counts: ``both_pass``, ``both_fail``, ``judge_pass_human_fail`` (the judge
    let a failure through), ``judge_fail_human_pass``. ``kappa`` is Cohen's κ of the
    table; ``false_pass`` is the judge's false-pass rate P(judge pass | person fail) =
    ``judge_pass_human_fail / human_fail``, with its Wilson interval — the share of real
    failures the judge misses. ``unscored_reviews`` counts reviews of unscored judgments,
    left out of everything else. Below ``min_samples`` pairs (or person-failed samples,
    for the false-pass rate) the statistics say "too few samples".
    """

    rubric: str
    n: int
    both_pass: int
    both_fail: int
    judge_pass_human_fail: int
    judge_fail_human_pass: int
    unscored_reviews: int
    kappa: Kappa
    false_pass: RateEstimate

    @property
    def human_fail(self) -> int:
        return self.both_fail + self.judge_pass_human_fail

    @property
    def agreement_rate(self) -> float | None:
        return (self.both_pass + self.both_fail) / self.n if self.n else None


def agreement_statement(since: datetime | None = None) -> sa.Select[Any]:
    """Review counts per (rubric, judge verdict, human verdict) — the SELECT behind :func:`agreement_by_rubric`."""
    r, j = REVIEW.c, JUDGMENT.c
    statement = (
        sa.select(j.rubric_name, j.verdict.label("judge"), r.verdict.label("human"), sa.func.count().label("n"))
        .select_from(REVIEW.join(JUDGMENT, j.id == r.judgment_id))
        .group_by(j.rubric_name, j.verdict, r.verdict)
    )
    if since is not None:
        statement = statement.where(r.created_at >= since)
    return statement


def agreement_by_rubric(
    engine: Engine, *, since: datetime | None = None, min_samples: int = DEFAULT_MIN_SAMPLES
) -> list[Agreement]:
    """One :class:`Agreement` per rubric with reviews (made at or after ``since``), by rubric name."""
    with engine.connect() as connection:
        rows = connection.execute(agreement_statement(since)).all()
    cells: dict[str, dict[tuple[str, str], int]] = {}
    for row in rows:
        cells.setdefault(row.rubric_name, {})[(row.judge, row.human)] = int(row.n)
    out = []
    for rubric in sorted(cells):
        c = cells[rubric]
        pp, ff = c.get(("pass", "pass"), 0), c.get(("fail", "fail"), 0)
        pf, fp = c.get(("pass", "fail"), 0), c.get(("fail", "pass"), 0)
        unscored = sum(n for (judge, _), n in c.items() if judge not in REVIEW_VERDICTS)
        # rows: judge pass/fail; columns: human pass/fail
        kappa = cohens_kappa([[pp, pf], [fp, ff]], min_samples=min_samples)
        false_pass = rate_estimate(pf, pf + ff, min_samples=min_samples)
        out.append(Agreement(rubric, pp + ff + pf + fp, pp, ff, pf, fp, unscored, kappa, false_pass))
    return out
