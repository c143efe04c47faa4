"""Engines for the store: a SQLite file by default, PostgreSQL (psycopg 3) at scale.

The URL comes from the caller (the ``--db`` flag or ``TASTEVIN_DB_URL``, read by the
CLI's settings, never here). Accepted forms::

    sqlite:///tastevin.db                  a file, relative to the working directory
    sqlite:////var/lib/tastevin/store.db   an absolute path (four slashes)
    postgresql://user:pass@host:5432/db    also postgres://… and postgresql+psycopg://…
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError

from ..errors import ConfigError, StoreError
from .defaults import DB_URL_ENV, DEFAULT_DB_URL

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10

_EXAMPLES = (
    "use e.g. --db sqlite:///tastevin.db (a file in the working directory), "
    "--db sqlite:////abs/path/store.db or --db postgresql://user:password@host:5432/dbname "
    f"(or set {DB_URL_ENV})"
)
_PG_DRIVERNAMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_DRIVERNAMES = {"sqlite", "sqlite+pysqlite"}


def display_url(url: str | URL) -> str:
    """The URL with its password masked, safe to print or log."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def normalize_url(url: str | None) -> URL:
    """Parse and check a store URL; PostgreSQL URLs are rewritten to the psycopg 3 driver.

    Raises ``ConfigError`` (with example URLs) for anything else: an unparseable string,
    another database or driver, or a SQLite file whose directory does not exist.
    """
    text = (url or DEFAULT_DB_URL).strip()
    try:
        parsed = sa.make_url(text)
    except ArgumentError as exc:
        raise ConfigError(f"could not parse the database URL: {_EXAMPLES}") from exc
    if parsed.drivername in _PG_DRIVERNAMES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in _SQLITE_DRIVERNAMES:
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            directory = Path(database).expanduser().resolve().parent
            if not directory.is_dir():
                raise ConfigError(
                    f"the directory of the SQLite database {database!r} does not exist: "
                    f"create {str(directory)!r} first or {_EXAMPLES}"
                )
        return parsed
    if parsed.get_backend_name() == "postgresql":
        raise ConfigError(
            f"PostgreSQL driver {parsed.get_driver_name()!r} is not supported, only psycopg 3: "
            f"write postgresql://… instead of {parsed.drivername}://…"
        )
    raise ConfigError(
        f"unsupported database {parsed.drivername!r} in {display_url(parsed)}: Tastevin stores into "
        f"SQLite or PostgreSQL; {_EXAMPLES}"
    )


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so the switch to WAL waits for a concurrent writer.
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """An engine for ``url`` (default ``DEFAULT_DB_URL``); connects lazily, never at import.

    SQLite connections get ``journal_mode=WAL``, ``synchronous=NORMAL``,
    ``foreign_keys=ON`` and a 30 s ``busy_timeout``, so an ingester, a judge worker and
    the app can share one file. PostgreSQL uses psycopg 3 with ``pool_pre_ping`` (a
    restarted server costs one failed ping, not an error) and a 10 s connect timeout
    unless the URL sets ``connect_timeout``.

    Raises ``ConfigError`` for a bad URL; does not touch the database.
    """
    parsed = normalize_url(url)
    # JSON columns go through orjson: the stdlib encoder costs ~70 µs a sample row.
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, echo=echo, **json_args)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return sa.create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args, **json_args)
