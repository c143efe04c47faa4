"""`tastevin drift` through click's CliRunner, on real stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from reviewer.errors import ConfigError, StoreError, TastevinError
from reviewer.cli_drift import _DEFAULT_MAX_VALUES, _MIN_MAX_VALUES, drift, resolve_windows
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


def _invoke(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(drift, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output, result.exception


def test_json_report(engine: Engine, db_url: str) -> None:
    _populate(engine)
    code, output, _ = _invoke("--db", db_url, "--as-of", AS_OF.isoformat(), "--json")
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
    code, output, _ = _invoke("--db", db_url, "--as-of", AS_OF.isoformat())
    assert code == 0, output
    assert "Drift: current" in output
    for text in ("finish_reason", "jensen_shannon", "latency_ms", "cost_usd", "no drift", "drifted: finish_reason"):
        assert text in output


def test_explicit_windows(engine: Engine, db_url: str) -> None:
    _populate(engine)
    code, output, _ = _invoke(
        "--db", db_url, "--json",
        "--current-start", "2026-01-08", "--current-end", "2026-01-08T20:00:00Z",
        "--reference-start", "2026-01-01T00:00:00+00:00", "--reference-end", "2026-01-01T20:00:00+00:00",
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    assert (report["reference_samples"], report["current_samples"]) == (20, 20)
    assert {r["status"] for r in report["results"]} == {"too_few_samples"}
    code, output, _ = _invoke("--db", db_url, "--json", "--current-start", "2026-01-08", "--current-end",
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
        (["--current-start", "2026-01-08"], "give both --current-start and --current-end"),
        (["--reference-end", "2026-01-08"], "give both --reference-start and --reference-end"),
        (["--current-days", "0"], "0.0 is not in the range x>0"),
        (["--as-of", "yesterday"], "is not an ISO 8601 date-time"),
        (["--max-values", "1000"], "1000 is not in the range x>=1001"),
    ],
    ids=["half-current", "half-reference", "zero-days", "bad-date", "cap-too-small"],
)
def test_bad_options_are_usage_errors(args: list[str], message: str, sqlite_url: str) -> None:
    code, output, _ = _invoke("--db", sqlite_url, *args)
    assert code == 2
    assert message in output


def test_reversed_window_is_a_window_error(sqlite_url: str) -> None:
    code, _, error = _invoke("--db", sqlite_url, "--current-start", "2026-01-09", "--current-end", "2026-01-08")
    assert code == 1 and isinstance(error, WindowError) and isinstance(error, TastevinError)
    assert "swap them or widen the window" in str(error)


def test_resolve_windows_defaults() -> None:
    current, reference = resolve_windows(as_of=AS_OF, current_days=7, reference_days=14)
    assert current == TimeWindow(T0, AS_OF)
    assert reference == TimeWindow(T0 - timedelta(days=14), T0)


def test_option_defaults_mirror_the_queries() -> None:
    assert (_DEFAULT_MAX_VALUES, _MIN_MAX_VALUES) == (DEFAULT_MAX_VALUES, MIN_MAX_VALUES)


def test_naive_datetimes_are_utc(engine: Engine, db_url: str) -> None:
    code, output, _ = _invoke("--db", db_url, "--json", "--as-of", "2026-01-15T00:00:00")
    assert code == 0, output
    assert json.loads(output)["current"]["end"] == datetime(2026, 1, 15, tzinfo=timezone.utc).isoformat()
