"""The ``tastevin`` command line: one entry point, every command with ``--help``.

Configuration order for every command: flags, then ``TASTEVIN_*`` environment
variables, then defaults.
"""

from __future__ import annotations

import signal
import sys
import time

import click

from .errors import TastevinError
from .broker import DEFAULT_STORAGE, EmbeddedBroker
from .store import DB_URL_ENV, DEFAULT_DB_URL


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tastevin")
def cli() -> None:
    """Tastevin: sample live LLM calls, judge them offline, see where quality moved."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="TASTEVIN_BROKER_HOST",
              help="Address to listen on and advertise to clients.")
@click.option("--port", default=9092, show_default=True, type=click.IntRange(1, 65535),
              envvar="TASTEVIN_BROKER_PORT", help="Port to listen on.")
@click.option("--storage", default=DEFAULT_STORAGE, show_default=True, envvar="TASTEVIN_BROKER_STORAGE",
              help="tansu storage engine URL: memory://tansu/ (forgets on exit) or s3://BUCKET/ "
                   "(with AWS_ENDPOINT etc. set).")
def broker(host: str, port: int, storage: str) -> None:
    """Run the embedded development Kafka broker (tansu) until Ctrl-C.

    For development and the demo only; use a real Kafka cluster in production.
    """
    embedded = EmbeddedBroker(host=host, port=port, storage=storage)
    embedded.start()
    click.echo(f"tansu broker listening on {embedded.bootstrap_servers} (storage {storage}); Ctrl-C to stop")
    click.echo(f"  export TASTEVIN_KAFKA_BOOTSTRAP_SERVERS={embedded.bootstrap_servers}")
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        assert embedded.process is not None
        while not stop and embedded.process.poll() is None:
            time.sleep(0.2)
        code = embedded.process.returncode if embedded.process is not None else None
    finally:
        embedded.stop()
    if code not in (None, 0):
        raise TastevinError(f"the broker exited with code {code}")


# --- tastevin db: the store's schema -------------------------------------------------------
# The store is imported inside the commands: SQLAlchemy and Alembic take seconds to import.

_db_option = click.option(
    "--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
    help="Store URL: sqlite:///FILE (a file in the working directory) or postgresql://user:password@host:5432/dbname.",
)


@cli.group()
def db() -> None:
    """Manage the store's schema (SQLite file or PostgreSQL).

    A SQLite file is upgraded automatically when a command opens it; a PostgreSQL
    database is shared and only upgraded by `tastevin db upgrade`.
    """


@db.command("upgrade")
@_db_option
def db_upgrade(db_url: str) -> None:
    """Migrate the store to this tastevin's schema (creates it if empty); safe to re-run.

    Concurrent runs against one database are serialised: the second waits, then finds
    nothing to do. Prints the revision the database is at afterwards.
    """
    from .store import display_url, make_engine
    from .store.migrate import upgrade_from

    engine = make_engine(db_url)
    try:
        before, after = upgrade_from(engine)
    finally:
        engine.dispose()
    where = display_url(engine.url)
    if before == after:
        click.echo(f"{where}: already at revision {after}")
    else:
        click.echo(f"{where}: upgraded from {before or 'an empty database'} to revision {after}")


@db.command("current")
@_db_option
def db_current(db_url: str) -> None:
    """Print the store's schema revision and whether it is this tastevin's head."""
    from .store import display_url, make_engine
    from .store.migrate import current_revision, head_revision

    engine = make_engine(db_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    where = display_url(engine.url)
    if current == head:
        click.echo(f"{where}: at revision {current} (head)")
    else:
        click.echo(f"{where}: at revision {current or 'none (no tastevin schema yet)'}; this tastevin needs "
                   f"{head}: run `tastevin db upgrade --db {where}`")


def _register_commands() -> None:
    from judge.cli_judge import judge, runs
    from judge.cli_rubrics import rubrics

    from .alerts.command import alert
    from .app.command import review
    from .cli_drift import drift
    from .cli_export import export
    from .cli_golden import golden
    from judge.demo.command import demo
    from .ingest.command import ingest

    cli.add_command(alert)
    cli.add_command(demo)
    cli.add_command(drift)
    cli.add_command(export)
    cli.add_command(review)
    cli.add_command(ingest)
    cli.add_command(judge)
    cli.add_command(golden)  # H9 (judge trust); also the `tastevin.commands` entry point in pyproject
    cli.add_command(runs)
    cli.add_command(rubrics)


_register_commands()


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except TastevinError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
