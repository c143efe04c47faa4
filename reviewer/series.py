"""Time series of the store for the overview: volume, verdicts, pass rate, cost per hour or day.

One aggregate query per series (judgments ranked and folded per sample, then grouped by
bucket), so a month of a million samples is one pass over an index range, never loaded.
A sample's verdict follows ``reviewer.queries`` (the latest judgment per rubric counts;
any fail fails, else any pass passes, else unscored); the pass rate and its interval come
from ``reviewer.stats.pass_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .browse import JUDGMENT, SAMPLE
from .queries import TimeWindow
from .stats import DEFAULT_MIN_SAMPLES, CategoryCounts, RateEstimate, pass_rate

__all__ = ["Bucket", "SeriesPoint", "time_series"]

Bucket = Literal["hour", "day"]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One time bucket ``[start, start + 1 hour/day)`` of samples (by ``ts``).

    Counts follow the verdict rules of the module docstring; ``pass_rate`` comes from
    ``reviewer.stats.pass_rate`` (Wilson interval, re-weighted when sampling rates differ,
    "too few samples" below ``min_samples`` scored samples). ``judge_cost_usd`` adds up
    every judgment of the bucket's samples; tokens are the sampled calls' own usage.
    """

    start: datetime
    samples: int
    judged: int
    passed: int
    failed: int
    unscored: int
    judge_cost_usd: float
    input_tokens: int
    output_tokens: int
    errors: int
    pass_rate: RateEstimate


def _bucket_label(dialect: str, bucket: Bucket) -> sa.ColumnElement[str]:
    """The bucket of ``sample.ts`` as text ``YYYY-MM-DD`` or ``YYYY-MM-DD HH`` (UTC)."""
    if dialect == "sqlite":  # UTCDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC
        return sa.func.substr(SAMPLE.c.ts, 1, 13 if bucket == "hour" else 10)
    fmt = "YYYY-MM-DD HH24" if bucket == "hour" else "YYYY-MM-DD"
    return sa.func.to_char(sa.func.timezone("UTC", SAMPLE.c.ts), fmt)


def _per_sample_verdicts(window: TimeWindow) -> sa.Subquery:
    """One row per judged sample of ``window``: ``any_fail``, ``any_pass`` (0/1) and judge ``cost_usd``."""
    j, s = JUDGMENT.c, SAMPLE.c
    rank = sa.func.row_number().over(partition_by=(j.sample_id, j.rubric_name), order_by=(j.created_at.desc(), j.id.desc()))
    ranked = (
        sa.select(j.sample_id, j.verdict, j.cost_usd, rank.label("rn"))
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(s.ts >= window.start, s.ts < window.end)
        .subquery("ranked")
    )
    r = ranked.c

    def latest_is(verdict: str) -> sa.ColumnElement[Any]:
        return sa.func.max(sa.case((sa.and_(r.rn == 1, r.verdict == verdict), 1), else_=0))

    return (
        sa.select(r.sample_id, latest_is("fail").label("any_fail"), latest_is("pass").label("any_pass"),
                  sa.func.sum(r.cost_usd).label("cost_usd"))
        .group_by(r.sample_id)
        .subquery("verdicts")
    )


def time_series(
    engine: Engine, window: TimeWindow, *, bucket: Bucket = "day", min_samples: int = DEFAULT_MIN_SAMPLES
) -> list[SeriesPoint]:
    """Volume, verdicts, pass rate, cost and tokens per UTC hour or day of ``window``, oldest first.

    Buckets without samples are absent. One aggregate query (judgments ranked and folded
    per sample, then grouped by bucket); blocks on the database.
    """
    s = SAMPLE.c
    v = _per_sample_verdicts(window)
    label = _bucket_label(engine.dialect.name, bucket).label("bucket")
    failed = v.c.any_fail == 1
    passed = sa.and_(v.c.any_fail == 0, v.c.any_pass == 1)
    scored = sa.or_(failed, passed)
    weight = sa.literal(1.0, sa.Float) / sa.func.nullif(s.sampling_rate, 0)

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    def sum_if(condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((condition, value), else_=None))

    statement = (
        sa.select(
            label, sa.func.count().label("samples"), sa.func.count(v.c.sample_id).label("judged"),
            count_if(passed).label("passed"), count_if(failed).label("failed"),
            sa.func.sum(v.c.cost_usd).label("cost_usd"), sa.func.sum(s.input_tokens).label("input_tokens"),
            sa.func.sum(s.output_tokens).label("output_tokens"), count_if(s.error_type.is_not(None)).label("errors"),
            sum_if(passed, weight).label("weight_passed"), sum_if(failed, weight).label("weight_failed"),
            sum_if(scored, weight * weight).label("weight_sq_scored"),
            sa.func.min(sa.case((scored, s.sampling_rate), else_=None)).label("min_rate"),
            sa.func.max(sa.case((scored, s.sampling_rate), else_=None)).label("max_rate"),
        )
        .select_from(SAMPLE.outerjoin(v, v.c.sample_id == s.sample_id))
        .where(s.ts >= window.start, s.ts < window.end)
        .group_by(label)
        .order_by(label)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    points = []
    for row in rows:
        passed_n, failed_n, judged = int(row.passed or 0), int(row.failed or 0), int(row.judged)
        counts = CategoryCounts(
            category=row.bucket, samples=int(row.samples), judged=judged, passed=passed_n, failed=failed_n,
            unscored=judged - passed_n - failed_n, weight_passed=float(row.weight_passed or 0.0),
            weight_failed=float(row.weight_failed or 0.0), weight_sq_scored=float(row.weight_sq_scored or 0.0),
            min_rate=row.min_rate, max_rate=row.max_rate,
        )
        fmt = "%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d"
        points.append(SeriesPoint(
            start=datetime.strptime(row.bucket, fmt).replace(tzinfo=timezone.utc), samples=counts.samples,
            judged=judged, passed=passed_n, failed=failed_n, unscored=counts.unscored,
            judge_cost_usd=float(row.cost_usd or 0.0), input_tokens=int(row.input_tokens or 0),
            output_tokens=int(row.output_tokens or 0), errors=int(row.errors or 0),
            pass_rate=pass_rate(counts, min_samples=min_samples),
        ))
    return points


