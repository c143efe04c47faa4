"""Alembic environment of the store; run through ``reviewer.store.migrate``, not an alembic.ini.

``reviewer.store.migrate.upgrade`` passes an open connection, already inside the
transaction (and, on PostgreSQL, holding the advisory lock) that the migration runs in,
in ``config.attributes["connection"]``. Without one (``alembic`` pointed at this
directory with ``sqlalchemy.url`` set), an engine is made from that URL.

A new revision, after changing ``models.py``: upgrade a scratch database to head, then
``alembic.command.revision(alembic_config(connection), autogenerate=True,
message="what changed", rev_id="0002_what_changed")`` with ``alembic_config`` from
``reviewer.store.migrate``; clean the result by hand as 0001 was (no sqlmodel or model
imports; SQLite needs the batch operations that ``render_as_batch`` emits).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from reviewer.store.migrate import VERSION_TABLE
from reviewer.store.models import STORE_METADATA


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=STORE_METADATA,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=STORE_METADATA,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from reviewer.store.engine import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _configure_and_run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
