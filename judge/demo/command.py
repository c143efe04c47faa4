"""``tastevin demo``: the whole pipeline on one machine, on embedded defaults.

1. a SQLite store (a temporary file, or ``--db`` / ``TASTEVIN_DB_URL``) and the embedded
   broker (tansu, in memory) with the ``tastevin.samples`` topic;
2. ``tastevin ingest`` and ``tastevin judge --every 10s`` as child processes — the same
   commands as in production;
3. the simulated support app (:class:`~judge.demo.SupportTraffic`) calling the
   simulated model through the real ``sampler.instrument``, every call sampled;
   halfway through, the regression: shipping replies start failing their rule checks
   and the mix shifts towards long billing conversations;
4. once the traffic ends and the store has caught up: a last judge run and
   ``tastevin alert`` comparing the time after the regression with the time before
   (a failing category, drift, an alert row);
5. ``tastevin review`` on the store; a link to it on those two windows (the traffic
   before the regression as the baseline, after it as the current window) is printed
   and opened in a browser unless ``--no-browser``. Ctrl-C stops everything.

The windows are whole seconds, so the link reads well: the regression is switched on
(``SupportTraffic.inject_regression``) at the first whole second after half the
duration, and that instant is where the baseline ends and the current window starts.

Every process started is stopped on the way out, whatever happens; the store is removed
unless ``--keep`` (or ``--db``) says to keep it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import click

from reviewer.errors import TastevinError
from reviewer.links import app_link
from reviewer.store import DB_URL_ENV

TOPIC = "tastevin.samples"
CALLS_PER_S = 20.0
ALERT_MIN_SAMPLES = 20  # the demo's windows are short: fewer samples than production's 30 per category
ALERT_ALPHA = 0.01


def _echo(line: str) -> None:
    click.echo(line, err=True)


def _tastevin(*args: str) -> list[str]:
    return [sys.executable, "-m", "reviewer.cli", *args]


class _Children:
    """Child processes, all stopped (SIGTERM, then SIGKILL) when the demo ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.processes.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.processes:
            if process.poll() not in (None, 0):
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise TastevinError(f"`tastevin {name}` exited with code {process.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for _, process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _floor_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _ceil_second(moment: datetime) -> datetime:
    floored = moment.replace(microsecond=0)
    return floored if floored == moment else floored + timedelta(seconds=1)


def _count(engine: Any, table: Any) -> int:
    import sqlalchemy as sa

    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@contextmanager
def _signals_stop(stop: threading.Event) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: object) -> None:
        _echo("stopping …")
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@click.command()
@click.option("--duration", "duration_s", type=click.FloatRange(10), default=90.0, show_default=True,
              metavar="SECONDS", help="How long the simulated app sends traffic; the regression starts halfway.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Port of the review app.")
@click.option("--no-browser", is_flag=True, help="Do not open the review app in a browser.")
@click.option("--keep", is_flag=True, help="Keep the store (and the logs) for a second look; print where.")
@click.option("--db", "db_url", default=None, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL. Default: a fresh SQLite file in a temporary directory (removed unless --keep).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated traffic.")
@click.option("--judge-budget-usd", type=click.FloatRange(0, min_open=True), default=0.5, show_default=True,
              help="When ANTHROPIC_API_KEY is set, the budget of each judge run in US dollars.")
@click.option("--exit-after-setup", is_flag=True, hidden=True,
              help="Stop once the review app answers (for tests).")
def demo(duration_s: float, port: int, no_browser: bool, keep: bool, db_url: str | None, seed: int,
         judge_budget_usd: float, exit_after_setup: bool) -> None:
    """Run the whole pipeline locally: simulated app → sampler → Kafka → ingest → judge → alerts → review app.

    Nothing to configure: an embedded broker, a SQLite store and a simulated support
    app and model. With ANTHROPIC_API_KEY set, the judge also scores the LLM criteria
    (at most --judge-budget-usd per run); without it, the rubrics' rule checks score.
    Halfway through, a regression is injected so the review app has a failing
    category, drift and a fired alert to show. Ctrl-C stops every process it started.
    """
    import sampler
    from judge.rubric import example_rubrics_dir

    from reviewer.broker import EmbeddedBroker, free_port
    from reviewer.store import Alert, Judgment, Sample, display_url, ensure_schema, make_engine
    from . import APP_NAME, REGRESSED_CATEGORY, SimulatedModel, SupportTraffic, TrafficSettings

    stop = threading.Event()
    work_dir = Path(tempfile.mkdtemp(prefix="tastevin-demo-"))
    url = db_url or f"sqlite:///{work_dir / 'tastevin.db'}"
    children = _Children(work_dir)
    env = dict(os.environ, TASTEVIN_DB_URL=url, PYTHONUNBUFFERED="1")
    with ExitStack() as cleanup, _signals_stop(stop):
        cleanup.callback(lambda: None if keep or db_url else shutil.rmtree(work_dir, ignore_errors=True))
        engine = make_engine(url)
        cleanup.callback(engine.dispose)
        ensure_schema(engine)

        broker = cleanup.enter_context(EmbeddedBroker(log_path=work_dir / "broker.log"))
        cleanup.callback(children.stop_all)  # before the broker goes
        broker.create_topic(TOPIC, partitions=2)
        env["TASTEVIN_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        _echo(f"broker {broker.bootstrap_servers}, store {display_url(url)}, logs in {work_dir}")

        children.start("ingest", _tastevin("ingest", "--topic", TOPIC, "--session-timeout-ms", "2000",
                                           "--progress-every", "10"), env)
        judge_args = ["judge", "--rubrics", str(example_rubrics_dir()), "--budget-usd", str(judge_budget_usd)]
        children.start("judge", _tastevin(*judge_args, "--every", "10s"), env)
        if not os.environ.get("ANTHROPIC_API_KEY"):
            _echo("no ANTHROPIC_API_KEY: the judge scores the rubrics' rule checks; LLM criteria stay unscored")

        sampler.init(bootstrap_servers=broker.bootstrap_servers, topic=TOPIC, rate=1.0, app=APP_NAME,
                     env="demo", release="demo")
        cleanup.callback(sampler.shutdown)
        model = cleanup.enter_context(SimulatedModel())
        settings = TrafficSettings(calls_per_s=CALLS_PER_S, duration_s=duration_s, seed=seed)
        traffic = SupportTraffic(model.url, settings)
        started_at = datetime.now(timezone.utc)
        traffic.start()
        cleanup.callback(traffic.stop)
        # The regression starts on a whole second: the windows (and the app's link) are whole seconds.
        regression_at = _ceil_second(started_at + timedelta(seconds=duration_s / 2))
        delay_s = (regression_at - datetime.now(timezone.utc)).total_seconds()
        switch = threading.Timer(delay_s, traffic.inject_regression)
        switch.daemon = True
        switch.start()
        cleanup.callback(switch.cancel)
        _echo(f"simulated support app: {CALLS_PER_S:.0f} calls/s for {duration_s:.0f} s; "
              f"regression in '{REGRESSED_CATEGORY}' at {(regression_at - started_at).total_seconds():.0f} s")
        while not traffic.wait(5.0):
            if stop.is_set():
                raise SystemExit(130)
            children.check()
            progress = traffic.progress()
            _echo(f"t={progress.elapsed_s:4.0f}s  calls {progress.finished_calls:,}  stored {_count(engine, Sample):,}  "
                  f"judged {_count(engine, Judgment):,}"
                  + ("  [regression on]" if progress.regression_from_call is not None else ""))
        ended_at = datetime.now(timezone.utc)
        sampler.flush(15.0)
        sent = sampler.stats()["sent"]

        # Let ingest catch up, then judge what is left and evaluate the alerts.
        deadline = time.monotonic() + 60
        while _count(engine, Sample) < sent and time.monotonic() < deadline and not stop.is_set():
            children.check()
            time.sleep(0.5)
        _echo(f"stored {_count(engine, Sample):,} of {sent:,} sampled calls; judging the rest …")
        subprocess.run(_tastevin(*judge_args, "--once"), env=env, check=False, stdout=subprocess.DEVNULL)
        # The windows it evaluates and the app shows: before the regression, and after it.
        baseline = (_floor_second(started_at), regression_at)
        current = (regression_at, _ceil_second(ended_at))
        review_port = port if port else free_port()
        app_url = f"http://127.0.0.1:{review_port}"
        link = app_link(app_url, current=current, baseline=baseline, min_samples=ALERT_MIN_SAMPLES,
                        alpha=ALERT_ALPHA)
        current_s = (current[1] - current[0]).total_seconds()
        baseline_s = (baseline[1] - baseline[0]).total_seconds()
        alert = subprocess.run(
            _tastevin("alert", "--now", current[1].isoformat(), "--window", f"{current_s:.0f}s", "--baseline",
                      f"{baseline_s:.0f}s", "--min-samples", str(ALERT_MIN_SAMPLES), "--alpha", str(ALERT_ALPHA),
                      "--cooldown", "1s", "--app-url", app_url),
            env=env, capture_output=True, text=True, check=False,
        )
        if alert.returncode == 2:
            raise TastevinError(f"tastevin alert failed: {alert.stderr.strip()}")
        _echo(alert.stdout.rstrip())
        _echo(f"{_count(engine, Judgment):,} judgments, {_count(engine, Alert)} alerts")

        children.start("review", _tastevin("review", "--port", str(review_port), "--no-browser"), env)
        _wait_for_http(app_url, children, stop)
        click.echo(f"review app: {link}")
        sys.stdout.flush()
        if not no_browser:
            webbrowser.open(link)
        if keep or db_url:
            _echo(f"the store stays at {display_url(url)}")
        if exit_after_setup:
            return
        _echo("Ctrl-C to stop")
        while not stop.wait(1.0):
            children.check()


def _wait_for_http(url: str, children: _Children, stop: threading.Event, timeout_s: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        children.check()
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310 - localhost
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TastevinError(f"the review app did not answer at {url} within {timeout_s:.0f} s")
