"""Alerts: what fired on which key, observed vs expected, the test behind it, the delivery."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reviewer.app import _data, _views
from reviewer.app._state import context

STATUSES = {"firing": "firing", "resolved": "resolved", "all": None}


def main() -> None:
    ctx = context()
    st.title("Alerts")
    _views.rules_only_notice(ctx)
    left, right = st.columns(2)
    status = left.radio("Status", list(STATUSES), horizontal=True, key="alerts_status")
    kind = right.selectbox("Kind", [_views.ANY, "score_drop", "drift", "volume"], key="alerts_kind")
    alerts = _data.alerts(ctx.db_url, STATUSES[status], None if kind == _views.ANY else kind)
    if not alerts:
        st.success("No alerts here.")
        return
    st.dataframe(pd.DataFrame([{
        "id": a.id, "kind": a.kind, "key": a.key, "status": a.status, "fired": a.fired_at, "resolved": a.resolved_at,
        "observed": a.observed, "expected": a.expected, "p_value": a.p_value, "message": a.message,
        "delivery": a.delivery_status, "attempts": a.delivery_attempts, "delivery error": a.last_delivery_error,
        "statistic": _views.as_json(a.statistic),
    } for a in alerts]), hide_index=True, width="stretch",
        column_config={"p_value": st.column_config.NumberColumn(format="%.4g")})
    chosen = st.selectbox("Details of", [a.id for a in alerts], key="alerts_selected",
                          format_func=lambda i: next(f"#{a.id} {a.key} ({a.status})" for a in alerts if a.id == i))
    alert = next(a for a in alerts if a.id == chosen)
    st.markdown(f"**{alert.key}** — {alert.message}")
    st.json(alert.statistic)


main()
