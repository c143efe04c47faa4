"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, pg_ctl on a free port.

As root (the usual case on the test machines) initdb and the server run as the
``postgres`` user, since initdb refuses root. Authentication is ``trust``, the server
listens on 127.0.0.1 and on a unix socket in the cluster's own directory, and
``fsync=off`` (a stopped or killed server loses nothing the OS already has; only a
machine crash would). The binaries come from the newest ``/usr/lib/postgresql/*/bin``.

Used by the ``pg_cluster`` / ``pg_url`` fixtures in ``tests/conftest.py``; tests that
restart the server mid-work call :meth:`PostgresCluster.stop` / :meth:`start` (same
port, same data) or :meth:`restart`.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from reviewer.broker import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def find_pg_bin() -> Path | None:
    """The ``bin`` directory of the newest PostgreSQL under /usr/lib/postgresql, or None."""
    candidates = []
    for path in PG_ROOT.glob("*/bin"):
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            version = tuple(int(part) for part in re.findall(r"\d+", path.parent.name))
            candidates.append((version, path))
    return max(candidates)[1] if candidates else None


class PostgresError(RuntimeError):
    pass


class PostgresCluster:
    """One PostgreSQL server on ``127.0.0.1:port`` with its data in ``base_dir``.

    Not thread-safe; meant for one pytest session. ``start`` blocks until the server
    accepts connections (``pg_ctl -w``); ``stop`` until it has exited.
    """

    def __init__(self, *, bin_dir: Path, base_dir: Path | None = None, port: int | None = None) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir or Path(tempfile.mkdtemp(prefix="tastevin-pg-"))
        self.data_dir = self.base_dir / "data"
        self.log_path = self.base_dir / "pg.log"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = "postgres"
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            self._run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.base_dir, account.pw_uid, account.pw_gid)

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            **self._run_as,
        )
        if check and result.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise PostgresError(f"{tool} {' '.join(args)} failed ({result.returncode}): {result.stderr}\n{log}")
        return result

    def init(self) -> PostgresCluster:
        if not (self.data_dir / "PG_VERSION").exists():
            self._pg("initdb", "-D", str(self.data_dir), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    @property
    def running(self) -> bool:
        return self._pg("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def start(self) -> PostgresCluster:
        """Start the server (initialising the cluster on first use); a no-op when running."""
        self.init()
        if self.running:
            return self
        options = f"-p {self.port} -k {self.base_dir} -c listen_addresses={self.host} -c fsync=off"
        self._pg("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (disconnect clients, clean shutdown) or ``immediate`` (a crash)."""
        if self.running:
            self._pg("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for ``dbname`` over TCP."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True, connect_timeout=10
        ) as connection:
            connection.execute(sql)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (default ``test_<random>``); returns its name."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting its clients first."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        """Stop the server and delete its directory."""
        try:
            self.stop("fast")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)
