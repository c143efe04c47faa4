"""Each judged sample's current verdict, materialised for the window statistics.

Revision ID: 0003_sample_verdict
Revises: 0002_judge_claims
Create Date: 2026-11-29

* ``sample_verdict``: one row per judged sample — its verdict (the latest judgment per
  rubric counts; at one instant fail beats pass beats unscored; any fail fails, else any
  pass passes, else unscored), the cost of all its judgments, and copies of the
  sample's ``ts``, ``category`` and ``sampling_rate``, so a window's verdict counts are
  a ``GROUP BY`` over one narrow index instead of a join of every judgment. Filled here
  from the existing judgments by one ``INSERT … SELECT``; kept current by the judge
  (``reviewer.store.refresh_sample_verdicts``).
* ``ix_sample_ts_window``: a covering index of the columns the window aggregates and the
  drift report's id draw read from ``sample``.

New table and index only: no batch copy of ``sample`` on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_sample_verdict"
down_revision: str | None = "0002_judge_claims"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TIMESTAMP = sa.DateTime(timezone=True)

# The verdict rule as it was when this revision was written (reviewer/store/verdicts.py).
BACKFILL = """
INSERT INTO sample_verdict (sample_id, ts, category, sampling_rate, verdict, judge_cost_usd)
SELECT s.sample_id, s.ts, s.category, s.sampling_rate,
       CASE MAX(CASE WHEN j.created_at = (SELECT MAX(n.created_at) FROM judgment AS n
                                          WHERE n.sample_id = j.sample_id AND n.rubric_name = j.rubric_name)
                     THEN CASE j.verdict WHEN 'fail' THEN 2 WHEN 'pass' THEN 1 ELSE 0 END END)
            WHEN 2 THEN 'fail' WHEN 1 THEN 'pass' WHEN 0 THEN 'unscored' END,
       SUM(j.cost_usd)
FROM sample AS s JOIN judgment AS j ON j.sample_id = s.sample_id
GROUP BY s.sample_id, s.ts, s.category, s.sampling_rate
"""


def upgrade() -> None:
    op.create_table(
        "sample_verdict",
        sa.Column("sample_id", sa.String(length=32), nullable=False),
        sa.Column("ts", TIMESTAMP, nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("sampling_rate", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("judge_cost_usd", sa.Float(), nullable=True),
        sa.CheckConstraint("\"verdict\" IN ('pass', 'fail', 'unscored')", name=op.f("ck_sample_verdict_verdict")),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.sample_id"], name=op.f("fk_sample_verdict_sample_id_sample")),
        sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_sample_verdict")),
    )
    op.execute(BACKFILL)
    op.create_index(
        "ix_sample_verdict_ts_category_verdict",
        "sample_verdict",
        ["ts", "category", "verdict", "sampling_rate", "judge_cost_usd"],
        unique=False,
    )
    op.create_index(
        "ix_sample_ts_window",
        "sample",
        ["ts", "category", "sampling_rate", "input_tokens", "output_tokens", "error_type", "sample_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_sample_ts_window", table_name="sample")
    op.drop_index("ix_sample_verdict_ts_category_verdict", table_name="sample_verdict")
    op.drop_table("sample_verdict")
