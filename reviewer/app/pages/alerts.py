"""Alerts: what fired on which key, its statistic, threshold and p-value, the delivery, a link to its windows."""

from __future__ import annotations

import streamlit as st

from reviewer.alerts.table import alert_link
from reviewer.app import _data, _views
from reviewer.app._state import context
from reviewer.app._views import FIGURES_CAPTION, alerts_frame

PAGE_TITLES = {"score_drop": "Categories", "drift": "Drift", "volume": "the Overview"}

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
    st.dataframe(alerts_frame(alerts, delivery=True), hide_index=True, width="stretch")
    st.caption(FIGURES_CAPTION)
    chosen = st.selectbox("Details of", [a.id for a in alerts], key="alerts_selected",
                          format_func=lambda i: next(f"#{a.id} {a.key} ({a.status})" for a in alerts if a.id == i))
    alert = next(a for a in alerts if a.id == chosen)
    st.markdown(f"**{alert.key}** — {alert.message}")
    link = alert_link(".", alert.kind, alert.statistic)  # relative: the page of this app
    if link is not None:
        st.markdown(f"[Open {PAGE_TITLES.get(alert.kind, 'its page')} on the windows it compared]({link})")
    st.json(alert.statistic)


main()
