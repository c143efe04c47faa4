"""Drift data from real SQLite and PostgreSQL: counts, values, the subsample and the report."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from reviewer.queries import (
    CATEGORICAL_FEATURES,
    NULL_LABEL,
    NUMERIC_FEATURES,
    Draw,
    TimeWindow,
    WindowError,
    count_samples,
    drift_report,
    load_categorical_counts,
    load_numeric_values,
    load_window_features,
    plan_draw,
    trailing_windows,
)
from reviewer.queries._windows import per_window
from reviewer.store import make_engine
from reviewer.stats import DriftMethod, DriftVerdict, Status, categorical_drift, numeric_drift

from .conftest import T0, make_judgment, make_sample, store

CURRENT = TimeWindow(T0, T0 + timedelta(days=7))
REFERENCE = TimeWindow(T0 - timedelta(days=7), T0)


def _populate(engine: Engine) -> None:
    """40 reference samples, 40 current ones: finish_reason and latency move, the rest stays."""
    samples, judgments = [], []
    for i in range(40):
        ref = make_sample(REFERENCE.start + timedelta(hours=i), latency_ms=float(100 + i), input_tokens=100 + i,
                          finish_reason="stop" if i % 4 else None, error_type=None)
        cur = make_sample(CURRENT.start + timedelta(hours=i), latency_ms=float(200 + i), input_tokens=100 + i,
                          finish_reason="length" if i % 2 else "stop", error_type="Timeout" if i == 0 else None,
                          output_tokens=None if i < 3 else 20)
        samples += [ref, cur]
        judgments += [make_judgment(ref, "pass", cost_usd=0.001 * (i + 1)),
                      make_judgment(cur, "pass", cost_usd=0.001 * (i + 1))]
    store(engine, samples, judgments)


def test_categorical_counts(engine: Engine) -> None:
    _populate(engine)
    counts = load_categorical_counts(engine, CURRENT)
    assert (counts.samples, counts.counted, counts.subsampled) == (40, 40, False)
    assert counts.counts == {
        "category": {"billing": 40},
        "request_model": {"claude-x": 40},
        "app": {"shop": 40},
        "finish_reason": {"length": 20, "stop": 20},
        "error_type": {NULL_LABEL: 39, "Timeout": 1},
    }
    assert load_categorical_counts(engine, REFERENCE).counts["finish_reason"] == {"stop": 30, NULL_LABEL: 10}
    # the drift report counts the same rows in Python, from the one read it makes
    assert load_window_features(engine, CURRENT)[0] == counts


def test_numeric_values(engine: Engine) -> None:
    _populate(engine)
    values = load_numeric_values(engine, CURRENT)
    assert set(values.values) == set(NUMERIC_FEATURES)
    assert sorted(values.values["latency_ms"]) == [float(200 + i) for i in range(40)]
    assert sorted(values.values["output_tokens"]) == [20.0] * 37  # NULLs left out
    assert sorted(values.values["cost_usd"]) == pytest.approx([0.001 * (i + 1) for i in range(40)], abs=1e-15)
    assert values.estimated_sizes == {"input_tokens": 40, "output_tokens": 37, "latency_ms": 40, "input_chars": 40,
                                      "output_chars": 40, "cost_usd": 40}
    assert not values.subsampled


def test_drift_report(engine: Engine) -> None:
    _populate(engine)
    report = drift_report(engine, reference=REFERENCE, current=CURRENT)
    assert [(r.feature, r.method) for r in report.results] == [
        *((feature, method) for feature in CATEGORICAL_FEATURES
          for method in (DriftMethod.PSI, DriftMethod.JENSEN_SHANNON)),
        *((feature, DriftMethod.KS) for feature in NUMERIC_FEATURES),
    ]
    by_key = {(r.feature, r.method): r for r in report.results}
    psi, js = categorical_drift("finish_reason", {"stop": 30, NULL_LABEL: 10}, {"length": 20, "stop": 20})
    assert by_key["finish_reason", DriftMethod.PSI] == psi
    assert by_key["finish_reason", DriftMethod.JENSEN_SHANNON] == js
    assert by_key["latency_ms", DriftMethod.KS] == numeric_drift(
        "latency_ms", np.arange(100.0, 140.0), np.arange(200.0, 240.0)
    )
    assert by_key["category", DriftMethod.PSI].verdict is DriftVerdict.NO_DRIFT
    # output_tokens: 40 reference values, 37 current — enough; input_tokens identical
    assert by_key["input_tokens", DriftMethod.KS].value == 1.0
    assert report.drifted_features == ["finish_reason", "error_type", "latency_ms"]
    assert (report.reference_samples, report.current_samples) == (40, 40)
    as_dict = report.to_dict()
    assert as_dict["drifted_features"] == report.drifted_features
    assert as_dict["results"][0]["method"] == "psi" and type(as_dict["results"][0]["method"]) is str


def test_drift_report_says_too_few_samples(engine: Engine) -> None:
    _populate(engine)
    report = drift_report(engine, reference=REFERENCE, current=CURRENT, min_samples=41)
    assert {(r.status, r.verdict, r.value) for r in report.results} == {
        (Status.TOO_FEW_SAMPLES, DriftVerdict.TOO_FEW_SAMPLES, None)
    }
    empty = TimeWindow(CURRENT.end, CURRENT.end + timedelta(days=1))
    assert {r.status for r in drift_report(engine, reference=REFERENCE, current=empty).results} == {Status.NO_DATA}


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        (0, Draw(0)),
        (20_000, Draw(20_000)),
        # target 20,000 − 4·√20,000 = 19,434.3…; bound ⌊19,434.3/40,000 · 2³²⌋
        (40_000, Draw(40_000, 2_086_743_638 / 2**32, "7c612e56")),
    ],
    ids=["empty", "at-cap", "twice-the-cap"],
)
def test_plan_draw(samples: int, expected: Draw) -> None:
    assert math.floor((20_000 - 4 * math.sqrt(20_000)) / 40_000 * 2**32) == 2_086_743_638 == 0x7C612E56
    assert plan_draw(samples, 20_000) == expected


def test_plan_draw_refuses_a_cap_that_would_change_the_method() -> None:
    with pytest.raises(ValueError, match="at least 1001"):
        plan_draw(10, 1000)


def test_large_windows_are_subsampled_deterministically(engine: Engine) -> None:
    samples = [make_sample(CURRENT.start + timedelta(seconds=i), latency_ms=float(i)) for i in range(3000)]
    store(engine, samples, [make_judgment(sample, "pass", cost_usd=float(i)) for i, sample in enumerate(samples)])
    draw = plan_draw(count_samples(engine, CURRENT), 1001)
    assert draw.subsampled and draw.id_below is not None
    drawn = sorted(i for i, sample in enumerate(samples) if sample.sample_id < draw.id_below)
    assert 800 <= len(drawn) <= 1001  # binomial around 1001 − 4·√1001 ≈ 874

    values = load_numeric_values(engine, CURRENT, max_values=1001)
    assert sorted(values.values["latency_ms"]) == [float(i) for i in drawn]
    assert sorted(values.values["cost_usd"]) == [float(i) for i in drawn]  # the drawn samples' judgments
    assert values.estimated_sizes["latency_ms"] == round(len(drawn) / draw.fraction)
    again = load_numeric_values(engine, CURRENT, max_values=1001)
    assert np.array_equal(np.sort(again.values["latency_ms"]), np.sort(values.values["latency_ms"]))

    categorical = load_categorical_counts(engine, CURRENT, max_values=1001)
    assert (categorical.samples, categorical.counted, categorical.subsampled) == (3000, len(drawn), True)
    assert load_window_features(engine, CURRENT, max_values=1001)[0] == categorical

    # the method follows the whole reference (3,000 > 1,000 values), not the subsample
    report = drift_report(engine, reference=CURRENT, current=CURRENT, max_values=1001)
    latency = next(r for r in report.results if r.feature == "latency_ms")
    assert (latency.method, latency.value, latency.drifted) == (DriftMethod.WASSERSTEIN_NORMED, 0.0, False)
    assert latency.note.startswith(f"reference subsampled: {len(drawn):,} of ")
    psi = next(r for r in report.results if r.method is DriftMethod.PSI)
    assert psi.note == f"reference subsampled: {draw.fraction:.1%} of 3,000 samples; current subsampled: " \
                       f"{draw.fraction:.1%} of 3,000 samples"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (T0, T0, "not before its end"),
        (T0 + timedelta(days=1), T0, "not before its end"),
        (datetime(2026, 1, 8), T0 + timedelta(days=1), "has no time zone"),
    ],
    ids=["empty", "reversed", "naive"],
)
def test_bad_windows_are_refused(start: datetime, end: datetime, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        TimeWindow(start, end)


def test_trailing_windows() -> None:
    now = datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
    current, reference = trailing_windows(now=now, current_days=7, reference_days=14)
    assert current == TimeWindow(datetime(2026, 1, 8, 12, tzinfo=timezone.utc), now)
    assert reference == TimeWindow(datetime(2025, 12, 25, 12, tzinfo=timezone.utc), current.start)
    with pytest.raises(WindowError, match="more than 0 days"):
        trailing_windows(now=now, current_days=0, reference_days=7)


def test_windows_are_queried_concurrently_except_in_memory(sqlite_url: str) -> None:
    import threading

    def load(window: TimeWindow) -> tuple[TimeWindow, str]:
        return window, threading.current_thread().name

    file_engine, memory_engine = make_engine(sqlite_url), make_engine("sqlite://")
    try:
        on_file = per_window(file_engine, load, [REFERENCE, CURRENT])
        in_memory = per_window(memory_engine, load, [REFERENCE, CURRENT])
    finally:
        file_engine.dispose()
        memory_engine.dispose()
    assert [window for window, _ in on_file] == [REFERENCE, CURRENT]  # results in window order
    assert all(name.startswith("tastevin-query") for _, name in on_file)
    assert [name for _, name in in_memory] == [threading.current_thread().name] * 2


def test_a_failing_window_query_raises(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)

    def load(window: TimeWindow) -> None:
        raise RuntimeError(f"boom {window.start.day}")

    try:
        with pytest.raises(RuntimeError, match="boom 1"):
            per_window(engine, load, [REFERENCE, CURRENT])
    finally:
        engine.dispose()
