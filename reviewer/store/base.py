"""What every table of the store shares: the metadata, the column types, the base model.

Kept apart from :mod:`~reviewer.store.models` so the modules that define tables
(``models``, ``evals``) import it without importing each other. Like them, no
``from __future__ import annotations``: SQLModel reads the annotations.
"""

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
STORE_METADATA = sa.MetaData(naming_convention=NAMING_CONVENTION)

VERDICTS = ("pass", "fail", "unscored")
REVIEW_VERDICTS = ("pass", "fail")
RUN_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
RUN_MODES = ("sync", "batch")
RUN_TRIGGERS = ("schedule", "manual")
ALERT_KINDS = ("score_drop", "drift", "volume")
ALERT_STATUSES = ("firing", "resolved")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "disabled")
DEAD_LETTER_REASONS = ("invalid_json", "invalid_utf8", "unknown_schema", "missing_field", "bad_type", "oversize")
UNCATEGORIZED = "uncategorized"


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default of every ``*_at`` column)."""
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    SQLite has no time zone type: values are converted to UTC before they are stored,
    so text order is time order, and UTC is attached again when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _json(*, nullable: bool = False) -> sa.types.TypeEngine[Any]:
    # none_as_null: Python None means SQL NULL, not the JSON literal 'null'.
    return sa.JSON(none_as_null=nullable).with_variant(JSONB(none_as_null=nullable), "postgresql")


JSON_TYPE = _json()
NULLABLE_JSON_TYPE = _json(nullable=True)


def _check_in(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f'"{column}" IN ({allowed})', name=column)


class StoreModel(SQLModel, registry=registry(metadata=STORE_METADATA)):
    """Base of every Tastevin table: their own metadata, separate from ``SQLModel.metadata``."""

# The datasets' and eval runs' tables (defined in ``evals``).
EVAL_TABLES = ("dataset", "dataset_version", "dataset_case", "eval_run", "eval_case")
