"""Drop the sample indexes that a wider index covers, and the one no query uses.

Revision ID: 0004_fewer_sample_indexes
Revises: 0003_sample_verdict
Create Date: 2026-11-22

``ix_sample_ts`` is the first column of ``ix_sample_ts_window``, ``ix_sample_category``
of ``ix_sample_category_ts`` and ``ix_sample_app`` of ``ix_sample_app_ts``: every query
one serves, the wider one serves too. Each index costs every ingested row a B-tree
insert. They also misled SQLite's planner, which read a window through
``ix_sample_ts`` and then every wide row, instead of through the covering
``ix_sample_ts_window``. ``ix_sample_trace_id`` served no query of the judge, the app or
the CLI, and being on a random key it cost ~15% of SQLite's insert time per row.
Together these four were over a third of the index work of every ingested row.
"""

from __future__ import annotations

from alembic import op

revision: str = "0004_fewer_sample_indexes"
down_revision: str | None = "0003_sample_verdict"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

DROPPED = {
    "ix_sample_ts": "ts",
    "ix_sample_category": "category",
    "ix_sample_app": "app",
    "ix_sample_trace_id": "trace_id",
}


def upgrade() -> None:
    for name in DROPPED:
        op.drop_index(name, table_name="sample")


def downgrade() -> None:
    for name, column in DROPPED.items():
        op.create_index(name, "sample", [column], unique=False)
