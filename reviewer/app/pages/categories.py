"""Categories: where the pass rate dropped (current vs baseline), mix vs quality, failing samples."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reviewer.app import _charts, _data, _views
from reviewer.app._state import context, fmt_rate
from reviewer.browse import SampleFilters
from reviewer.stats import CategoryChange, RateEstimate

VERDICTS = {"drop": "drop", "rise": "rise", "no_significant_change": "no significant change",
            "too_few_samples": "too few samples"}


def _interval(estimate: RateEstimate) -> str:
    if estimate.ok:
        return f"{fmt_rate(estimate.low)} – {fmt_rate(estimate.high)}"
    return "too few samples" if estimate.n else "no data"


def changes_frame(changes: list[CategoryChange]) -> pd.DataFrame:
    return pd.DataFrame([{
        "category": c.category, "verdict": VERDICTS.get(c.verdict.value, c.verdict.value),
        "baseline rate": c.baseline.rate, "baseline 95% CI": _interval(c.baseline), "baseline scored": c.baseline.n,
        "current rate": c.current.rate, "current 95% CI": _interval(c.current), "current scored": c.current.n,
        "change (points)": None if c.change is None else c.change * 100, "p-value": c.p_value,
    } for c in changes])


def main() -> None:
    ctx = context()
    st.title("Categories")
    _views.rules_only_notice(ctx)
    changes = _data.changes(ctx.db_url, ctx.current, ctx.baseline, ctx.min_samples, ctx.alpha)
    if not changes:
        st.info("No samples in these windows.")
        return
    failing = [c for c in changes if c.failing]
    if failing:
        st.error(f"{len(failing)} categor{'y' if len(failing) == 1 else 'ies'} dropped significantly "
                 f"(p < {ctx.alpha}): {', '.join(c.category for c in failing)}")
    else:
        st.success("No category dropped significantly.")
    st.dataframe(changes_frame(changes), hide_index=True, width="stretch", column_config={
        "baseline rate": st.column_config.NumberColumn(format="percent"),
        "current rate": st.column_config.NumberColumn(format="percent"),
        "change (points)": st.column_config.NumberColumn(format="%+.1f"),
        "p-value": st.column_config.NumberColumn(format="%.4f"),
    })
    st.caption("Two-proportion z-test per category on scored samples; p-values are not adjusted for testing "
               "many categories.")
    st.altair_chart(_charts.category_rates_chart(changes), width="stretch")
    _views.judge_trust(ctx, per_category=True)

    st.subheader("Mix or quality?")
    split = _data.decomposition(ctx.db_url, ctx.current, ctx.baseline, ctx.min_samples)
    if split.status.value != "ok" or split.total_change is None:
        st.info(f"No split: {split.status.value.replace('_', ' ')} (need {ctx.min_samples} scored samples in "
                "each window).")
    else:
        cols = st.columns(3)
        cols[0].metric("Overall change", f"{split.total_change * 100:+.1f} pts",
                       help=f"{fmt_rate(split.baseline_rate)} → {fmt_rate(split.current_rate)}")
        cols[1].metric("Mix effect", f"{(split.mix_effect or 0) * 100:+.1f} pts",
                       help="Categories' shares of traffic moving, at their average rates")
        cols[2].metric("Quality effect", f"{(split.quality_effect or 0) * 100:+.1f} pts",
                       help="Rates moving within categories, at their average shares")
        st.altair_chart(_charts.decomposition_chart(split), width="stretch")

    st.subheader("Failing samples")
    names = [c.category for c in changes]
    category = st.selectbox("Category", names, index=0, key="categories_drill")
    filters = SampleFilters(category=category, verdict="fail", since=ctx.current[0], until=ctx.current[1])
    page = _data.samples_page(ctx.db_url, filters, None, 50)
    if not page.rows:
        st.info(f"No failing sample of {category} in the current window.")
        return
    st.dataframe(_views.samples_frame(page.rows), hide_index=True, width="stretch")
    chosen = st.selectbox("Open a failing sample", [row.sample_id for row in page.rows], key="categories_sample")
    detail = _data.sample(ctx.db_url, chosen)
    if detail is not None:
        _views.render_sample(detail)


main()
