"""`tastevin alert`: score drop, drift and volume fire, deliver, retry, resolve, and respect the cooldown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from reviewer.alerts import AlertRules, evaluate
from reviewer.alerts.state import apply_checks, deliver_pending
from reviewer.cli import cli
from reviewer.queries import TimeWindow
from reviewer.store import Alert, Judgment, ensure_schema, make_engine, refresh_sample_verdicts
from tests.judge.conftest import seed
from tests.records import make_record

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


class Webhook:
    """A local receiver; ``fail_first`` requests answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_first = fail_first
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if hook.fail_first > 0:
                    hook.fail_first -= 1
                    self.send_response(500)
                else:
                    hook.bodies.append(body)
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/SECRET"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def _fill(engine: Engine, *, start: datetime, hours: float, n: int, pass_rate: float, category: str = "billing",
          model: str = "claude-sonnet-4-6", offset: int = 0) -> None:
    step = timedelta(hours=hours) / n
    records = [make_record(offset + i, category=category, request_model=model,
                           ts=(start + i * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ")) for i in range(n)]
    ids = seed(engine, records)
    passing = round(n * pass_rate)
    rows = [{"sample_id": sid, "rubric_name": "support", "rubric_version": "v1", "judge_model": "none",
             "verdict": "pass" if i < passing else "fail", "criteria": [], "checks": [],
             "created_at": NOW} for i, sid in enumerate(ids)]
    with engine.begin() as connection:
        connection.execute(Judgment.__table__.insert(), rows)  # type: ignore[attr-defined]
        refresh_sample_verdicts(connection, ids)


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    # Baseline: the 7 days before the last 24 h, 90% pass; current day: 60% pass.
    _fill(engine, start=NOW - timedelta(days=8), hours=7 * 24, n=400, pass_rate=0.9)
    _fill(engine, start=NOW - timedelta(days=1), hours=24, n=100, pass_rate=0.6, offset=10_000)
    yield engine
    engine.dispose()


def _windows(now: datetime = NOW) -> dict[str, TimeWindow]:
    current = TimeWindow(now - timedelta(days=1), now)
    return {"current": current, "baseline": TimeWindow(current.start - timedelta(days=7), current.start)}


def test_score_drop_fires_per_category_and_overall(store: Engine) -> None:
    checks = evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",)))
    by_key = {c.key: c for c in checks}
    assert set(by_key) == {"score_drop:billing", "score_drop:(all)"}
    billing = by_key["score_drop:billing"]
    assert billing.firing is True
    assert (billing.observed, billing.expected) == (pytest.approx(0.6), pytest.approx(0.9))
    assert billing.p_value is not None and billing.p_value < 1e-6
    assert billing.statistic["baseline"]["scored"] == 400 and billing.statistic["current"]["passed"] == 60
    assert "billing: pass rate 60.0%" in billing.message and "-30.0 points" in billing.message
    # Not firing when the drop is smaller than asked for.
    lenient = evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",), min_drop=0.4))
    assert all(c.firing is False for c in lenient)


def test_too_few_samples_says_so_and_changes_nothing(store: Engine) -> None:
    checks = evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",), min_samples=500))
    assert all(c.firing is None and "too few samples" in c.message for c in checks)


def test_volume_fires_when_samples_stop_arriving(store: Engine) -> None:
    later = NOW + timedelta(days=2)  # nothing arrived in the last day
    checks = evaluate(store, current=TimeWindow(later - timedelta(days=1), later),
                      baseline=TimeWindow(later - timedelta(days=8), later - timedelta(days=1)),
                      rules=AlertRules(kinds=("volume",)))
    overall = next(c for c in checks if c.key == "volume:(all)")
    assert overall.firing is True and overall.observed == 0 and overall.expected == pytest.approx(400 / 6 * 1, rel=0.2)
    steady = evaluate(store, **_windows(), rules=AlertRules(kinds=("volume",)))
    assert next(c for c in steady if c.key == "volume:(all)").firing is False


def test_drift_fires_when_the_model_mix_changes(store: Engine) -> None:
    _fill(store, start=NOW - timedelta(hours=12), hours=12, n=200, pass_rate=0.9, model="claude-haiku-4-5",
          offset=20_000)
    checks = {c.key: c for c in evaluate(store, **_windows(), rules=AlertRules(kinds=("drift",)))}
    assert checks["drift:request_model"].firing is True
    assert checks["drift:app"].firing is False
    assert "psi" in checks["drift:request_model"].message


def test_fire_deliver_stay_quiet_resolve_and_cool_down(store: Engine, webhook: Webhook) -> None:
    rules = AlertRules(kinds=("score_drop",))
    checks = evaluate(store, **_windows(), rules=rules)
    first = apply_checks(store, checks, cooldown=timedelta(hours=1), webhook=True)
    assert sorted(a.key for a in first.fired) == ["score_drop:(all)", "score_drop:billing"]
    delivered = deliver_pending(store, webhook.url, backoff_s=0)
    assert len(delivered) == 2 and len(webhook.bodies) == 2
    body = next(b for b in webhook.bodies if b["tastevin"]["key"] == "score_drop:billing")
    assert body["text"].startswith(":rotating_light: Tastevin — Score drop: billing: pass rate 60.0%")
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"

    # Evaluated again while still failing: nothing new, nothing re-sent.
    again = apply_checks(store, evaluate(store, **_windows(), rules=rules), cooldown=timedelta(hours=1), webhook=True)
    assert again.fired == [] and len(again.still_firing) == 2
    assert deliver_pending(store, webhook.url, backoff_s=0) == []

    # Quality recovers: resolved. It fails again at once: cooling down, no new alert.
    recovered = [c for c in evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",), min_drop=0.5))]
    resolved = apply_checks(store, recovered, cooldown=timedelta(hours=1), webhook=True)
    assert len(resolved.resolved) == 2
    cooling = apply_checks(store, checks, cooldown=timedelta(hours=1), webhook=True)
    assert cooling.fired == []
    after = apply_checks(store, checks, cooldown=timedelta(0), webhook=True)
    assert len(after.fired) == 2
    with Session(store) as session:
        statuses = sorted((a.key, a.status) for a in session.exec(select(Alert)))
    assert statuses == [("score_drop:(all)", "firing"), ("score_drop:(all)", "resolved"),
                        ("score_drop:billing", "firing"), ("score_drop:billing", "resolved")]


def test_a_failing_webhook_is_retried_then_recorded(store: Engine) -> None:
    hook = Webhook(fail_first=4)
    try:
        apply_checks(store, evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",))),
                     cooldown=timedelta(hours=1), webhook=True)
        first = deliver_pending(store, hook.url, attempts_per_call=2, backoff_s=0)
        assert first == []  # 2 alerts x 2 attempts, all answered 500
        with Session(store) as session:
            alerts = session.exec(select(Alert)).all()
        assert {(a.delivery_status, a.delivery_attempts, a.last_delivery_error) for a in alerts} == {
            ("failed", 2, "HTTP 500 Internal Server Error")}
        assert all("SECRET" not in (a.last_delivery_error or "") for a in alerts)
        second = deliver_pending(store, hook.url, attempts_per_call=2, backoff_s=0)
        assert len(second) == 2 and len(hook.bodies) == 2
    finally:
        hook.close()
    unreachable = deliver_pending(store, "http://127.0.0.1:1/hook", backoff_s=0)
    assert unreachable == []


def test_cli_exit_codes_json_and_webhook(store: Engine, sqlite_url: str, webhook: Webhook) -> None:
    args = ["alert", "--db", sqlite_url, "--now", NOW.isoformat(), "--check", "score_drop"]
    fired = CliRunner().invoke(cli, [*args, "--webhook-url", webhook.url, "--json"])
    assert fired.exit_code == 1, fired.output
    report = json.loads(fired.output)
    assert report["firing"] is True and sorted(report["fired"]) == ["score_drop:(all)", "score_drop:billing"]
    assert len(report["delivered"]) == 2 and "SECRET" not in fired.output
    still = CliRunner().invoke(cli, args)
    assert still.exit_code == 1 and "still firing: " in still.output and "FIRING" in still.output
    quiet = CliRunner().invoke(cli, [*args, "--min-drop", "0.5"])
    assert quiet.exit_code == 0 and "resolved: " in quiet.output
    bad = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--window", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output
