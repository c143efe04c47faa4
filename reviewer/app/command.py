"""``tastevin review``: start the Streamlit review app on the store (registered in ``reviewer.cli``).

The command checks everything it can before starting anything — the store URL and
schema, the bind policy of :mod:`reviewer.app.auth`, the port — then runs
``python -m streamlit run reviewer/app/main.py`` as a child process, hands it the
settings through ``TASTEVIN_*`` environment variables (never on its command line, where
other users could read a password), prints the URL, forwards SIGINT and SIGTERM to it
and exits with its exit code (128 + N when a signal N ended it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType

import click

from ..errors import ConfigError
from .._process import die_with_parent
from ..store import DB_URL_ENV, DEFAULT_DB_URL
from .auth import PASSWORD_ENV, AuthMode, default_secrets_files, resolve_auth
from .settings import AUTH_ENV, BIND_ENV

__all__ = ["ENTRY_FILE", "review", "streamlit_command"]

ENTRY_FILE = Path(__file__).with_name("main.py")


def streamlit_command(*, host: str, port: int, headless: bool) -> list[str]:
    """The child's argv: ``python -m streamlit run`` on the entry file, bound to ``host:port``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(ENTRY_FILE),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.UsageError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port "
                                   "or stop what is using it") from exc


@click.command()
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.")
@click.option("--host", default="127.0.0.1", show_default=True, envvar=BIND_ENV, show_envvar=True,
              help="Address to listen on. Anything but a loopback address requires a password or OIDC login.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535),
              envvar="TASTEVIN_REVIEW_PORT", show_envvar=True, help="Port to listen on.")
@click.option("--password", default=None, envvar=PASSWORD_ENV, show_envvar=True, metavar="SECRET",
              help="Password asked before any page renders (never printed). Prefer the environment variable: "
                   "a flag shows in the process list.")
@click.option("--no-browser", "--headless", "headless", is_flag=True, envvar="TASTEVIN_REVIEW_HEADLESS",
              show_envvar=True, help="Do not open a browser (for servers).")
@click.pass_context
def review(ctx: click.Context, db_url: str, host: str, port: int, password: str | None, headless: bool) -> None:
    """Start the review app (Streamlit) on the store, until Ctrl-C.

    Pages: overview, categories, drift, samples, review (record verdicts, judge-human
    agreement), runs, alerts, export. Bound to 127.0.0.1 by default; binding to another
    address requires TASTEVIN_REVIEW_PASSWORD or an [auth] section (OIDC, st.login) in
    .streamlit/secrets.toml.
    """
    from ..store import display_url, ensure_schema, make_engine

    try:
        mode = resolve_auth(host=host, password=password, secrets_files=default_secrets_files())
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()
    _check_port(host, port)

    env = dict(os.environ)
    env.update({DB_URL_ENV: db_url, AUTH_ENV: mode.value, BIND_ENV: host})
    if mode is AuthMode.PASSWORD:
        assert password is not None
        env[PASSWORD_ENV] = password
    else:
        env.pop(PASSWORD_ENV, None)

    click.echo(f"Tastevin review: {_url(host, port)}  (store {display_url(engine.url)}; login: {mode.value}); "
               "Ctrl-C to stop")
    sys.stdout.flush()
    # A session of its own: a terminal's Ctrl-C reaches us only, and we forward it once.
    child = subprocess.Popen(streamlit_command(host=host, port=port, headless=headless), env=env,
                             start_new_session=True, preexec_fn=die_with_parent)

    def forward(signum: int, frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:  # we were interrupted by something other than a signal
            child.terminate()
            child.wait()
    ctx.exit(128 - code if code < 0 else code)
