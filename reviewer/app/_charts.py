"""Altair charts for the pages: pure functions from query results to charts (no Streamlit).

Colours are fixed per meaning across the app: pass green, fail red, unscored grey,
reference/baseline blue, current orange. Rates that say "too few samples" are left out
of rate charts rather than drawn as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import altair as alt
import numpy as np
import pandas as pd

from reviewer.series import CostPoint, SeriesPoint
from reviewer.stats import CategoryChange, RateChangeDecomposition

VERDICT_COLORS = {"pass": "#2e7d32", "fail": "#c62828", "unscored": "#9e9e9e", "not judged": "#e0e0e0"}
WINDOW_COLORS = {"baseline": "#1f77b4", "reference": "#1f77b4", "current": "#ff7f0e"}
MAX_CATEGORIES_SHOWN = 20
MAX_BINS = 40
ECDF_POINTS = 200


def _scale(mapping: Mapping[str, str], keys: Sequence[str]) -> alt.Scale:
    return alt.Scale(domain=list(keys), range=[mapping[key] for key in keys])


Span = tuple[datetime, datetime]


def _time_axis(span: Span | None) -> alt.X:
    scale = alt.Scale(domain=[span[0].isoformat(), span[1].isoformat()]) if span else alt.Undefined
    return alt.X("start:T", title=None, scale=scale)


def volume_chart(points: Sequence[SeriesPoint], *, current_start: datetime | None = None,
                 span: Span | None = None) -> alt.LayerChart:
    """Samples per bucket, stacked by verdict; a rule marks where the current window starts."""
    rows = [
        {"start": p.start, "verdict": verdict, "samples": n}
        for p in points
        for verdict, n in (("pass", p.passed), ("fail", p.failed), ("unscored", p.unscored),
                           ("not judged", p.samples - p.judged))
    ]
    order = list(VERDICT_COLORS)
    bars = alt.Chart(pd.DataFrame(rows, columns=["start", "verdict", "samples"])).mark_bar().encode(
        x=_time_axis(span),
        y=alt.Y("sum(samples):Q", title="samples"),
        color=alt.Color("verdict:N", scale=_scale(VERDICT_COLORS, order), sort=order),
        order=alt.Order("verdict_order:Q"),
        tooltip=[alt.Tooltip("start:T"), "verdict:N", "samples:Q"],
    ).transform_calculate(verdict_order=f"indexof({order!r}, datum.verdict)")
    return alt.LayerChart(layer=[bars, *_window_rule(current_start)])


def _window_rule(current_start: datetime | None) -> list[alt.Chart]:
    if current_start is None:
        return []
    return [alt.Chart(pd.DataFrame({"start": [current_start]})).mark_rule(strokeDash=[4, 4], color="#555").encode(
        x="start:T", tooltip=[alt.Tooltip("start:T", title="current window starts")])]


def pass_rate_chart(points: Sequence[SeriesPoint], *, step: timedelta, current_start: datetime | None = None,
                    span: Span | None = None) -> alt.LayerChart:
    """The pass rate per bucket (``step`` long) with its Wilson interval as a band and a bar.

    Buckets without a rate (no or too few scored samples) are gaps: the line and band
    break there instead of joining their neighbours.
    """
    rows = []
    segment, previous = 0, None
    for p in points:
        if not p.pass_rate.ok:
            continue
        if previous is not None and p.start - previous != step:
            segment += 1
        previous = p.start
        rows.append({"start": p.start, "rate": p.pass_rate.rate, "low": p.pass_rate.low, "high": p.pass_rate.high,
                     "scored": p.pass_rate.n, "segment": segment})
    frame = pd.DataFrame(rows, columns=["start", "rate", "low", "high", "scored", "segment"])
    base = alt.Chart(frame).encode(x=_time_axis(span), detail="segment:N")
    y = alt.Y("low:Q", title="pass rate", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    band = base.mark_area(opacity=0.2, color=VERDICT_COLORS["pass"]).encode(y=y, y2="high:Q")
    bars = base.mark_rule(opacity=0.6, color=VERDICT_COLORS["pass"]).encode(y=y, y2="high:Q")
    line = base.mark_line(point=True, color=VERDICT_COLORS["pass"]).encode(
        y="rate:Q",
        tooltip=[alt.Tooltip("start:T"), alt.Tooltip("rate:Q", format=".1%"), alt.Tooltip("low:Q", format=".1%"),
                 alt.Tooltip("high:Q", format=".1%"), "scored:Q"],
    )
    return alt.LayerChart(layer=[band, bars, line, *_window_rule(current_start)])


def cost_chart(points: Sequence[CostPoint], *, span: Span | None = None) -> alt.Chart:
    """What the judge spent (USD) per bucket, dated by when it judged."""
    frame = pd.DataFrame([{"start": p.start, "cost_usd": p.cost_usd, "judgments": p.judgments} for p in points],
                         columns=["start", "cost_usd", "judgments"])
    return alt.Chart(frame).mark_bar(color="#6a1b9a").encode(
        x=_time_axis(span), y=alt.Y("cost_usd:Q", title="judge cost (USD)"),
        tooltip=[alt.Tooltip("start:T"), alt.Tooltip("cost_usd:Q", format="$.4f"), "judgments:Q"])


def category_rates_chart(changes: Sequence[CategoryChange]) -> alt.LayerChart:
    """Baseline and current pass rate per category with their intervals (categories with a rate only)."""
    rows = []
    for change in changes[:MAX_CATEGORIES_SHOWN]:
        for window, estimate in (("baseline", change.baseline), ("current", change.current)):
            if estimate.ok:
                rows.append({"category": change.category, "window": window, "rate": estimate.rate,
                             "low": estimate.low, "high": estimate.high, "scored": estimate.n})
    frame = pd.DataFrame(rows, columns=["category", "window", "rate", "low", "high", "scored"])
    color = alt.Color("window:N", scale=_scale(WINDOW_COLORS, ["baseline", "current"]))
    base = alt.Chart(frame).encode(y=alt.Y("category:N", title=None), yOffset="window:N", color=color)
    rules = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", title="pass rate", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])), x2="high:Q")
    dots = base.mark_point(filled=True, size=60).encode(
        x="rate:Q",
        tooltip=["category:N", "window:N", alt.Tooltip("rate:Q", format=".1%"), alt.Tooltip("low:Q", format=".1%"),
                 alt.Tooltip("high:Q", format=".1%"), "scored:Q"])
    return alt.LayerChart(layer=[rules, dots])


def decomposition_chart(decomposition: RateChangeDecomposition) -> alt.Chart:
    """Each category's mix and quality effect on the overall rate change (percentage points)."""
    rows = [
        {"category": item.category, "effect": effect, "points": value * 100}
        for item in decomposition.categories[:MAX_CATEGORIES_SHOWN]
        for effect, value in (("mix", item.mix), ("quality", item.quality))
    ]
    frame = pd.DataFrame(rows, columns=["category", "effect", "points"])
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("points:Q", title="effect on the overall pass rate (points)"),
        y=alt.Y("category:N", title=None, sort=None), yOffset="effect:N",
        color=alt.Color("effect:N", scale=alt.Scale(domain=["mix", "quality"], range=["#8e24aa", "#00897b"])),
        tooltip=["category:N", "effect:N", alt.Tooltip("points:Q", format="+.2f")])


def share_chart(reference: Mapping[str, int], current: Mapping[str, int]) -> alt.Chart:
    """Side-by-side bars of each value's share in the reference and current windows (top values, rest as (other))."""
    ref_total, cur_total = sum(reference.values()) or 1, sum(current.values()) or 1
    values = sorted(set(reference) | set(current),
                    key=lambda v: -max(reference.get(v, 0) / ref_total, current.get(v, 0) / cur_total))
    shown, rest = values[:MAX_CATEGORIES_SHOWN], values[MAX_CATEGORIES_SHOWN:]
    rows = []
    for window, counts, total in (("reference", reference, ref_total), ("current", current, cur_total)):
        for value in shown:
            rows.append({"value": value, "window": window, "share": counts.get(value, 0) / total})
        if rest:
            rows.append({"value": "(other)", "window": window, "share": sum(counts.get(v, 0) for v in rest) / total})
    frame = pd.DataFrame(rows, columns=["value", "window", "share"])
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("value:N", title=None, sort=None), xOffset="window:N",
        y=alt.Y("share:Q", axis=alt.Axis(format="%")),
        color=alt.Color("window:N", scale=_scale(WINDOW_COLORS, ["reference", "current"])),
        tooltip=["value:N", "window:N", alt.Tooltip("share:Q", format=".1%")])


def histogram_chart(reference: np.ndarray, current: np.ndarray) -> alt.Chart:
    """Overlaid histograms (share of each window's values per bin) on shared bins."""
    both = np.concatenate([reference, current])
    if both.size == 0:
        edges = np.array([0.0, 1.0])
    else:
        edges = np.histogram_bin_edges(both, bins=min(MAX_BINS, max(1, int(np.sqrt(both.size)))))
    rows = []
    for window, values in (("reference", reference), ("current", current)):
        counts, _ = np.histogram(values, bins=edges)
        total = counts.sum() or 1
        rows += [{"window": window, "low": float(lo), "high": float(hi), "share": float(c) / total}
                 for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    frame = pd.DataFrame(rows, columns=["window", "low", "high", "share"])
    return alt.Chart(frame).mark_bar(opacity=0.55, binSpacing=0).encode(
        x=alt.X("low:Q", title=None), x2="high:Q", y=alt.Y("share:Q", stack=None, axis=alt.Axis(format="%")),
        color=alt.Color("window:N", scale=_scale(WINDOW_COLORS, ["reference", "current"])),
        tooltip=["window:N", "low:Q", "high:Q", alt.Tooltip("share:Q", format=".1%")])


def ecdf_chart(reference: np.ndarray, current: np.ndarray) -> alt.Chart:
    """The empirical CDFs of both windows (at most ``ECDF_POINTS`` quantiles each)."""
    rows = []
    probabilities = np.linspace(0.0, 1.0, ECDF_POINTS + 1)
    for window, values in (("reference", reference), ("current", current)):
        if values.size:
            quantiles = np.quantile(values, probabilities)
            rows += [{"window": window, "value": float(q), "cdf": float(p)}
                     for q, p in zip(quantiles, probabilities, strict=True)]
    frame = pd.DataFrame(rows, columns=["window", "value", "cdf"])
    return alt.Chart(frame).mark_line(interpolate="step-after").encode(
        x=alt.X("value:Q", title=None), y=alt.Y("cdf:Q", title="share ≤ value", axis=alt.Axis(format="%")),
        color=alt.Color("window:N", scale=_scale(WINDOW_COLORS, ["reference", "current"])))
