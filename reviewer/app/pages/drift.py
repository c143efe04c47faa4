"""Drift: every feature, reference (baseline) window against current, with its distributions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reviewer.app import _charts, _data
from reviewer.app._state import context
from reviewer.queries import DriftReport
from reviewer.stats import DriftResult, FeatureKind

VERDICTS = {"no_drift": "stable", "moderate_drift": "moderate drift", "drift": "drift",
            "too_few_samples": "too few samples", "no_data": "no data"}


def results_frame(report: DriftReport) -> pd.DataFrame:
    return pd.DataFrame([{
        "feature": r.feature, "kind": r.kind.value, "method": r.method.value, "value": r.value,
        "threshold": r.threshold, "verdict": VERDICTS.get(r.verdict.value, r.verdict.value),
        "reference n": r.reference_n, "current n": r.current_n, "note": r.note,
    } for r in report.results])


def _feature_results(report: DriftReport, feature: str) -> list[DriftResult]:
    return [r for r in report.results if r.feature == feature]


def main() -> None:
    ctx = context()
    st.title("Drift")
    report = _data.drift(ctx.db_url, ctx.baseline, ctx.current, ctx.min_samples)
    cols = st.columns(3)
    cols[0].metric("Reference samples", f"{report.reference_samples:,}")
    cols[1].metric("Current samples", f"{report.current_samples:,}")
    cols[2].metric("Features drifting", len(report.drifted_features))
    if report.drifted_features:
        st.warning("Drifting: " + ", ".join(report.drifted_features))
    st.dataframe(results_frame(report), hide_index=True, width="stretch",
                 column_config={"value": st.column_config.NumberColumn(format="%.4f")})
    st.caption("Categorical: PSI (moderate from 0.1, drift from 0.25) and Jensen–Shannon distance (drift from "
               "0.1). Numeric: KS test p-value (drift below 0.05) up to 1,000 reference values, else the "
               "Wasserstein distance over the reference's standard deviation (drift from 0.1).")

    features = list(dict.fromkeys(r.feature for r in report.results))
    first = report.drifted_features[0] if report.drifted_features else features[0]
    feature = st.selectbox("Feature", features, index=features.index(first), key="drift_feature")
    results = _feature_results(report, feature)
    for result in results:
        shown = "—" if result.value is None else f"{result.value:.4f}"
        st.markdown(f"**{result.method.value}** = {shown} (threshold {result.threshold:g}) → "
                    f"{VERDICTS.get(result.verdict.value, result.verdict.value)}"
                    + (f" · {result.note}" if result.note else ""))
    if results and results[0].kind is FeatureKind.CATEGORICAL:
        reference = _data.categorical_counts(ctx.db_url, *ctx.baseline).counts.get(feature, {})
        current = _data.categorical_counts(ctx.db_url, *ctx.current).counts.get(feature, {})
        st.markdown("##### Share of each value")
        st.altair_chart(_charts.share_chart(reference, current), width="stretch")
    else:
        reference_values = _data.numeric_values(ctx.db_url, *ctx.baseline)
        current_values = _data.numeric_values(ctx.db_url, *ctx.current)
        ref, cur = reference_values.values.get(feature), current_values.values.get(feature)
        if ref is None or cur is None or (ref.size == 0 and cur.size == 0):
            st.info("No values in either window.")
            return
        left, right = st.columns(2)
        with left:
            st.markdown("##### Histogram (share per bin)")
            st.altair_chart(_charts.histogram_chart(ref, cur), width="stretch")
        with right:
            st.markdown("##### Empirical CDF")
            st.altair_chart(_charts.ecdf_chart(ref, cur), width="stretch")
        if reference_values.subsampled or current_values.subsampled:
            st.caption("Drawn from a deterministic random subsample of each window.")


main()
