"""`tastevin drift` through click's CliRunner, on real stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from reviewer.errors import ConfigError, StoreError, TastevinError
from reviewer.cli_drift import _DEFAULT_MAX_VALUES, _MIN_MAX_VALUES, DEPRECATED_FLAGS, drift, resolve_windows
from reviewer.queries import DEFAULT_MAX_VALUES, MIN_MAX_VALUES, TimeWindow, WindowError

from .conftest import T0, make_judgment, make_sample, store

AS_OF = T0 + timedelta(days=7)  # current window [T0, T0 + 7 d), reference the 7 days before


def _populate(engine: Engine) -> None:
    samples, judgments = [], []
    for i in range(40):
        ref = make_sample(T0 - timedelta(days=7) + timedelta(hours=i), latency_ms=float(100 + i))
        cur = make_sample(T0 + timedelta(hours=i), latency_ms=float(100 + i),
                          finish_reason="length" if i % 2 else "stop")
        samples += [ref, cur]
        judgments += [make_judgment(ref, "pass"), make_judgment(cur, "pass")]
    store(engine, samples, judgments)


def _invoke(*args: str, columns: int = 200, env: dict[str, str] | None = None) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(drift, list(args), env={"COLUMNS": str(columns), **(env or {})})
    return result.exit_code, result.output, result.exception


def test_json_report(engine: Engine, db_url: str) -> None:
    _populate(engine)
    code, output, _ = _invoke("--db", db_url, "--now", AS_OF.isoformat(), "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["current"] == {"start": T0.isoformat(), "end": AS_OF.isoformat()}
    assert report["reference"] == {"start": (T0 - timedelta(days=7)).isoformat(), "end": T0.isoformat()}
    assert (report["reference_samples"], report["current_samples"]) == (40, 40)
    assert report["drifted_features"] == ["finish_reason"]
    psi = report["results"][6]
    assert (psi["feature"], psi["method"], psi["verdict"], psi["threshold"], psi["drifted"]) == (
        "finish_reason", "psi", "drift", 0.1, True
    )  # fmt: skip
    latency = next(r for r in report["results"] if r["feature"] == "latency_ms")
    assert (latency["method"], latency["value"], latency["statistic"], latency["verdict"]) == ("ks", 1.0, 0.0, "no_drift")


def test_table_report(engine: Engine, db_url: str) -> None:
    _populate(engine)
    code, output, _ = _invoke("--db", db_url, "--now", AS_OF.isoformat())
    assert code == 0, output
    assert f"current  [{T0.isoformat()}, {AS_OF.isoformat()})  40 samples" in output
    for text in ("finish_reason", "JS", "latency_ms", "cost_usd", "DRIFT", "ok", "drifted: finish_reason",
                 "JS Jensen-Shannon distance"):
        assert text in output


@pytest.mark.parametrize("columns", [80, 100], ids=["80-columns", "100-columns"])
def test_table_fits_a_standard_terminal(engine: Engine, db_url: str, columns: int) -> None:
    # At 80 columns rich used to cut every cell: `featu…`, `categ…`, `wasse…`.
    _populate(engine)
    code, output, _ = _invoke("--db", db_url, "--now", AS_OF.isoformat(), columns=columns)
    assert code == 0, output
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) <= columns
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in output.splitlines() if len(line.split()) == 7}
    for feature in ("category", "request_model", "app", "finish_reason", "error_type"):
        assert (feature, "PSI") in rows and (feature, "JS") in rows, feature
    for feature in ("input_tokens", "output_tokens", "latency_ms", "input_chars", "output_chars", "cost_usd"):
        assert (feature, "KS") in rows, feature
    assert rows[("finish_reason", "PSI")] == ["4.6", "0.1", "DRIFT", "40", "40"]
    assert rows[("latency_ms", "KS")] == ["1", "0.05", "ok", "40", "40"]


def test_explicit_windows(engine: Engine, db_url: str) -> None:
    _populate(engine)
    code, output, _ = _invoke(
        "--db", db_url, "--json",
        "--window-start", "2026-01-08", "--window-end", "2026-01-08T20:00:00Z",
        "--baseline-start", "2026-01-01T00:00:00+00:00", "--baseline-end", "2026-01-01T20:00:00+00:00",
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    assert (report["reference_samples"], report["current_samples"]) == (20, 20)
    assert {r["status"] for r in report["results"]} == {"too_few_samples"}
    code, output, _ = _invoke("--db", db_url, "--json", "--window-start", "2026-01-08", "--window-end",
                              "2026-01-08T20:00:00Z", "--min-samples", "20")
    assert code == 0, output
    # the reference defaults to the 7 days before the explicit current window
    assert json.loads(output)["reference"]["start"] == "2026-01-01T00:00:00+00:00"


def test_no_store_says_how_to_fix(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    code, _, error = _invoke("--db", url)
    assert code == 1 and isinstance(error, ConfigError)
    assert "there is no Tastevin store at" in str(error) and "--db" in str(error)
    assert not (tmp_path / "missing.db").exists()  # read-only: nothing created


def test_unreachable_database_is_a_store_error() -> None:
    code, _, error = _invoke("--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1 and isinstance(error, StoreError)
    assert "cannot connect" in str(error)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window-start", "2026-01-08"], "give both --window-start and --window-end"),
        (["--baseline-end", "2026-01-08"], "give both --baseline-start and --baseline-end"),
        (["--window", "0d"], "'0d' is not a duration"),
        (["--baseline", "7 days"], "'7 days' is not a duration"),
        (["--current-days", "0"], "0.0 is not in the range x>0"),
        (["--now", "yesterday"], "is neither an ISO 8601 date/time"),
        (["--as-of", "yesterday"], "is not an ISO 8601 date-time"),
        (["--window", "7d", "--current-days", "7"], "give --window or the deprecated --current-days, not both"),
        (["--max-values", "1000"], "1000 is not in the range x>=1001"),
    ],
    ids=["half-current", "half-baseline", "zero-window", "words", "zero-days", "bad-date", "bad-old-date",
         "old-and-new", "cap-too-small"],
)
def test_bad_options_are_usage_errors(args: list[str], message: str, sqlite_url: str) -> None:
    code, output, _ = _invoke("--db", sqlite_url, *args)
    assert code == 2
    assert message in output


def test_reversed_window_is_a_window_error(sqlite_url: str) -> None:
    code, _, error = _invoke("--db", sqlite_url, "--window-start", "2026-01-09", "--window-end", "2026-01-08")
    assert code == 1 and isinstance(error, WindowError) and isinstance(error, TastevinError)
    assert "swap them or widen the window" in str(error)


def test_resolve_windows_defaults() -> None:
    current, reference = resolve_windows(now=AS_OF, window=timedelta(days=7), baseline=timedelta(weeks=2))
    assert current == TimeWindow(T0, AS_OF)
    assert reference == TimeWindow(T0 - timedelta(days=14), T0)


def _windows(output: str) -> tuple[dict[str, str], dict[str, str]]:
    report = json.loads(output[output.index("{"):])
    return report["current"], report["reference"]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--window", "1w", "--baseline", "2w"], {}),
        (["--window", "168h", "--baseline", "14d"], {}),
        ([], {"TASTEVIN_DRIFT_WINDOW": "7d", "TASTEVIN_DRIFT_BASELINE": "2w"}),
    ],
    ids=["weeks", "hours-and-days", "variables"],
)
def test_windows_are_durations_like_alert(engine: Engine, db_url: str, args: list[str], env: dict[str, str]) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", "--now", AS_OF.isoformat(), *args, env=env)
    assert code == 0, output
    assert _windows(output) == (
        {"start": T0.isoformat(), "end": AS_OF.isoformat()},
        {"start": (T0 - timedelta(days=14)).isoformat(), "end": T0.isoformat()},
    )


def test_the_window_can_be_hours(engine: Engine, db_url: str) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", "--now", AS_OF.isoformat(), "--window", "6h",
                              "--baseline", "1d12h")
    assert code == 0, output
    six_hours_before = AS_OF - timedelta(hours=6)
    assert _windows(output) == (
        {"start": six_hours_before.isoformat(), "end": AS_OF.isoformat()},
        {"start": (six_hours_before - timedelta(hours=36)).isoformat(), "end": six_hours_before.isoformat()},
    )


@pytest.mark.parametrize(
    ("args", "env", "note"),
    [
        (["--current-days", "7", "--reference-days", "14", "--as-of", AS_OF.isoformat()], {},
         "note: --current-days is deprecated and will be removed in the next release; use --window"),
        (["--as-of", AS_OF.isoformat()], {"TASTEVIN_DRIFT_CURRENT_DAYS": "7", "TASTEVIN_DRIFT_REFERENCE_DAYS": "14"},
         "note: TASTEVIN_DRIFT_REFERENCE_DAYS is deprecated and will be removed in the next release; use --baseline"),
    ],
    ids=["flags", "variables"],
)
def test_old_spellings_still_work_with_a_note(engine: Engine, db_url: str, args: list[str], env: dict[str, str],
                                              note: str) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", *args, env=env)
    assert code == 0, output
    assert note in output
    assert "note: --as-of is deprecated and will be removed in the next release; use --now" in output
    assert _windows(output) == (
        {"start": T0.isoformat(), "end": AS_OF.isoformat()},
        {"start": (T0 - timedelta(days=14)).isoformat(), "end": T0.isoformat()},
    )


def test_old_explicit_windows_still_work(engine: Engine, db_url: str) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", "--current-start", "2026-01-08", "--current-end",
                              "2026-01-09", "--reference-start", "2026-01-01", "--reference-end", "2026-01-02")
    assert code == 0, output
    for old, new in list(DEPRECATED_FLAGS.items())[3:]:
        assert f"note: {old} is deprecated and will be removed in the next release; use {new}" in output
    assert _windows(output) == (
        {"start": "2026-01-08T00:00:00+00:00", "end": "2026-01-09T00:00:00+00:00"},
        {"start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00"},
    )


def test_help_shows_the_new_spellings_only() -> None:
    code, output, _ = _invoke("--help")
    assert code == 0
    for flag in ("--window", "--baseline", "--now", "--window-start", "--baseline-end"):
        assert flag in output
    for old in DEPRECATED_FLAGS:
        assert old not in output


def test_option_defaults_mirror_the_queries() -> None:
    assert (_DEFAULT_MAX_VALUES, _MIN_MAX_VALUES) == (DEFAULT_MAX_VALUES, MIN_MAX_VALUES)


def test_naive_datetimes_are_utc(engine: Engine, db_url: str) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", "--now", "2026-01-15T00:00:00")
    assert code == 0, output
    assert json.loads(output)["current"]["end"] == datetime(2026, 1, 15, tzinfo=timezone.utc).isoformat()
