"""Overview: volume, pass rate (with its interval) and judge cost over time; recent runs; open alerts."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from reviewer.app import _charts, _data, _views
from reviewer.app._state import context, fmt_rate
from reviewer.series import Bucket


def main() -> None:
    ctx = context()
    st.title("Overview")
    _views.rules_only_notice(ctx)
    summary = _data.overall(ctx.db_url, *ctx.current, ctx.min_samples)
    rate = summary.pass_rate
    cols = st.columns(4)
    cols[0].metric("Samples (current window)", f"{summary.samples:,}",
                   help=f"≈ {summary.estimated_calls:,.0f} production calls, re-weighted by sampling rate")
    cols[1].metric("Judged", f"{summary.judged:,}", help=f"{summary.unscored:,} unscored")
    if rate.ok:
        cols[2].metric("Pass rate", fmt_rate(rate.rate), help=f"95% interval {fmt_rate(rate.low)} – "
                       f"{fmt_rate(rate.high)} over {rate.n:,} scored samples")
        cols[2].caption(f"95% CI {fmt_rate(rate.low)} – {fmt_rate(rate.high)} · n={rate.n:,}")
    else:
        cols[2].metric("Pass rate", "too few samples" if rate.n else "no data")
        cols[2].caption(f"{rate.n:,} scored, need {ctx.min_samples:,}")
    cols[3].metric("Judge cost", f"${summary.cost_usd:,.2f}")
    _views.judge_trust(ctx)

    left, middle, right = st.columns(3)
    bucket: Bucket = "hour" if left.radio("Per", ["day", "hour"], horizontal=True, key="overview_bucket") == "hour" \
        else "day"
    # Off by default: on a large SQLite store every week of samples costs seconds to aggregate.
    with_baseline = middle.checkbox("Show the baseline window too", key="overview_with_baseline")
    # Each point of the chart carries its interval, so it may rest on fewer samples than a headline
    # number; below this many scored samples a point is left out rather than drawn.
    per_point = int(right.number_input("Min scored samples per point", min_value=1, max_value=100_000,
                                       value=min(10, ctx.min_samples), step=1, key="overview_min_point"))
    span = (ctx.baseline[0] if with_baseline else ctx.current[0], ctx.current[1])
    points = _data.time_series(ctx.db_url, *span, bucket, per_point)
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    rule = ctx.current[0] if with_baseline else None
    if not points:
        st.info("No samples in this span. Widen the windows in the sidebar, or tick 'End at the newest sample'.")
    else:
        left, right = st.columns(2)
        with left:
            st.markdown("##### Samples by verdict")
            st.altair_chart(_charts.volume_chart(points, current_start=rule, span=span), width="stretch")
        with right:
            st.markdown("##### Pass rate with its 95% Wilson interval")
            st.altair_chart(_charts.pass_rate_chart(points, step=step, current_start=rule, span=span),
                            width="stretch")
            few = sum(1 for p in points if not p.pass_rate.ok)
            if few:
                st.caption(f"{few} of {len(points)} {bucket}s left out: fewer than {per_point} scored samples.")
        st.markdown("##### What the judge spent (by when it judged)")
        st.altair_chart(_charts.cost_chart(_data.cost_series(ctx.db_url, *span, bucket), span=span), width="stretch")

    st.subheader("Recent judge runs")
    runs = _data.runs(ctx.db_url, 10, None)
    if runs:
        st.dataframe(pd.DataFrame([{
            "run": r.id, "status": r.status, "mode": r.mode, "started": r.started_at, "finished": r.finished_at,
            "judged": r.judged, "passed": r.passed, "failed": r.failed, "unscored": r.unscored,
            "cost_usd": r.cost_usd, "stop": r.stop_reason} for r in runs]), hide_index=True, width="stretch")
    else:
        st.info("No judge runs yet: `tastevin judge --once`.")

    st.subheader("Open alerts")
    alerts = _data.alerts(ctx.db_url, "firing", None)
    if alerts:
        st.dataframe(_views.alerts_frame(alerts), hide_index=True, width="stretch")
    else:
        st.success("No alert is firing.")


main()
