"""Shared fixtures: real services on free ports, started and stopped by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewer.broker import EmbeddedBroker
from tests.pg import PostgresCluster, find_pg_bin


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    """A fresh tansu broker (memory storage) on a free port."""
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def broker_factory() -> Iterator[Any]:
    """Start brokers on demand (e.g. to restart one on the same port); all are stopped at teardown."""
    started: list[EmbeddedBroker] = []

    def make(port: int | None = None) -> EmbeddedBroker:
        embedded = EmbeddedBroker(port=port).start()
        started.append(embedded)
        return embedded

    yield make
    for embedded in started:
        embedded.stop()


# --- The store: a throwaway PostgreSQL cluster per session, a fresh database per test ---


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server for the whole session (see tests/pg.py); skips if none is installed.

    Tests may ``stop()`` / ``start()`` / ``restart()`` it (same port, same data); the
    ``pg_url`` fixture starts it again if a test left it stopped.
    """
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup as root")
    cluster = PostgresCluster(bin_dir=bin_dir)
    try:
        cluster.start()
    except Exception:
        cluster.destroy()
        raise
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) of a new, empty database, dropped after the test."""
    pg_cluster.start()
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.start()
    pg_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL of a SQLite file (not yet created) in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'tastevin.db'}"
