"""``tastevin alert``: evaluate the alert rules, record and deliver alerts, exit non-zero when firing."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from ..duration import Duration, parse_time
from ..errors import ConfigError
from ..links import APP_URL_ENV
from ..store import DB_URL_ENV, DEFAULT_DB_URL

KIND_CHOICES = ("score_drop", "drift", "volume", "judge_health")
CORRECTION_CHOICES = ("holm", "bh", "none")


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc)
    try:  # the same forms as drift --now and export --since
        return parse_time(value)
    except click.BadParameter as exc:
        raise ConfigError(f"--now: {exc.message}") from exc


def _check_json(check: Any, app_url: str | None) -> dict[str, Any]:
    from .table import alert_link

    return {"kind": check.kind, "key": check.key, "firing": check.firing, "message": check.message,
            "observed": check.observed, "expected": check.expected, "p_value": check.p_value,
            "statistic": check.statistic, "p_adjusted": check.p_adjusted, "detectable": check.detectable,
            "link": alert_link(app_url, check.kind, check.statistic)}


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}"


def report_lines(checks: Any, current: Any, baseline: Any, *, app_url: str | None, width: int = 80,
                 rules: Any = None) -> list[str]:
    """The terminal report: the two windows, the correction, one table row per check (notes under the
    ones not ok), links."""
    from .table import alert_link, figures, render_table

    lines = [f"current  {_when(current.start)} → {_when(current.end)} UTC",
             f"baseline {_when(baseline.start)} → {_when(baseline.end)} UTC"]
    if rules is not None:
        family = sum(c.p_value is not None for c in checks)
        lines.append(f"{rules.correction} correction over {family} tests at α={rules.level:.2g}")
    lines.append("")
    rows = []
    for check in checks:
        state = {True: "FIRING", False: "ok", None: "n/a"}[check.firing]
        figure = figures(check.kind, check.statistic, observed=check.observed, expected=check.expected,
                         p_value=check.p_value)
        rows.append((state, check.key, figure, None if check.firing is False else check.message))
    lines += render_table(rows, width=width)
    links = {}
    for check in checks:
        if check.firing and check.kind not in links:
            links[check.kind] = alert_link(app_url, check.kind, check.statistic)
    if any(links.values()):
        lines.append("")
        lines += [f"review app ({kind}): {link}" for kind, link in links.items() if link]
    return lines


@click.command()
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.")
@click.option("--window", type=Duration(), default="24h", show_default=True, envvar="TASTEVIN_ALERT_WINDOW",
              show_envvar=True, help="The current window: this long, ending now (or at --now).")
@click.option("--baseline", type=Duration(), default="7d", show_default=True, envvar="TASTEVIN_ALERT_BASELINE",
              show_envvar=True, help="The baseline window: this long, just before the current window.")
@click.option("--now", "now_text", default=None, metavar="TIME",
              help="Evaluate as of this time instead of now (e.g. to replay a past incident): ISO 8601 "
                   "(naive is UTC) or ago (2d).")
@click.option("--check", "kinds", multiple=True, type=click.Choice(KIND_CHOICES), default=KIND_CHOICES,
              show_default=True, envvar="TASTEVIN_ALERT_CHECKS", show_envvar=True,
              help="Alert kinds to evaluate; repeat the flag for several (CI gate: --check score_drop).")
@click.option("--min-samples", type=click.IntRange(1), default=30, show_default=True,
              envvar="TASTEVIN_ALERT_MIN_SAMPLES", show_envvar=True,
              help="Scored samples needed in each window before a score or drift verdict is given.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.01,
              show_default=True, envvar="TASTEVIN_ALERT_ALPHA", show_envvar=True,
              help="Significance level of the evaluation's family of tests, after --correction.")
@click.option("--correction", type=click.Choice(CORRECTION_CHOICES), default="holm", show_default=True,
              envvar="TASTEVIN_ALERT_CORRECTION", show_envvar=True,
              help="Multiple-testing correction over one evaluation's checks: holm (family-wise error), "
                   "bh (Benjamini-Hochberg false-discovery rate) or none.")
@click.option("--min-drop", type=click.FloatRange(0, 1, max_open=True), default=0.05, show_default=True,
              envvar="TASTEVIN_ALERT_MIN_DROP", show_envvar=True,
              help="Smallest pass-rate drop that alerts, as a fraction (0.05 = 5 points).")
@click.option("--volume-min-ratio", type=click.FloatRange(0, 1, min_open=True), default=0.5, show_default=True,
              envvar="TASTEVIN_ALERT_VOLUME_MIN_RATIO", show_envvar=True,
              help="A volume alert fires when fewer than this share of the expected samples arrived.")
@click.option("--cooldown", type=Duration(), default="1h", show_default=True, envvar="TASTEVIN_ALERT_COOLDOWN",
              show_envvar=True, help="After a key resolves, it does not fire again for this long.")
@click.option("--webhook-url", default=None, envvar="TASTEVIN_ALERT_WEBHOOK_URL", show_envvar=True,
              help="Slack-compatible incoming webhook for new alerts (retried on failure). Never printed.")
@click.option("--app-url", default=None, envvar=APP_URL_ENV, show_envvar=True, metavar="URL",
              help="Base URL of the review app (e.g. https://review.example.com); the terminal report and the "
                   "webhook then link to its page on the alert's windows. Default: no links.")
@click.option("--every", type=Duration(), default=None, envvar="TASTEVIN_ALERT_EVERY", show_envvar=True,
              help="Evaluate on a schedule (e.g. 15m) until SIGINT/SIGTERM; default: once. Overlapping "
                   "windows test at the stricter level alpha / sqrt(window / every).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
def alert(
    db_url: str, window: timedelta, baseline: timedelta, now_text: str | None, kinds: tuple[str, ...],
    min_samples: int, alpha: float, correction: str, min_drop: float, volume_min_ratio: float, cooldown: timedelta,
    webhook_url: str | None, app_url: str | None, every: timedelta | None, as_json: bool,
) -> None:
    """Alert when a score drops, the traffic drifts, samples stop arriving or the judge breaks.

    Compares the current window with the baseline window before it. A firing condition
    is stored as an alert row and sent to the webhook once; it does not fire again while
    it is open, resolves when the condition clears, and stays quiet for --cooldown after.

    Exit code: 1 when any alert condition holds (new, still open or cooling down), 0 when
    none does, 2 on an error — so CI can gate on it, e.g.
    `tastevin alert --check score_drop --min-drop 0.05`.

    When verdicts in a window were made on rule checks alone (no LLM judge configured
    when they were judged), a note says so: their pass rates are not the rubrics'.
    """
    from ..queries import TimeWindow
    from ..rules_only import window_rules_only
    from ..store import ensure_schema, make_engine
    from ..trust import trust_by_rubric
    from .rules import AlertRules, evaluate, scheduled_looks
    from .state import apply_checks, deliver_pending

    webhook_url = webhook_url or None  # an empty variable (compose's ${VAR:-}) means none
    app_url = app_url or None
    try:
        rules = AlertRules(min_samples=min_samples, alpha=alpha, min_drop=min_drop, correction=correction,
                           volume_min_ratio=volume_min_ratio, kinds=tuple(kinds),
                           looks=scheduled_looks(window, every))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    engine = make_engine(db_url)
    ensure_schema(engine)
    stop = threading.Event()
    if every is not None:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())

    holding = False
    try:
        while True:
            end = _now(now_text)
            current = TimeWindow(end - window, end)
            before = TimeWindow(current.start - baseline, current.start)
            checks = evaluate(engine, current=current, baseline=before, rules=rules)
            rules_only = {"current": window_rules_only(engine, current), "baseline": window_rules_only(engine, before)}
            applied = apply_checks(engine, checks, cooldown=cooldown, webhook=webhook_url is not None)
            delivered = deliver_pending(engine, webhook_url, app_url=app_url) if webhook_url else []
            holding = any(check.firing for check in checks)
            if as_json:
                click.echo(json.dumps({
                    "current": str(current), "baseline": str(before), "firing": holding,
                    "rules_only": {name: {"judgments": counts.judgments, "rules_only": counts.rules_only}
                                   for name, counts in rules_only.items()},
                    "correction": rules.correction, "alpha": rules.alpha, "level": rules.level,
                    "family_size": sum(c.p_value is not None for c in checks),
                    "fired": [a.key for a in applied.fired], "still_firing": [a.key for a in applied.still_firing],
                    "resolved": [a.key for a in applied.resolved], "delivered": [a.key for a in delivered],
                    "checks": [_check_json(c, app_url) for c in checks],
                    # Raw vs corrected pass rate per rubric with audits (reviewer.trust).
                    "judge_trust": [t.to_dict() for t in trust_by_rubric(engine, current, min_samples=min_samples)
                                    if t.audited],
                }, default=str, indent=1))
            else:
                lines = report_lines(checks, current, before, app_url=app_url, rules=rules)
                for label, alerts in (("fired", applied.fired), ("still firing", applied.still_firing),
                                      ("resolved", applied.resolved)):
                    if alerts:
                        lines += textwrap.wrap(f"{label}: {', '.join(a.key for a in alerts)}", width=80,
                                               subsequent_indent="  ", break_on_hyphens=False)
                click.echo("\n".join(lines))
                if webhook_url:
                    click.echo(f"delivered to the webhook: {len(delivered)}")
                for name, counts in rules_only.items():
                    note = counts.note(f"in the {name} window")
                    if note:
                        click.echo(f"note: {note}")
            sys.stdout.flush()
            if every is None or stop.wait(every.total_seconds()):
                break
    finally:
        engine.dispose()
    if every is None and holding:
        raise SystemExit(1)
