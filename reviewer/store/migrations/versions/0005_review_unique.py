"""One review per person per judgment, as a unique index on ``review (judgment_id, reviewer)``.

Revision ID: 0005_review_unique
Revises: 0004_fewer_sample_indexes
Create Date: 2026-12-02

``reviewer.reviews.record_review`` refused a second review of a judgment by the same
person only by looking first, so two tabs (or two app replicas) saving at once could
both write, and the agreement statistics counted the pair twice. The database now
enforces it.

Existing duplicates are resolved before the index is built: of each person's reviews of
one judgment the newest is kept (latest ``created_at``, then highest ``id``) — the
verdict they gave last — and the older ones are deleted. The downgrade drops the index;
the deleted duplicates do not come back.

Reviews without a judgment (``judgment_id`` NULL) are not constrained: NULLs are
distinct in a unique index on SQLite and PostgreSQL alike. A new index only: no batch
copy of ``review`` on SQLite. The index also serves the review queue's "already
reviewed?" probe, which looked judgments up by ``judgment_id``.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision: str = "0005_review_unique"
down_revision: str | None = "0004_fewer_sample_indexes"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

INDEX = "uq_review_judgment_id_reviewer"

logger = logging.getLogger(__name__)

# Portable to SQLite and PostgreSQL: a review goes when the same person has a newer one
# of the same judgment.
DELETE_OLDER_DUPLICATES = """
DELETE FROM review
WHERE judgment_id IS NOT NULL
  AND EXISTS (
      SELECT 1 FROM review AS newer
      WHERE newer.judgment_id = review.judgment_id
        AND newer.reviewer = review.reviewer
        AND (newer.created_at > review.created_at
             OR (newer.created_at = review.created_at AND newer.id > review.id))
  )
"""


def upgrade() -> None:
    removed = op.get_bind().execute(sa.text(DELETE_OLDER_DUPLICATES)).rowcount
    if removed:
        logger.warning("removed %d older duplicate review(s): one review per person per judgment is kept, the newest",
                       removed)
    op.create_index(INDEX, "review", ["judgment_id", "reviewer"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="review")
