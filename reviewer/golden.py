"""The golden set: samples whose verdict people settled, re-judged to catch the judge drifting.

* :func:`add_from_reviews` — promote reviewed samples of a rubric into its golden set,
  with the people's verdict (only where every review of the sample agrees);
* :func:`golden_items` — a rubric's golden samples and verdicts;
* :func:`record_check` — the agreement of one re-judging (``tastevin judge --canary``)
  with the golden verdicts, stored per (rubric version, judge model);
* :func:`golden_checks` — the stored checks, newest first.

The judge's side (calling the model) is ``judge.canary``; this module never calls it.
Functions take an ``Engine`` and block on the database; SQLAlchemy errors propagate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from .browse import JUDGMENT, REVIEW
from .reviews import REVIEW_VERDICTS, ReviewError, cohens_kappa
from .stats import rate_estimate
from .store import utc_now
from .store.models import Golden, GoldenCheck

__all__ = ["GOLDEN", "GOLDEN_CHECK", "GoldenItem", "add_from_reviews", "golden_checks", "golden_items", "record_check"]

GOLDEN: Table = Golden.__table__  # type: ignore[attr-defined]
GOLDEN_CHECK: Table = GoldenCheck.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class GoldenItem:
    sample_id: str
    rubric_name: str
    verdict: str


def add_from_reviews(engine: Engine, *, rubric: str, added_by: str = "cli") -> int:
    """Promote every reviewed sample of ``rubric`` whose reviews all give one verdict; returns how many were new.

    A sample already golden for the rubric is left as it is; one that people disagree on
    is left out (it is not settled). Raises ``ReviewError`` for an empty rubric name.
    """
    if not rubric.strip():
        raise ReviewError("name the rubric (--rubric)")
    r, j = REVIEW.c, JUDGMENT.c
    settled = (
        sa.select(r.sample_id, sa.func.min(r.verdict).label("verdict"), sa.func.max(r.id).label("review_id"))
        .select_from(REVIEW.join(JUDGMENT, j.id == r.judgment_id))
        .where(j.rubric_name == rubric)
        .group_by(r.sample_id)
        .having(sa.func.count(sa.distinct(r.verdict)) == 1)
    )
    with engine.begin() as connection:
        rows = connection.execute(settled).all()
        if not rows:
            return 0
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        now = utc_now()
        result = connection.execute(
            insert(GOLDEN)
            .values([{"sample_id": row.sample_id, "rubric_name": rubric, "verdict": row.verdict,
                      "review_id": row.review_id, "added_by": added_by, "added_at": now} for row in rows])
            .on_conflict_do_nothing(index_elements=[GOLDEN.c.sample_id, GOLDEN.c.rubric_name])
            .returning(GOLDEN.c.id)
        )
        return len(result.all())


def golden_items(engine: Engine, *, rubric: str | None = None) -> list[GoldenItem]:
    """The golden samples (of ``rubric``, or all), by rubric then sample id."""
    g = GOLDEN.c
    statement = sa.select(g.sample_id, g.rubric_name, g.verdict).order_by(g.rubric_name, g.sample_id)
    if rubric is not None:
        statement = statement.where(g.rubric_name == rubric)
    with engine.connect() as connection:
        return [GoldenItem(row.sample_id, row.rubric_name, row.verdict) for row in connection.execute(statement)]


def record_check(
    engine: Engine,
    *,
    rubric_name: str,
    rubric_version: str,
    judge_model: str,
    pairs: Iterable[tuple[str, str | None]],
    checked_at: datetime | None = None,
) -> GoldenCheck:
    """Store the agreement of one re-judging: ``pairs`` of (golden verdict, judge verdict or None).

    A judge verdict ``unscored`` is counted as such, ``None`` (the call failed) as
    errored; both stay out of κ, accuracy and the false-pass rate, which are None when
    there is nothing to compute them from. Returns the stored row.
    """
    cells = {(a, b): 0 for a in REVIEW_VERDICTS for b in REVIEW_VERDICTS}
    unscored = errored = 0
    for golden, judged in pairs:
        if golden not in REVIEW_VERDICTS:
            raise ValueError(f"a golden verdict is pass or fail, not {golden!r}")
        if judged is None:
            errored += 1
        elif judged in REVIEW_VERDICTS:
            cells[(judged, golden)] += 1
        else:
            unscored += 1
    pp, pf, fp, ff = cells[("pass", "pass")], cells[("pass", "fail")], cells[("fail", "pass")], cells[("fail", "fail")]
    n = pp + pf + fp + ff
    kappa = cohens_kappa([[pp, pf], [fp, ff]])
    false_pass = rate_estimate(pf, pf + ff, min_samples=1)
    row = GoldenCheck(
        rubric_name=rubric_name, rubric_version=rubric_version, judge_model=judge_model,
        checked_at=checked_at or utc_now(), pass_pass=pp, pass_fail=pf, fail_pass=fp, fail_fail=ff,
        unscored=unscored, errored=errored, kappa=kappa.value, accuracy=(pp + ff) / n if n else None,
        false_pass_rate=false_pass.rate, false_pass_low=false_pass.low, false_pass_high=false_pass.high,
    )
    values = row.model_dump(exclude={"id"})
    with engine.begin() as connection:
        row.id = int(connection.execute(GOLDEN_CHECK.insert().values(values).returning(GOLDEN_CHECK.c.id)).scalar_one())
    return row


def golden_checks(engine: Engine, *, rubric: str | None = None, limit: int = 100) -> list[GoldenCheck]:
    """Stored checks (of ``rubric``, or all), newest first."""
    statement = sa.select(GOLDEN_CHECK).order_by(GOLDEN_CHECK.c.checked_at.desc(), GOLDEN_CHECK.c.id.desc()).limit(limit)
    if rubric is not None:
        statement = statement.where(GOLDEN_CHECK.c.rubric_name == rubric)
    with engine.connect() as connection:
        return [GoldenCheck(**row._asdict()) for row in connection.execute(statement)]
