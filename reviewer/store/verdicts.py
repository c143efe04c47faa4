"""A sample's verdict — the one rule every reader of Tastevin uses — and the table ``sample_verdict``.

A sample's verdict is derived from its judgments:

1. per rubric (``rubric_name``) exactly one of the sample's judgments **counts**: the
   first in the order newest ``created_at``, then worst verdict (``fail`` before
   ``pass`` before ``unscored``: at the very same instant a failure is never hidden),
   then highest ``id``. Every other judgment of that (sample, rubric) is *superseded*;
2. the sample fails when one of the judgments that count fails, passes when none fails
   and one passes, is unscored when all are unscored; without judgments it has no
   verdict.

So the verdict is the largest code (2 fail, 1 pass, 0 unscored) among the judgments that
count. This module holds that rule once, as SQL expressions, and every reader builds on
them: :func:`superseded` / :func:`counts` (which judgments count: the sample detail, the
export's ``verdicts``, the review queue), :func:`sample_verdict_code` /
:func:`sample_verdict` (a sample's verdict, correlated to the enclosing query's ``sample``
row: the Samples page, its verdict filter, the export's ``verdict``) and
:func:`verdict_rows` (the same verdict for the table ``sample_verdict``, which the window
statistics, time series and alerts read).

``judge_cost_usd`` adds up every judgment's cost, superseded ones included (what was
spent). Whoever inserts judgments calls :func:`refresh_sample_verdicts` for their samples
**in the same transaction** (``judge.claims.store_judgments`` does); the migration
``0003_sample_verdict`` filled the table for the judgments that existed before.

A judgment made without an LLM call has ``judge_model`` :data:`NO_JUDGE_MODEL` (``none``):
either its rubric has no LLM criteria, or no judge was configured and its LLM criteria
were skipped — :func:`rules_only` tells the second case (the verdict then rests on rule
checks alone, and every reader says so).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import FromClause

from .models import Judgment, Sample, SampleVerdict

__all__ = [
    "NO_JUDGE_MODEL",
    "RULES_ONLY_LABEL",
    "VERDICT_CODES",
    "asks_llm",
    "counts",
    "refresh_sample_verdicts",
    "rules_only",
    "sample_verdict",
    "sample_verdict_code",
    "superseded",
    "verdict_code",
    "verdict_of_code",
    "verdict_rows",
]

SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
JUDGMENT: Table = Judgment.__table__  # type: ignore[attr-defined]
SAMPLE_VERDICT: Table = SampleVerdict.__table__  # type: ignore[attr-defined]

VERDICT_CODES: dict[str, int] = {"unscored": 0, "pass": 1, "fail": 2}
# The judge_model of judgments made without an LLM call (a rules-only rubric, or no judge configured).
NO_JUDGE_MODEL = "none"
# What every reader shows when verdicts rest on rule checks alone although their rubric has LLM criteria.
RULES_ONLY_LABEL = "rules only — LLM criteria not judged"
_COLUMNS = ("sample_id", "ts", "category", "sampling_rate", "verdict", "judge_cost_usd")


def verdict_code(verdict: sa.ColumnElement[Any]) -> sa.ColumnElement[int]:
    """A verdict column as its code: 2 fail, 1 pass, 0 unscored (and anything else)."""
    return sa.case(*((verdict == name, value) for name, value in VERDICT_CODES.items() if value), else_=0)


def verdict_of_code(code: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The inverse of :func:`verdict_code`: ``'pass'``, ``'fail'``, ``'unscored'``, NULL for NULL."""
    return sa.case({value: name for name, value in VERDICT_CODES.items()}, value=code, else_=sa.null())


def superseded(judgment: FromClause) -> sa.ColumnElement[bool]:
    """True for a row of ``judgment`` (the table or an alias) that another judgment of its
    (sample, rubric) outranks — newer, or as new and worse, or as new, as bad and a higher id.

    A correlated ``EXISTS``: one probe of the ``judgment.sample_id`` index per row.
    """
    j = judgment.c
    other = JUDGMENT.alias("outranking")
    o = other.c
    mine, theirs = verdict_code(j.verdict), verdict_code(o.verdict)
    return sa.exists().where(
        o.sample_id == j.sample_id,
        o.rubric_name == j.rubric_name,
        sa.or_(
            o.created_at > j.created_at,
            sa.and_(o.created_at == j.created_at, sa.or_(theirs > mine, sa.and_(theirs == mine, o.id > j.id))),
        ),
    )


def counts(judgment: FromClause) -> sa.ColumnElement[bool]:
    """True for the row of ``judgment`` that counts for its (sample, rubric): ``NOT`` :func:`superseded`."""
    return ~superseded(judgment)


def sample_verdict_code(sample_id: sa.ColumnElement[Any], rubric: str | None = None) -> sa.ScalarSelect[Any]:
    """The verdict code of the sample ``sample_id`` (a column of the enclosing query, e.g. ``sample.sample_id``):
    2 fail, 1 pass, 0 unscored, NULL without judgments (of ``rubric`` only, when given).

    A correlated scalar subquery over the sample's judgments (an index probe), so a
    listing evaluates it for the rows of its page only.
    """
    j = JUDGMENT.alias("j")
    conditions: list[sa.ColumnElement[bool]] = [j.c.sample_id == sample_id, counts(j)]
    if rubric is not None:
        conditions.append(j.c.rubric_name == rubric)
    return sa.select(sa.func.max(verdict_code(j.c.verdict))).where(*conditions).scalar_subquery()


def sample_verdict(sample_id: sa.ColumnElement[Any], rubric: str | None = None) -> sa.ColumnElement[Any]:
    """:func:`sample_verdict_code` as the verdict: ``'pass'``, ``'fail'``, ``'unscored'`` or NULL."""
    return verdict_of_code(sample_verdict_code(sample_id, rubric))


def asks_llm(judgment: FromClause) -> sa.ColumnElement[bool]:
    """True for a row of ``judgment`` whose rubric has LLM criteria (it holds their results, scored or not)."""
    # The text of an empty JSON array is '[]' on both backends (SQLite stores json.dumps
    # output; PostgreSQL prints an empty json/jsonb array that way).
    return sa.cast(judgment.c.criteria, sa.Text) != "[]"


def rules_only(judgment: FromClause) -> sa.ColumnElement[bool]:
    """True for a row of ``judgment`` made without an LLM although its rubric has LLM criteria
    (``judge_model`` ``none``: its LLM criteria were skipped, unscored, and rule checks alone decided)."""
    return sa.and_(judgment.c.judge_model == NO_JUDGE_MODEL, asks_llm(judgment))


def verdict_rows(sample_ids: Collection[str] | None = None) -> sa.Select[Any]:
    """``SELECT`` of the ``sample_verdict`` rows of ``sample_ids`` (``None``: of every judged sample).

    The judgments of the samples grouped per sample: the verdict is the largest code of
    those that :func:`counts`, the cost the sum over all. Samples without judgments give no row.
    """
    j = JUDGMENT.alias("j")
    top = sa.func.max(sa.case((counts(j), verdict_code(j.c.verdict)), else_=None))
    s = SAMPLE.c
    statement = (
        sa.select(
            s.sample_id, s.ts, s.category, s.sampling_rate, verdict_of_code(top).label("verdict"),
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
