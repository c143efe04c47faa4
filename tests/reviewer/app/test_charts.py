"""The charts' data: gaps in the pass-rate line, shares, histogram bins (pure functions, no Streamlit)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from reviewer.app import _charts
from reviewer.series import SeriesPoint
from reviewer.stats import rate_estimate

DAY = timedelta(days=1)
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def point(day: int, passed: int, failed: int) -> SeriesPoint:
    return SeriesPoint(start=T0 + day * DAY, samples=passed + failed, judged=passed + failed, passed=passed,
                       failed=failed, unscored=0, input_tokens=0, output_tokens=0, errors=0,
                       pass_rate=rate_estimate(passed, passed + failed, min_samples=10))


def test_pass_rate_line_breaks_at_buckets_without_a_rate() -> None:
    # days 0, 1 rated; day 2 too few; day 3 rated; day 4 absent; day 5 rated
    points = [point(0, 9, 1), point(1, 8, 2), point(2, 3, 0), point(3, 10, 0), point(5, 5, 5)]
    chart = _charts.pass_rate_chart(points, step=DAY, span=(T0, T0 + 7 * DAY))
    frame = chart.data  # the layers share one frame, which Altair lifts to the chart
    assert frame["segment"].tolist() == [0, 0, 1, 2]
    assert frame["rate"].tolist() == [0.9, 0.8, 1.0, 0.5]
    spec = chart.to_dict()  # also validates the whole chart against the Vega-Lite schema
    assert spec["layer"][0]["encoding"]["x"]["scale"]["domain"] == [T0.isoformat(), (T0 + 7 * DAY).isoformat()]
    assert spec["layer"][0]["encoding"]["detail"] == {"field": "segment", "type": "nominal"}


def test_share_chart_keeps_the_top_values_and_folds_the_rest() -> None:
    reference = {f"v{i:02d}": 100 - i for i in range(25)}
    current = {"v00": 10, "new": 90}
    frame = _charts.share_chart(reference, current).data
    values = frame[frame["window"] == "current"]["value"].tolist()
    assert len(values) == _charts.MAX_CATEGORIES_SHOWN + 1 and values[0] == "new" and values[-1] == "(other)"
    assert frame.groupby("window")["share"].sum().round(12).to_dict() == {"current": 1.0, "reference": 1.0}


def test_histogram_shares_one_set_of_bins() -> None:
    frame = _charts.histogram_chart(np.arange(100.0), np.arange(50.0, 150.0)).data
    ref, cur = (frame[frame["window"] == w] for w in ("reference", "current"))
    assert ref["low"].tolist() == cur["low"].tolist()
    assert round(ref["share"].sum(), 12) == round(cur["share"].sum(), 12) == 1.0
    empty = _charts.histogram_chart(np.empty(0), np.empty(0)).data
    assert empty["share"].tolist() == [0.0, 0.0]
