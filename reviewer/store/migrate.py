"""Schema migrations of the store: Alembic revisions shipped in ``reviewer/store/migrations``.

Policy (:func:`ensure_schema`): a SQLite file belongs to one machine and is upgraded in
place at start-up; a PostgreSQL database is shared, so it is never migrated silently —
except when it is empty — and a process that finds it behind stops with the command to
run (``tastevin db upgrade --db URL``).

:func:`upgrade` is safe to run from several processes at once: on PostgreSQL the whole
migration runs in one transaction holding a transaction-level advisory lock
(``MIGRATION_LOCK_KEY``); on SQLite inside ``BEGIN IMMEDIATE``, which takes the file's
write lock. The second process waits, then finds the schema at head and does nothing.

The version is kept in the table ``tastevin_alembic_version`` (``VERSION_TABLE``), so a
database shared with another Alembic-managed application does not mix histories.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..errors import ConfigError
from .engine import StoreError, display_url

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "tastevin_alembic_version"
# The pg_advisory_xact_lock key: a fixed 64-bit number derived from a name of our own.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tastevin.store.migrate").digest()[:8], "big", signed=True)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for the shipped migrations, bound to ``connection`` if given.

    For developers writing a new revision (``alembic.command.revision(...,
    autogenerate=True)``) and for the functions below; there is no alembic.ini.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this tastevin ships (e.g. ``0001_initial``)."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}: the installation is incomplete")
    return head


@contextmanager
def _connect(engine: Engine) -> Iterator[Connection]:
    """A connection, with connection failures mapped to ``StoreError``."""
    try:
        connection = engine.connect()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise StoreError(
            f"cannot connect to the database {display_url(engine.url)}: {reason}; "
            "check --db / TASTEVIN_DB_URL and that the database server is running"
        ) from exc
    with connection:
        yield connection


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it has no Tastevin schema yet.

    Read-only: a SQLite file that does not exist is reported as ``None``, not created.
    """
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        if not Path(database).expanduser().exists():
            return None
    with _connect(engine) as connection:
        revision = _current(connection)
        connection.rollback()
    return revision


def _lock_and_migrate(connection: Connection) -> str | None:
    """Inside one transaction on ``connection``: lock, read the revision, migrate; returns that revision.

    The migration lock is held until the caller commits or rolls back.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    before = _current(connection)
    command.upgrade(alembic_config(connection), "head")
    if dialect == "sqlite":
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if violations:
            raise StoreError(f"the migration left {len(violations)} foreign key violations; rolled back")
    return before


def _upgrade_sqlite(connection: Connection) -> str | None:
    # pysqlite opens transactions only before DML, so DDL would run outside ours: take
    # control of BEGIN, and take the write lock up front (BEGIN IMMEDIATE). Foreign keys
    # are off while tables are rebuilt (the batch-mode recipe); checked before commit.
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    isolation_level = dbapi_connection.isolation_level
    dbapi_connection.isolation_level = None
    try:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        with connection.begin():
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return _lock_and_migrate(connection)
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        dbapi_connection.isolation_level = isolation_level


def upgrade_from(engine: Engine) -> tuple[str | None, str]:
    """Like :func:`upgrade`, also returning the revision found before (``None``: empty).

    "Before" is read under the migration lock, so of two concurrent callers exactly one
    sees the old revision and the other sees head.
    """
    with _connect(engine) as connection:
        try:
            if connection.dialect.name == "sqlite":
                before = _upgrade_sqlite(connection)
            else:
                with connection.begin():
                    before = _lock_and_migrate(connection)
            after = _current(connection)
            connection.rollback()
        except CommandError as exc:
            raise StoreError(
                f"cannot migrate {display_url(engine.url)}: {exc}; it may have been migrated by a newer "
                "tastevin (pip install -U tastevin)"
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"migrating {display_url(engine.url)} failed and was rolled back: {exc}") from exc
    if after is None:  # pragma: no cover - alembic always stamps
        raise StoreError(f"migrating {display_url(engine.url)} left no revision stamped")
    if before != after:
        logger.info("migrated %s from %s to %s", display_url(engine.url), before or "an empty database", after)
    return before, after


def upgrade(engine: Engine) -> str:
    """Migrate the database to the head revision; returns it. A no-op when already there.

    Blocks while another process migrates the same database. Raises ``StoreError`` when
    the database cannot be reached or a migration fails (the transaction is rolled back;
    PostgreSQL and SQLite both have transactional DDL).
    """
    return upgrade_from(engine)[1]


def _has_tables(connection: Connection) -> bool:
    return bool(sa.inspect(connection).get_table_names())


def ensure_schema(engine: Engine, *, auto_upgrade: bool | None = None) -> str:
    """Make sure the database is at the head revision before a process uses it; returns it.

    ``auto_upgrade=None`` applies the default policy: upgrade a SQLite database; upgrade a
    PostgreSQL database only when it has no tables at all (a fresh one). ``True`` always
    upgrades, ``False`` never does. A database that is behind and not upgraded raises
    ``ConfigError`` naming the command to run; one at a revision this tastevin does not
    know (migrated by a newer version) raises ``ConfigError`` too.
    """
    head = head_revision()
    with _connect(engine) as connection:
        current = _current(connection)
        empty = current is None and not _has_tables(connection)
        connection.rollback()
    if current == head:
        return head
    if current is not None:
        try:
            known = _script().get_revision(current) is not None
        except CommandError:
            known = False
        if not known:
            raise ConfigError(
                f"database schema is at {current}, which this tastevin (head {head}) does not know: "
                "it was migrated by a newer tastevin; upgrade this one (pip install -U tastevin)"
            )
    if auto_upgrade is None:
        auto_upgrade = engine.dialect.name == "sqlite" or empty
    if auto_upgrade:
        return upgrade(engine)
    raise ConfigError(
        f"database schema is at {current or 'base'}, this tastevin needs {head}: "
        f"run `tastevin db upgrade --db {display_url(engine.url)}`"
    )
