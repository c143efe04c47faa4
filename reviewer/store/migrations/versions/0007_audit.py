"""Judge trust: ``review.from_audit`` (the random audit queue), the golden set and its checks.

Revision ID: 0007_audit
Revises: 0006_evals
Create Date: 2026-12-02

Only audit reviews are a random sample of the judged samples, so only they estimate the
judge's sensitivity and specificity (``reviewer.trust``); reviews from the failure-first
and newest queues are a convenience sample and still count for κ, labelled so. Existing
reviews were all made from those queues: they get ``false``. A new column with a server
default: no batch copy of ``review`` on SQLite.

``golden`` holds samples whose verdict people settled, per rubric (promoted from reviews);
``golden_check`` one row per re-judging of a rubric's golden set by (rubric version,
judge model), with its agreement — the judge's canary.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# As in 0001: plain types, no imports of our models (a migration keeps its meaning).
TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "0007_audit"
down_revision: str | None = "0006_evals"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.add_column("review", sa.Column("from_audit", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "golden",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.String(length=32), nullable=False),
        sa.Column("rubric_name", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("\"verdict\" IN ('pass', 'fail')", name=op.f("ck_golden_verdict")),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], name=op.f("fk_golden_review_id_review")),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.sample_id"], name=op.f("fk_golden_sample_id_sample")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_golden")),
        sa.UniqueConstraint("sample_id", "rubric_name", name=op.f("uq_golden_sample_id_rubric_name")),
    )
    op.create_index(op.f("ix_golden_rubric_name"), "golden", ["rubric_name"], unique=False)
    op.create_table(
        "golden_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rubric_name", sa.String(), nullable=False),
        sa.Column("rubric_version", sa.String(), nullable=False),
        sa.Column("judge_model", sa.String(), nullable=False),
        sa.Column("checked_at", TIMESTAMP, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("pass_pass", "pass_fail", "fail_pass", "fail_fail", "unscored", "errored")),
        *(sa.Column(name, sa.Float(), nullable=True)
          for name in ("kappa", "accuracy", "false_pass_rate", "false_pass_low", "false_pass_high")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_golden_check")),
    )
    op.create_index(op.f("ix_golden_check_rubric_name_checked_at"), "golden_check", ["rubric_name", "checked_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_table("golden_check")
    op.drop_table("golden")
    with op.batch_alter_table("review") as batch:
        batch.drop_column("from_audit")
