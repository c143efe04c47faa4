"""The controls every page shares (sidebar) and the context they produce for the pages.

The entry file calls :func:`sidebar_controls` on every run, before the page; pages call
:func:`context`. The windows end at the current minute (rounded up, so cached results
stay valid for the minute) or, when asked, just after the newest sample — for a store
that stopped receiving samples, like a demo or a backfill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import streamlit as st

from . import _data
from .settings import ReviewSettings

_KEY = "tastevin_context"


@dataclass(frozen=True, slots=True)
class Context:
    """What a page needs besides its own widgets: the store, the two windows, the thresholds."""

    db_url: str
    current: tuple[datetime, datetime]
    baseline: tuple[datetime, datetime]
    min_samples: int
    alpha: float
    reviewer: str | None


def _ceil_minute(moment: datetime) -> datetime:
    floored = moment.replace(second=0, microsecond=0)
    return floored if floored == moment else floored + timedelta(minutes=1)


def sidebar_controls(settings: ReviewSettings) -> Context:
    """Render the shared sidebar widgets and store the resulting :class:`Context` for the page."""
    bar = st.sidebar
    bar.subheader("Windows")
    current_days = int(bar.number_input("Current window (days)", min_value=1, max_value=365, value=7, step=1,
                                        key="current_days"))
    baseline_days = int(bar.number_input("Baseline (days before it)", min_value=1, max_value=730, value=28, step=1,
                                         key="baseline_days"))
    anchor = bar.checkbox("End at the newest sample", key="anchor_latest",
                          help="Use when the store stopped receiving samples (a demo, a backfill).")
    min_samples = int(bar.number_input("Min scored samples", min_value=1, max_value=100_000, value=30, step=1,
                                       key="min_samples", help="Fewer than this and a rate says 'too few samples'."))
    alpha = float(bar.select_slider("Significance level", options=[0.001, 0.01, 0.05, 0.1], value=0.05, key="alpha"))
    end = _ceil_minute(datetime.now(timezone.utc))
    if anchor:
        latest = _data.latest_sample_ts(settings.db_url)
        if latest is not None:
            end = _ceil_minute(latest + timedelta(microseconds=1))
    start = end - timedelta(days=current_days)
    base_start = start - timedelta(days=baseline_days)
    bar.caption(f"Current {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC  \n"
                f"Baseline {base_start:%Y-%m-%d %H:%M} → {start:%Y-%m-%d %H:%M} UTC")
    ctx = Context(settings.db_url, (start, end), (base_start, start), min_samples, alpha, settings.reviewer)
    st.session_state[_KEY] = ctx
    return ctx


def context() -> Context:
    """The context the entry file stored for this run (pages are only run through it)."""
    ctx = st.session_state.get(_KEY)
    if not isinstance(ctx, Context):
        st.error("Open the app through its main page (tastevin review).")
        st.stop()
    return ctx


def fmt_rate(rate: float | None) -> str:
    return "—" if rate is None or math.isnan(rate) else f"{rate:.1%}"
