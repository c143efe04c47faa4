"""One batch → one database transaction: samples inserted idempotently, poison to dead_letter.

``write_rows`` is the only place ingest touches the database. It either commits the
whole batch or raises; the caller commits Kafka offsets only after it returned, so a
crash anywhere loses nothing (the batch is redelivered) and duplicates nothing (a
``sample_id`` or a dead letter's ``(topic, partition, offset)`` already stored is skipped;
of two copies inside one batch the first is kept).

Sample rows arrive as the insert-ready tuples of :func:`.decode.decode_row` (JSON
columns as text, timestamps in the form the dialect stores) and go to the driver
without SQLAlchemy's per-column bind processing, which cost ~60 µs a row:

* SQLite: multi-row ``INSERT … VALUES (…), (…) … ON CONFLICT (sample_id) DO NOTHING``
  of up to 512 rows each: one statement run per chunk instead of per row, ~10% less
  CPU a row than ``executemany``.
* PostgreSQL: ``COPY`` straight into ``sample``. A batch with a sample already stored
  (redelivered after a crash or a rebalance) fails that with a unique violation, and is
  then written again through a session-local temporary table: ``COPY`` into it, then
  one ``INSERT INTO sample SELECT … ON CONFLICT (sample_id) DO NOTHING``. The staged
  path takes half the client CPU (17 vs 33 µs a row) and 30% less server CPU (70 vs
  98 µs) than an ``executemany`` of single-row inserts; the direct ``COPY`` another
  ~20% less server CPU (48 vs 63 µs), for the common batch with nothing to skip.

The column list comes from :data:`.decode.SAMPLE_COLUMNS` and is checked against the
model's table when the writer is built; ``tests/reviewer/test_writer.py`` checks that
rows written this way read back through the ORM exactly as written through it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..store import DeadLetter, Sample
from .decode import SAMPLE_COLUMNS, row_tuple

_SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
_DEAD: Table = DeadLetter.__table__  # type: ignore[attr-defined]
# SQLite settings of the ingest connection (per connection; the store's own pragmas
# stay). A 32 MB page cache instead of 2 MB: the random-key sample_id index outgrows
# 2 MB at a few tens of thousands of rows, and inserts then read index pages back. A
# checkpoint every ~40 MB of WAL instead of every 4 MB: a batch of 2,000 rows writes
# ~5 MB, so the default checkpointed (and fsynced) after every batch and copied the
# same index pages again each time. Together ~20% less CPU per row. synchronous=FULL:
# the WAL is fsynced at every commit, because the Kafka offsets are committed right
# after it; with the store's NORMAL an OS crash or power cut could lose batches that
# Kafka already counts as consumed (one fsync per batch, ~3 µs a row).
SQLITE_PRAGMAS = ("PRAGMA cache_size=-32768", "PRAGMA wal_autocheckpoint=10000", "PRAGMA synchronous=FULL")
# Rows per multi-row INSERT on SQLite (37 parameters each; SQLite allows 32,766 since 3.32).
SQLITE_ROWS_PER_INSERT = 512
_PG_STAGING = "tastevin_ingest_sample"
_UNIQUE_VIOLATION = "23505"


def _insert_ignoring_duplicates(table: Table, dialect: str, keys: list[str]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert  # BatchWriter allows only these two
    return insert(table).on_conflict_do_nothing(index_elements=keys)


def _check_columns(table: Table) -> None:
    names = {column.name for column in table.columns}
    if names != set(SAMPLE_COLUMNS):
        raise RuntimeError(
            "reviewer.ingest.decode.SAMPLE_COLUMNS no longer matches the sample table: "
            f"missing {sorted(names - set(SAMPLE_COLUMNS))}, unknown {sorted(set(SAMPLE_COLUMNS) - names)}"
        )


def _sqlite_lock_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or os.name != "posix":
        return None
    return f"{database}-ingest-lock"


_COLUMN_LIST = ", ".join(f'"{name}"' for name in SAMPLE_COLUMNS)


class BatchWriter:
    """Writes decoded rows and dead letters; one instance per engine.

    ``text_timestamps`` tells the decoder which timestamp form this dialect's tuples
    carry (SQLite: SQLAlchemy's DATETIME text; PostgreSQL: aware datetimes). Methods
    block on the database and may be called from any one thread at a time.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"unsupported database dialect {dialect!r} (use SQLite or PostgreSQL)")
        _check_columns(_SAMPLE)
        self.dialect = dialect
        self.text_timestamps = dialect == "sqlite"
        self._insert_dead = _insert_ignoring_duplicates(_DEAD, dialect, ["topic", "partition", "offset"])
        self._lock_path = _sqlite_lock_path(engine) if dialect == "sqlite" else None
        self._lock_fd: int | None = None
        self._sqlite_inserts: dict[int, str] = {}
        self._sqlite_chunk = SQLITE_ROWS_PER_INSERT
        if dialect == "postgresql":
            self._pg_insert = (
                f"INSERT INTO sample ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_PG_STAGING} "
                "ON CONFLICT (sample_id) DO NOTHING"
            )

    def write_batch(self, rows: Sequence[dict[str, Any]], dead: Sequence[dict[str, Any]]) -> None:
        """Like :meth:`write_rows`, for row dicts as :func:`.decode.decode` returns them."""
        self.write_rows([row_tuple(row, text_timestamps=self.text_timestamps) for row in rows], dead)

    def write_rows(self, rows: Sequence[tuple[Any, ...]], dead: Sequence[dict[str, Any]]) -> None:
        """Insert in one transaction. Raises SQLAlchemy errors (the caller retries)."""
        if not rows and not dead:
            return
        if self.dialect == "postgresql" and rows:
            try:
                self._write_transaction(rows, dead, direct=True)
                return
            except IntegrityError as exc:
                if getattr(exc.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
                    raise
            # A sample already stored (a redelivered batch) or twice in this batch.
        self._write_transaction(rows, dead, direct=False)

    def _write_transaction(self, rows: Sequence[tuple[Any, ...]], dead: Sequence[dict[str, Any]], *, direct: bool) -> None:
        with self._ingest_lock(), self.engine.begin() as connection:
            if rows:
                if self.dialect == "sqlite":
                    self._insert_sqlite(connection, rows)
                else:
                    self._copy_pg(connection, rows, direct=direct)
            if dead:
                connection.execute(self._insert_dead, list(dead))

    @contextlib.contextmanager
    def _ingest_lock(self) -> Iterator[None]:
        """On a SQLite file, one ingest transaction at a time across processes.

        SQLite has one writer at a time anyway, but a writer that finds the database
        locked sleeps in steps of up to 100 ms before it tries again, so two ingest
        processes (``--workers 2``) would spend much of their time asleep. An
        ``flock`` on a file beside the database hands the turn over the moment the
        other transaction ends. (Not on the database file itself: closing any other
        descriptor of it would drop SQLite's own locks.)"""
        if self._lock_path is None:
            yield
            return
        import fcntl

        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file, if one was opened (the engine is the caller's)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _sqlite_insert(self, rows: int) -> str:
        sql = self._sqlite_inserts.get(rows)
        if sql is None:
            one = "(" + ", ".join("?" * len(SAMPLE_COLUMNS)) + ")"
            sql = f"INSERT INTO sample ({_COLUMN_LIST}) VALUES {', '.join([one] * rows)} ON CONFLICT (sample_id) DO NOTHING"
            self._sqlite_inserts[rows] = sql
        return sql

    def _insert_sqlite(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        driver_connection: Any = connection.connection.driver_connection
        if not self._sqlite_inserts:  # first use: respect a SQLite built with a lower limit
            limit = driver_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._sqlite_chunk = max(1, min(SQLITE_ROWS_PER_INSERT, limit // len(SAMPLE_COLUMNS)))
        info = connection.connection.info  # lives as long as the DBAPI connection
        if not info.get("tastevin_ingest_pragmas"):
            for pragma in SQLITE_PRAGMAS:
                connection.exec_driver_sql(pragma)
            info["tastevin_ingest_pragmas"] = True
        chain = itertools.chain.from_iterable
        start, total = 0, len(rows)
        while start < total:
            # Full chunks, then the remainder in power-of-two pieces: at most ~10 distinct
            # statements ever, so SQLite's statement cache keeps them all prepared.
            remaining = total - start
            size = self._sqlite_chunk if remaining >= self._sqlite_chunk else 1 << (remaining.bit_length() - 1)
            connection.exec_driver_sql(self._sqlite_insert(size), tuple(chain(rows[start : start + size])))
            start += size

    def _copy_pg(self, connection: Connection, rows: Sequence[tuple[Any, ...]], *, direct: bool) -> None:
        """``direct``: ``COPY`` straight into ``sample`` (fails on a duplicate); else
        through the staging table and ``INSERT … ON CONFLICT DO NOTHING``."""
        driver_connection: Any = connection.connection.driver_connection
        statement = f"COPY {'sample' if direct else _PG_STAGING} ({_COLUMN_LIST}) FROM STDIN"
        try:
            with driver_connection.cursor() as cursor:
                if not direct:
                    # Session-local and emptied at every commit; re-created after a reconnect.
                    # SET LOCAL silences the "already exists" notice for this transaction only.
                    cursor.execute(
                        "SET LOCAL client_min_messages = warning; "
                        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PG_STAGING} (LIKE sample) ON COMMIT DELETE ROWS"
                    )
                with cursor.copy(statement) as copy:
                    write_row = copy.write_row
                    for row in rows:
                        write_row(row)
                if not direct:
                    statement = self._pg_insert
                    cursor.execute(statement)
        except connection.dialect.loaded_dbapi.Error as exc:
            # The driver's cursor bypasses SQLAlchemy's error handling: map the error the
            # way it would (OperationalError for a lost server, which the caller retries)
            # and drop a dead connection from the pool.
            dialect = connection.dialect
            lost = dialect.is_disconnect(exc, driver_connection, None)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
            ) from exc
