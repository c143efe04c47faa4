"""The ``tastevin`` command line: one entry point, every command with ``--help``.

Configuration order for every command: flags, then ``TASTEVIN_*`` environment
variables, then defaults.
"""

from __future__ import annotations

import signal
import sys
import time

import click

from ._errors import TastevinError
from .broker import DEFAULT_STORAGE, EmbeddedBroker


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "TASTEVIN"})
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


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except TastevinError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
