"""Time series of the store for the overview: volume, verdicts, pass rate, judge spending.

:func:`time_series` is one statement (one snapshot): the window's samples grouped by
bucket (volume, tokens, errors; the covering index ``ix_sample_ts_window``), and, in a
``UNION ALL``, its judged samples' materialised verdicts (table ``sample_verdict``, see
``reviewer.store.verdicts``) grouped by (bucket, verdict); nothing per sample reaches
Python, no judgment is read. A sample's verdict is the one of ``reviewer.queries`` (the
latest judgment per rubric counts; any fail fails, else any pass passes, else unscored);
the pass rate and its interval come from ``reviewer.stats.pass_rate``.
:func:`cost_series` dates the judge's spending by when it judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .browse import JUDGMENT, SAMPLE
from .queries import TimeWindow
from .stats import DEFAULT_MIN_SAMPLES, CategoryCounts, RateEstimate, pass_rate
from .store import SampleVerdict

SAMPLE_VERDICT: sa.Table = SampleVerdict.__table__  # type: ignore[attr-defined]

__all__ = ["Bucket", "CostPoint", "SeriesPoint", "cost_series", "time_series"]

Bucket = Literal["hour", "day"]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One time bucket ``[start, start + 1 hour/day)`` of samples (by ``ts``).

    Counts follow the verdict rules of the module docstring; ``pass_rate`` comes from
    ``reviewer.stats.pass_rate`` (Wilson interval, re-weighted when sampling rates differ,
    "too few samples" below ``min_samples`` scored samples). Tokens are the sampled
    calls' own usage; ``errors`` counts calls that raised.
    """

    start: datetime
    samples: int
    judged: int
    passed: int
    failed: int
    unscored: int
    input_tokens: int
    output_tokens: int
    errors: int
    pass_rate: RateEstimate


def _bucket_label(dialect: str, bucket: Bucket, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[str]:
    """The bucket of a timestamp column as text ``YYYY-MM-DD`` or ``YYYY-MM-DD HH`` (UTC)."""
    if dialect == "sqlite":  # UTCDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC
        return sa.func.substr(column, 1, 13 if bucket == "hour" else 10)
    fmt = "YYYY-MM-DD HH24" if bucket == "hour" else "YYYY-MM-DD"
    return sa.func.to_char(sa.func.timezone("UTC", column), fmt)


def _bucket_start(label: str, bucket: Bucket) -> datetime:
    """The UTC start of the bucket that :func:`_bucket_label` names ``label``."""
    return datetime.strptime(label, "%Y-%m-%d %H" if bucket == "hour" else "%Y-%m-%d").replace(tzinfo=timezone.utc)


def time_series(
    engine: Engine, window: TimeWindow, *, bucket: Bucket = "day", min_samples: int = DEFAULT_MIN_SAMPLES
) -> list[SeriesPoint]:
    """Volume, verdicts, pass rate and tokens per UTC hour or day of ``window`` (by ``sample.ts``), oldest first.

    Buckets without samples are absent. One statement of two aggregates (module
    docstring); blocks on the database.
    """
    dialect = engine.dialect.name
    s, v = SAMPLE.c, SAMPLE_VERDICT.c
    none = sa.null()
    volume = (
        sa.select(
            _bucket_label(dialect, bucket, s.ts).label("bucket"), sa.literal(None, sa.String).label("verdict"),
            sa.func.count().label("samples"), sa.func.sum(s.input_tokens).label("input_tokens"),
            sa.func.sum(s.output_tokens).label("output_tokens"), sa.func.count(s.error_type).label("errors"),
            none.label("weight"), none.label("weight_sq"), none.label("min_rate"), none.label("max_rate"),
        )  # fmt: skip
        .where(s.ts >= window.start, s.ts < window.end)
        .group_by(sa.literal_column("bucket"))
    )
    weight = sa.literal(1.0, sa.Float) / sa.func.nullif(v.sampling_rate, 0)
    label = _bucket_label(dialect, bucket, v.ts)
    verdicts = (
        sa.select(
            label.label("bucket"), v.verdict, sa.func.count().label("samples"), none, none, none,
            sa.func.sum(weight).label("weight"), sa.func.sum(weight * weight).label("weight_sq"),
            sa.func.min(v.sampling_rate).label("min_rate"), sa.func.max(v.sampling_rate).label("max_rate"),
        )  # fmt: skip
        .where(v.ts >= window.start, v.ts < window.end)
        .group_by(label, v.verdict)
    )
    with engine.connect() as connection:
        rows: Sequence[sa.Row[Any]] = connection.execute(sa.union_all(volume, verdicts)).all()  # type: ignore[assignment]
    buckets: dict[str, list[sa.Row[Any]]] = {}
    for row in rows:
        buckets.setdefault(row.bucket, []).append(row)
    return [_point(_bucket_start(key, bucket), buckets[key], min_samples) for key in sorted(buckets)]


def _point(start: datetime, rows: list[sa.Row[Any]], min_samples: int) -> SeriesPoint:
    """Fold one bucket's rows (its volume, with ``verdict`` NULL, and one per verdict) into a point."""
    volume = next(row for row in rows if row.verdict is None)
    by_verdict = {row.verdict: row for row in rows if row.verdict is not None}
    passed, failed, unscored = by_verdict.get("pass"), by_verdict.get("fail"), by_verdict.get("unscored")
    scored = [row for row in (passed, failed) if row is not None]
    counts = CategoryCounts(
        category=start.isoformat(),
        samples=int(volume.samples),
        judged=sum(int(row.samples) for row in by_verdict.values()),
        passed=int(passed.samples) if passed else 0,
        failed=int(failed.samples) if failed else 0,
        unscored=int(unscored.samples) if unscored else 0,
        weight_passed=float(passed.weight or 0.0) if passed else 0.0,
        weight_failed=float(failed.weight or 0.0) if failed else 0.0,
        weight_sq_scored=sum(float(row.weight_sq or 0.0) for row in scored),
        min_rate=min((float(row.min_rate) for row in scored), default=None),
        max_rate=max((float(row.max_rate) for row in scored), default=None),
    )
    return SeriesPoint(
        start=start, samples=counts.samples, judged=counts.judged, passed=counts.passed, failed=counts.failed,
        unscored=counts.unscored, input_tokens=int(volume.input_tokens or 0),
        output_tokens=int(volume.output_tokens or 0), errors=int(volume.errors or 0),
        pass_rate=pass_rate(counts, min_samples=min_samples),
    )


@dataclass(frozen=True, slots=True)
class CostPoint:
    """What the judge spent in one bucket ``[start, start + 1 hour/day)``, by when it judged."""

    start: datetime
    judgments: int
    cost_usd: float
    input_tokens: int
    output_tokens: int


def cost_series(engine: Engine, window: TimeWindow, *, bucket: Bucket = "day") -> list[CostPoint]:
    """Judge spending per UTC hour or day of ``window``, by ``judgment.created_at``, oldest first.

    Spending is dated by when the judge ran (what the bill shows), not by the sample's
    time. One aggregate over the ``judgment.created_at`` index range.
    """
    j = JUDGMENT.c
    label = _bucket_label(engine.dialect.name, bucket, j.created_at).label("bucket")
    statement = (
        sa.select(label, sa.func.count().label("n"), sa.func.sum(j.cost_usd).label("cost"),
                  sa.func.sum(j.input_tokens).label("tokens_in"), sa.func.sum(j.output_tokens).label("tokens_out"))
        .where(j.created_at >= window.start, j.created_at < window.end)
        .group_by(label)
        .order_by(label)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [CostPoint(_bucket_start(row.bucket, bucket), int(row.n),
                      float(row.cost or 0.0), int(row.tokens_in or 0), int(row.tokens_out or 0)) for row in rows]
