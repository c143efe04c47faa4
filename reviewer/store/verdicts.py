"""Each judged sample's current verdict and judge cost, kept in the table ``sample_verdict``.

A sample's verdict is derived from its judgments by one rule (the one every statistic,
listing and export of Tastevin uses):

1. per rubric (``rubric_name``) only the sample's latest judgment counts — newest
   ``created_at``; at the very same instant ``fail`` wins over ``pass``, which wins over
   ``unscored``;
2. the sample fails when one of those fails, passes when none fails and one passes,
   is unscored when all are unscored; without judgments it has no verdict (no row).

So the verdict is the largest code (2 fail, 1 pass, 0 unscored) among the judgments
whose ``created_at`` is the newest of their (sample, rubric). ``judge_cost_usd`` adds up
every judgment's cost, superseded ones included (what was spent).

Whoever inserts judgments calls :func:`refresh_sample_verdicts` for their samples **in
the same transaction** (``judge.claims.store_judgments`` does); the migration
``0003_sample_verdict`` filled the table for the judgments that existed before.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .models import Judgment, Sample, SampleVerdict

__all__ = ["VERDICT_CODES", "refresh_sample_verdicts", "verdict_rows"]

SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
JUDGMENT: Table = Judgment.__table__  # type: ignore[attr-defined]
SAMPLE_VERDICT: Table = SampleVerdict.__table__  # type: ignore[attr-defined]

VERDICT_CODES: dict[str, int] = {"unscored": 0, "pass": 1, "fail": 2}
_COLUMNS = ("sample_id", "ts", "category", "sampling_rate", "verdict", "judge_cost_usd")


def verdict_rows(sample_ids: Collection[str] | None = None) -> sa.Select[Any]:
    """``SELECT`` of the ``sample_verdict`` rows of ``sample_ids`` (``None``: of every judged sample).

    Aggregates only, no window function: the judgments of the samples grouped per sample,
    with the newest ``created_at`` of each judgment's (sample, rubric) from a correlated
    index probe. Samples without judgments give no row.
    """
    j = JUDGMENT.alias("j")
    newest = JUDGMENT.alias("newest")
    newest_of_rubric = (
        sa.select(sa.func.max(newest.c.created_at))
        .where(newest.c.sample_id == j.c.sample_id, newest.c.rubric_name == j.c.rubric_name)
        .scalar_subquery()
    )
    code = sa.case(*((j.c.verdict == verdict, value) for verdict, value in VERDICT_CODES.items() if value), else_=0)
    top = sa.func.max(sa.case((j.c.created_at == newest_of_rubric, code), else_=None))
    verdict = sa.case({value: verdict for verdict, value in VERDICT_CODES.items()}, value=top, else_=sa.null())
    s = SAMPLE.c
    statement = (
        sa.select(
            s.sample_id, s.ts, s.category, s.sampling_rate, verdict.label("verdict"),
            sa.func.sum(j.c.cost_usd).label("judge_cost_usd"),
        )  # fmt: skip
        .select_from(SAMPLE.join(j, j.c.sample_id == s.sample_id))
        .group_by(s.sample_id, s.ts, s.category, s.sampling_rate)
    )
    if sample_ids is not None:
        statement = statement.where(s.sample_id.in_(sorted(set(sample_ids))))
    return statement


def refresh_sample_verdicts(connection: Connection, sample_ids: Collection[str] | None = None) -> None:
    """Recompute the ``sample_verdict`` rows of ``sample_ids`` (``None``: of every sample) from their judgments.

    Call it in the transaction that inserted the judgments; it does not commit. An upsert
    (``INSERT … SELECT … ON CONFLICT DO UPDATE``). On PostgreSQL the samples' rows are
    first locked (``FOR NO KEY UPDATE``, in id order), so two workers storing judgments of
    one sample at once do not lose each other's: the second waits for the first to
    commit, and its statement then sees both. Blocks on the database; errors propagate.
    """
    dialect = connection.dialect.name
    if sample_ids is not None:
        ids = sorted(set(sample_ids))
        if not ids:
            return
        if dialect == "postgresql":
            connection.execute(
                sa.select(SAMPLE.c.sample_id)
                .where(SAMPLE.c.sample_id.in_(ids))
                .order_by(SAMPLE.c.sample_id)
                .with_for_update(key_share=True)
            )
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = verdict_rows(sample_ids)
    if dialect == "sqlite":
        # SQLite parses `INSERT … SELECT … ON CONFLICT` ambiguously without a WHERE.
        rows = rows.where(sa.true())
    statement = insert(SAMPLE_VERDICT).from_select(list(_COLUMNS), rows)
    statement = statement.on_conflict_do_update(
        index_elements=["sample_id"],
        set_={"verdict": statement.excluded.verdict, "judge_cost_usd": statement.excluded.judge_cost_usd},
    )
    connection.execute(statement)
