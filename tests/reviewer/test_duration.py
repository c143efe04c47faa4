"""One parser for durations and points in time, shared by alert, drift, export and the app."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import click
import pytest
from click.testing import CliRunner

from reviewer.cli import cli
from reviewer.duration import Duration, PointInTime, format_duration, parse_duration, parse_time

NOW = datetime(2026, 11, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0), ("30s", 30.0), ("15m", 900.0), ("36h", 129_600.0), ("7d", 604_800.0), ("2w", 1_209_600.0),
        ("1.5h", 5400.0), ("1h30m", 5400.0), ("1d12h", 129_600.0), (" 2W ", 1_209_600.0), ("7 d", 604_800.0),
    ],
    ids=["bare", "s", "m", "h", "d", "w", "fraction", "compound", "days-hours", "upper-and-spaces", "space"],
)
def test_parse_duration_accepts_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0d", "-1h", "7 days", "1y", "h", "1h-30m", "soon"])
def test_parse_duration_refuses_the_rest(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a duration such as 30s, 15m, 36h, 7d, 2w"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(604_800, "1w"), (1_209_600, "2w"), (86_400, "1d"), (129_600, "36h"), (5400, "90m"), (45, "45s"), (1.5, "1.5s")],
)
def test_format_duration_reads_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=timezone.utc)),
        ("2026-11-01T12:30:00Z", datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc)),
        ("2026-11-01T14:30:00+02:00", datetime(2026, 11, 1, 12, 30, tzinfo=timezone.utc)),
        ("36h", NOW - timedelta(hours=36)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1d12h", NOW - timedelta(hours=36)),
    ],
    ids=["date", "zulu", "offset", "hours-ago", "weeks-ago", "compound-ago"],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026", "90", "0d"])
def test_parse_time_refuses_words_and_bare_numbers(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_time(text, now=NOW)


def test_param_types() -> None:
    assert Duration().convert("2w", None, None) == timedelta(weeks=2)
    assert Duration().convert(timedelta(hours=1), None, None) == timedelta(hours=1)
    with pytest.raises(click.BadParameter):
        Duration().convert("2 weeks", None, None)
    assert PointInTime().convert("2026-11-01", None, None) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert PointInTime().convert(datetime(2026, 11, 1), None, None) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    moment = PointInTime().convert("1h", None, None)
    assert abs((datetime.now(timezone.utc) - timedelta(hours=1) - moment).total_seconds()) < 60


def test_alert_takes_weeks(sqlite_url: str) -> None:
    # `--since 2w` worked for export while `alert --baseline 2w` was refused.
    result = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--window", "1w", "--baseline", "2w",
                                      "--now", "2026-11-29T00:00:00+00:00", "--json"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.output)
    assert report["current"] == "[2026-11-22T00:00:00+00:00, 2026-11-29T00:00:00+00:00)"
    assert report["baseline"] == "[2026-11-08T00:00:00+00:00, 2026-11-22T00:00:00+00:00)"


def test_alert_now_takes_the_same_forms_as_drift_and_export(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--window", "1d", "--now", "2026-11-29", "--json"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.output)["current"] == "[2026-11-28T00:00:00+00:00, 2026-11-29T00:00:00+00:00)"
    result = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--window", "1d", "--now", "2d", "--json"])
    assert result.exit_code in (0, 1), result.output
    end = datetime.fromisoformat(json.loads(result.output)["current"].split(", ")[1].rstrip(")"))
    assert abs((datetime.now(timezone.utc) - timedelta(days=2) - end).total_seconds()) < 60
    result = CliRunner().invoke(cli, ["alert", "--db", sqlite_url, "--now", "yesterday"])
    assert result.exit_code == 1 and "--now: 'yesterday' is neither an ISO 8601 date/time" in str(result.exception)
