"""One batch → one database transaction: samples inserted idempotently, poison to dead_letter.

``write_batch`` is the only place ingest touches the database. It either commits the
whole batch or raises; the caller commits Kafka offsets only after it returned, so a
crash anywhere loses nothing (the batch is redelivered) and duplicates nothing (a
``sample_id`` or a dead letter's ``(topic, partition, offset)`` already stored is skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ..store import DeadLetter, Sample

_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
_DEAD: Table = DeadLetter.__table__  # type: ignore[attr-defined]


def _insert_ignoring_duplicates(table: Table, dialect: str, keys: list[str]) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")


class BatchWriter:
    """Writes decoded rows and dead letters; one instance per engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        self._insert_samples = _insert_ignoring_duplicates(_SAMPLE, dialect, ["sample_id"])
        self._insert_dead = _insert_ignoring_duplicates(_DEAD, dialect, ["topic", "partition", "offset"])

    def write_batch(self, rows: Sequence[dict[str, Any]], dead: Sequence[dict[str, Any]]) -> None:
        """Insert in one transaction. Raises SQLAlchemy errors (the caller retries)."""
        if not rows and not dead:
            return
        with self.engine.begin() as connection:
            if rows:
                connection.execute(self._insert_samples, list(rows))
            if dead:
                connection.execute(self._insert_dead, list(dead))
