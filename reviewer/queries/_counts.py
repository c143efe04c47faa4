"""Per-category verdict counts of a time window, aggregated in SQL (SQLite and PostgreSQL).

What a sample's verdict is, when it has several judgments (several rubrics, rubric
versions or judge models) — the one rule of ``reviewer.store.verdicts``, which every
reader uses:

1. per rubric (``rubric_name``), only the sample's **latest** judgment counts — newest
   ``created_at``; a new rubric version or a re-judgment by another model supersedes the
   older one (two judgments of one rubric at the very same instant: ``fail`` wins over
   ``pass``, which wins over ``unscored``);
2. the sample **fails** when any of those latest judgments is ``fail``; it **passes**
   when none fails and at least one passes (``unscored`` ones are skipped); it is
   **unscored** when all of them are ``unscored``;
3. a sample without any judgment is not judged.

``cost_usd`` adds up every judgment of the window's samples, superseded ones included:
it is what was spent. Samples belong to a window by their ``ts`` (the call's start),
not by when they were judged.

Each judged sample's verdict and judge cost are kept, by that rule, in the table
``sample_verdict`` (``reviewer.store.verdicts``; the judge updates it in the transaction
that stores judgments), with copies of the sample's ``ts``, ``category`` and
``sampling_rate``. So one statement (one snapshot, so ``judged <= samples`` even while
ingest and the judge write) joins two aggregates, each over one covering index range:

* ``sample`` grouped by category (``samples``, ``weight_samples``) — ``ix_sample_ts_window``;
* ``sample_verdict`` grouped by category (verdict counts, weights, cost) —
  ``ix_sample_verdict_ts_category_verdict``.

On PostgreSQL the transaction raises ``work_mem`` to ``PG_WORK_MEM`` (``SET LOCAL``,
undone at its end) so the hash aggregates stay in memory instead of sorting on disk.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.engine import Engine

from ..stats import (
    DEFAULT_ALPHA,
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    CategoryChange,
    CategoryCounts,
    CategorySummary,
    RateChangeDecomposition,
    compare_categories,
    decompose_pass_rate_change,
    summarize_categories,
)
from ..store import Judgment, Sample, SampleVerdict
from ._windows import TimeWindow, per_window

PG_WORK_MEM = "64MB"

SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
JUDGMENT: Table = Judgment.__table__  # type: ignore[attr-defined]
SAMPLE_VERDICT: Table = SampleVerdict.__table__  # type: ignore[attr-defined]


def in_window(window: TimeWindow) -> sa.ColumnElement[bool]:
    """The SQL condition ``window.start <= sample.ts < window.end``."""
    return sa.and_(SAMPLE.c.ts >= window.start, SAMPLE.c.ts < window.end)


def _weight(sampling_rate: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    # A rate of 0 cannot come through ingest (it checks 0 < rate <= 1); NULLIF keeps a
    # hand-made row from failing the whole query: its weight is NULL, left out of sums.
    return sa.literal(1.0, sa.Float) / sa.func.nullif(sampling_rate, 0.0, type_=sa.Float)


def category_counts_statement(window: TimeWindow) -> sa.Select[Any]:
    """The statement behind :func:`load_category_counts`: one row per category with samples."""
    s, v = SAMPLE.c, SAMPLE_VERDICT.c
    totals = (
        sa.select(s.category, sa.func.count().label("samples"), sa.func.sum(_weight(s.sampling_rate)).label("weight_samples"))
        .where(in_window(window))
        .group_by(s.category)
        .subquery("totals")
    )
    weight = _weight(v.sampling_rate)
    failed = v.verdict == "fail"
    passed = v.verdict == "pass"
    scored = v.verdict.in_(("pass", "fail"))

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    def sum_if(condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, value), else_=None))

    judged = (
        sa.select(
            v.category,
            sa.func.count().label("judged"),
            count_if(passed).label("passed"),
            count_if(failed).label("failed"),
            sa.func.sum(v.judge_cost_usd).label("cost_usd"),
            sum_if(passed, weight).label("weight_passed"),
            sum_if(failed, weight).label("weight_failed"),
            sum_if(scored, weight * weight).label("weight_sq_scored"),
            sa.func.min(sa.case((scored, v.sampling_rate), else_=None)).label("min_rate"),
            sa.func.max(sa.case((scored, v.sampling_rate), else_=None)).label("max_rate"),
        )
        .where(v.ts >= window.start, v.ts < window.end)
        .group_by(v.category)
        .subquery("judged")
    )
    t, d = totals.c, judged.c
    return (
        sa.select(
            t.category, t.samples, t.weight_samples, d.judged, d.passed, d.failed, d.cost_usd, d.weight_passed,
            d.weight_failed, d.weight_sq_scored, d.min_rate, d.max_rate,
        )  # fmt: skip
        .select_from(totals.outerjoin(judged, d.category == t.category))
        .order_by(t.category)
    )


def load_category_counts(engine: Engine, window: TimeWindow) -> list[CategoryCounts]:
    """Per-category counts of the samples in ``window``, sorted by category; categories without samples are absent.

    One query; blocks on the database. Database errors propagate as SQLAlchemy errors.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
        rows = connection.execute(category_counts_statement(window)).all()
    return [_to_counts(row) for row in rows]


def _to_counts(row: sa.Row[Any]) -> CategoryCounts:
    passed, failed, judged = int(row.passed or 0), int(row.failed or 0), int(row.judged or 0)
    return CategoryCounts(
        category=row.category,
        samples=int(row.samples),
        judged=judged,
        passed=passed,
        failed=failed,
        unscored=judged - passed - failed,
        cost_usd=float(row.cost_usd or 0.0),
        weight_samples=float(row.weight_samples or 0.0),
        weight_passed=float(row.weight_passed or 0.0),
        weight_failed=float(row.weight_failed or 0.0),
        weight_sq_scored=float(row.weight_sq_scored or 0.0),
        min_rate=None if row.min_rate is None else float(row.min_rate),
        max_rate=None if row.max_rate is None else float(row.max_rate),
    )


# --- the pure functions of reviewer.stats, fed from the store -----------------------------


def category_summary(
    engine: Engine,
    window: TimeWindow,
    *,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[CategorySummary]:
    """``summarize_categories`` of the window's counts: one row per category, by name."""
    return summarize_categories(load_category_counts(engine, window), min_samples=min_samples, confidence=confidence)


def compare_windows(
    engine: Engine,
    *,
    current: TimeWindow,
    baseline: TimeWindow,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> list[CategoryChange]:
    """``compare_categories`` of two windows (queried concurrently): every category, significant drops first."""
    base, cur = per_window(engine, lambda window: load_category_counts(engine, window), [baseline, current])
    return compare_categories(base, cur, alpha=alpha, min_samples=min_samples)


def decompose_windows(
    engine: Engine, *, current: TimeWindow, baseline: TimeWindow, min_samples: int = DEFAULT_MIN_SAMPLES
) -> RateChangeDecomposition:
    """``decompose_pass_rate_change`` of two windows (queried concurrently): mix vs quality effect."""
    base, cur = per_window(engine, lambda window: load_category_counts(engine, window), [baseline, current])
    return decompose_pass_rate_change(base, cur, min_samples=min_samples)
