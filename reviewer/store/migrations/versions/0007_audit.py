"""Audit reviews: ``review.from_audit`` marks a review made from the random audit queue.

Revision ID: 0007_audit
Revises: 0005_review_unique
Create Date: 2026-12-02

Only audit reviews are a random sample of the judged samples, so only they estimate the
judge's sensitivity and specificity (``reviewer.trust``); reviews from the failure-first
and newest queues are a convenience sample and still count for κ, labelled so. Existing
reviews were all made from those queues: they get ``false``. A new column with a server
default: no batch copy of ``review`` on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_audit"
down_revision: str | None = "0005_review_unique"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.add_column("review", sa.Column("from_audit", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("review") as batch:
        batch.drop_column("from_audit")
