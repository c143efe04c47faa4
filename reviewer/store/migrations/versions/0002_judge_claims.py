"""Judge claims, run stop reasons and stored rubric specs.

Revision ID: 0002_judge_claims
Revises: 0001_initial
Create Date: 2026-11-22

* ``judge_claim``: what a judge run is judging right now, keyed like a judgment, so two
  workers sharing a database never judge the same (sample, rubric version, judge model).
* ``judge_run.stop_reason`` / ``judge_run.errored``: why a run ended; how many judgments
  it could not make and left for a later run.
* ``rubric.spec``: the whole validated rubric, to rebuild it when its file has changed.

SQLite adds columns in place (``ADD COLUMN`` with a constant default needs no batch copy).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_judge_claims"
down_revision: str | None = "0001_initial"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "judge_claim",
        sa.Column("sample_id", sa.String(length=32), nullable=False),
        sa.Column("rubric_version", sa.String(), nullable=False),
        sa.Column("judge_model", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["judge_run.id"], name=op.f("fk_judge_claim_run_id_judge_run")),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.sample_id"], name=op.f("fk_judge_claim_sample_id_sample")),
        sa.PrimaryKeyConstraint("sample_id", "rubric_version", "judge_model", name=op.f("pk_judge_claim")),
    )
    op.create_index(op.f("ix_judge_claim_run_id"), "judge_claim", ["run_id"], unique=False)
    op.add_column("judge_run", sa.Column("stop_reason", sa.String(), nullable=True))
    op.add_column("judge_run", sa.Column("errored", sa.Integer(), server_default="0", nullable=False))
    op.add_column("rubric", sa.Column("spec", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rubric") as batch:
        batch.drop_column("spec")
    with op.batch_alter_table("judge_run") as batch:
        batch.drop_column("errored")
        batch.drop_column("stop_reason")
    op.drop_index(op.f("ix_judge_claim_run_id"), table_name="judge_claim")
    op.drop_table("judge_claim")
