"""The alert table means the same for every kind, fits 80 columns, and links to the app on the alert's windows."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from reviewer.alerts import AlertRules, evaluate
from reviewer.alerts.state import apply_checks, deliver_pending
from reviewer.alerts.table import Figures, figures, format_p, render_table
from reviewer.cli import cli
from reviewer.links import WindowQuery
from tests.reviewer.test_alerts import NOW, Webhook, _fill, _windows, store, webhook  # noqa: F401 - fixtures

APP = "https://review.example.com/tastevin"


def _drifting(engine: Engine) -> None:
    """The model mix changes in the last 12 hours: request_model drifts (PSI), and so do the numbers."""
    _fill(engine, start=NOW - timedelta(hours=12), hours=12, n=200, pass_rate=0.9, model="claude-haiku-4-5",
          offset=20_000)


def test_drift_rows_put_the_test_under_p_value_and_the_effect_under_statistic(store: Engine) -> None:  # noqa: F811
    _drifting(store)
    checks = {c.key: c for c in evaluate(store, **_windows(), rules=AlertRules(kinds=("drift",), min_samples=20))}
    model = checks["drift:request_model"]
    assert model.firing is True and model.p_value is not None and model.p_adjusted is not None
    assert model.observed == model.statistic["effects"]["psi"] and model.expected == 0.1
    cells = figures("drift", model.statistic, observed=model.observed, expected=model.expected,
                    p_value=model.p_value).cells()
    assert cells[0].startswith("PSI ") and cells[1] == "≥ 0.1"
    assert cells[2] == format_p(model.p_adjusted) and cells[3] == "0.01"  # adjusted p against the level
    numeric = [c for c in checks.values() if c.statistic["test"] == "ks" and c.p_value is not None]
    assert numeric, "a numeric feature tested with KS"
    for check in numeric:
        assert check.statistic["effects"].keys() & {"wasserstein_normed", "wasserstein"}  # the size, besides D
        assert 0 <= check.statistic["statistic"] <= 1


@pytest.mark.parametrize(("kind", "statistic", "observed", "expected", "p_value", "cells"), [
    ("score_drop", {"min_drop": 0.05, "alpha": 0.01}, 0.13, 1.0, 7.2e-9, ("-87.0 pts", "≤ -5.0 pts", "7.2e-09", "0.01")),
    ("score_drop", {"min_drop": 0.05, "alpha": 0.01}, None, None, None, ("—", "≤ -5.0 pts", "—", "0.01")),
    ("drift", {"results": [{"method": "psi", "value": 0.0396, "threshold": 0.1, "drifted": False},
                           {"method": "jensen_shannon", "value": 0.2, "threshold": 0.1, "drifted": True}]},
     0.2, 0.1, None, ("JS 0.2", "≥ 0.1", "—", "—")),
    ("drift", {"results": [{"method": "ks", "value": 0.00001413, "threshold": 0.05, "statistic": 0.4117,
                            "drifted": True}]}, 0.4117, None, 0.00001413, ("KS D 0.412", "—", "1.4e-05", "0.05")),
    # stored before this table: the KS p-value was in observed; the results still say what it was
    ("drift", {"results": [{"method": "ks", "value": 0.00001413, "threshold": 0.05, "verdict": "drift"}]},
     0.00001413, 0.05, None, ("—", "—", "1.4e-05", "0.05")),
    ("drift", {"results": [{"method": "wasserstein_normed", "value": 0.31, "threshold": 0.1, "drifted": True}]},
     0.31, 0.1, None, ("W/σ 0.31", "≥ 0.1", "—", "—")),
    ("volume", {"ratio": 0.5, "alpha": 0.01}, 3.0, 120.0, 1.2e-40, ("ratio 0.03", "< 0.50", "1.2e-40", "0.01")),
    # corrected rows: the adjusted p-value against the level (alpha over the looks of --every)
    ("score_drop", {"min_drop": 0.05, "alpha": 0.01, "p_adjusted": 0.04, "level": 0.00102}, 0.8, 0.9, 0.004,
     ("-10.0 pts", "≤ -5.0 pts", "0.04", "0.001")),
    ("drift", {"effects": {"psi": 0.242, "jensen_shannon": 0.2}, "thresholds": {"psi": 0.1, "jensen_shannon": 0.1},
               "p_adjusted": 3e-9, "level": 0.01}, 0.242, 0.1, 1e-10, ("PSI 0.242", "≥ 0.1", "3.0e-09", "0.01")),
    ("judge_health", {"min_rise": 0.05, "p_adjusted": 0.002, "level": 0.01}, 0.3, 0.1, 0.0001,
     ("+20.0 pts", "≥ +5.0 pts", "0.002", "0.01")),
    ("judge_health", {"baseline": {}, "current": {}}, 1.0, 0.0, None, ("share 1.00", "—", "—", "—")),
], ids=["score-drop", "too-few", "drift-js", "drift-ks", "drift-ks-stored-before", "drift-wasserstein", "volume",
        "score-drop-corrected", "drift-test-and-effect", "judge-health", "judge-rules-only"])
def test_each_column_means_the_same_for_every_kind(kind: str, statistic: dict[str, object], observed: float | None,
                                                   expected: float | None, p_value: float | None,
                                                   cells: tuple[str, str, str, str]) -> None:
    assert figures(kind, statistic, observed=observed, expected=expected, p_value=p_value).cells() == cells


def test_p_values_are_never_cut() -> None:
    assert [format_p(p) for p in (0.52, 0.0031, 0.0001, 0.00001413, 3e-29, 0.0, None)] == [
        "0.52", "0.0031", "0.0001", "1.4e-05", "3.0e-29", "0", "—"]


def test_a_long_key_gets_a_line_of_its_own() -> None:
    long_key = "score_drop:" + "a-very-long-category-name-" * 3
    lines = render_table([("FIRING", long_key, Figures("-50.0 pts", "≤ -5.0 pts", "1.0e-10", "0.01"), "why"),
                          ("ok", "drift:app", Figures("PSI 0", "≥ 0.1"), None)])
    assert all(len(line) <= 80 for line in lines if long_key not in line)
    assert lines[1] == f"FIRING  {long_key}"
    assert lines[2].split() == ["-50.0", "pts", "≤", "-5.0", "pts", "1.0e-10", "0.01"]
    assert lines[3].strip() == "why" and lines[4].split()[:3] == ["ok", "drift:app", "PSI"]


def test_the_terminal_report_fits_80_columns_and_cuts_nothing(store: Engine, sqlite_url: str) -> None:  # noqa: F811
    _drifting(store)
    result = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--now", NOW.isoformat(), "--min-samples", "20"],
                                env={"TASTEVIN_APP_URL": ""})
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert lines[0] == "current  2026-11-19 12:00:00 → 2026-11-20 12:00:00 UTC"
    header = next(line for line in lines if line.startswith("state"))
    assert header.split() == ["state", "key", "statistic", "threshold", "p-value", "alpha"]
    checks = evaluate(store, **_windows(), rules=AlertRules(min_samples=20))
    for check in checks:
        row = next(line for line in lines if re.match(rf"\S+\s+{re.escape(check.key)}\s", line))
        for cell in figures(check.kind, check.statistic, observed=check.observed, expected=check.expected,
                            p_value=check.p_value).cells():
            assert cell in row, (check.key, cell, row)
    billing = lines.index(next(line for line in lines if " score_drop:billing " in line))
    p_adjusted = next(c.p_adjusted for c in checks if c.key == "score_drop:billing")  # Holm over the family
    assert lines[billing].split()[2:] == ["-10.0", "pts", "≤", "-5.0", "pts", format_p(p_adjusted), "0.01"]
    assert any(line.startswith("holm correction over ") for line in lines[:4])
    assert lines[billing + 1].startswith("        billing: pass rate 80.0%")  # the message, wrapped under it
    assert "review app" not in result.output  # no app URL, no link


def test_the_report_and_the_webhook_link_to_the_app_on_the_alerts_windows(
    store: Engine, sqlite_url: str, webhook: Webhook,  # noqa: F811
) -> None:
    args = ["alert", "--db", sqlite_url, "--now", NOW.isoformat(), "--check", "score_drop", "--min-samples", "25",
            "--webhook-url", webhook.url]
    result = CliRunner().invoke(cli, args, env={"TASTEVIN_APP_URL": APP})
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("review app")]
    link = line.removeprefix("review app (score_drop): ")
    assert link.startswith(f"{APP}/categories?start=2026-11-19T12:00:00Z&end=2026-11-20T12:00:00Z")
    query = dict(parse_qsl(urlsplit(link).query))
    current, baseline = _windows().values()
    assert WindowQuery.from_params(query).resolve(NOW) == ((current.start, current.end),
                                                          (baseline.start, baseline.end))
    assert (query["min_samples"], query["alpha"]) == ("25", "0.01")

    body = next(b for b in webhook.bodies if b["tastevin"]["key"] == "score_drop:billing")
    assert body["tastevin"]["link"] == link
    assert body["text"].endswith(f" <{link}|Open in the review app>")
    assert body["blocks"][0]["text"]["text"] == body["text"]


def test_no_app_url_no_link_in_the_webhook(store: Engine, webhook: Webhook) -> None:  # noqa: F811
    apply_checks(store, evaluate(store, **_windows(), rules=AlertRules(kinds=("score_drop",))),
                 cooldown=timedelta(hours=1), webhook=True)
    assert len(deliver_pending(store, webhook.url, backoff_s=0)) == 2
    assert all(b["tastevin"]["link"] is None and "review app" not in b["text"] for b in webhook.bodies)
