"""The controls every page shares (sidebar) and the context they produce for the pages.

The entry file calls :func:`sidebar_controls` on every run, before the page; pages call
:func:`context`. The windows are relative (a length such as ``6h`` or ``7d`` and the
baseline's length before it) or absolute (start and end times). Relative windows end
at the current minute (rounded up, so cached results stay valid for the minute) or,
when asked, just after the newest sample — for a store that stopped receiving samples,
like a demo or a backfill.

The URL and the sidebar stay in sync: the first run of a session reads the windows
from the query parameters (:mod:`reviewer.links` lists them), and every run writes the
sidebar's windows back to the URL, so the address bar is a link to the view on screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import streamlit as st

from ..links import DEFAULT_BASELINE, DEFAULT_WINDOW, LinkError, WindowQuery, format_time, parse_time
from . import _data
from .settings import ReviewSettings

_KEY = "tastevin_context"
_FIELDS = "tastevin_windows"  # the sidebar's values, kept while their widgets are not shown
_URL_ERROR = "tastevin_windows_url_error"
RELATIVE, ABSOLUTE = "relative", "absolute"
MODE_LABELS = {RELATIVE: "Last …", ABSOLUTE: "From … to …"}
ALPHAS = (0.001, 0.01, 0.05, 0.1)
DEFAULT_MIN_SAMPLES = 30
DEFAULT_ALPHA = 0.05
# widget key -> (label, help)
_RELATIVE_INPUTS = {
    "windows_length": ("Current window", "How far back from now: 90m, 6h, 7d."),
    "windows_baseline": ("Baseline (before it)", "How long the baseline lasts, just before the current window."),
}
_ABSOLUTE_INPUTS = {
    "windows_start": ("Current from (UTC)", "ISO 8601, e.g. 2026-12-02T08:00:00Z."),
    "windows_end": ("Current to (UTC)", "ISO 8601; the window ends just before it."),
    "windows_baseline_start": ("Baseline from (UTC)", None),
    "windows_baseline_end": ("Baseline to (UTC)", "Usually where the current window starts."),
}
_BOUND_OF_KEY = {"windows_start": "start", "windows_end": "end", "windows_baseline_start": "baseline_start",
                 "windows_baseline_end": "baseline_end"}


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


def _fields_from_url() -> dict[str, object]:
    """The sidebar's first values: from the query parameters, defaults where they say nothing (or nonsense)."""
    params = {name: st.query_params.get(name, "") for name in st.query_params}
    fields: dict[str, object] = {"windows_mode": RELATIVE, "windows_length": DEFAULT_WINDOW,
                                 "windows_baseline": DEFAULT_BASELINE, "windows_latest": False,
                                 "min_samples": DEFAULT_MIN_SAMPLES, "alpha": DEFAULT_ALPHA,
                                 **dict.fromkeys(_ABSOLUTE_INPUTS, "")}
    problems = []
    try:
        query = WindowQuery.from_params(params)
    except LinkError as exc:
        problems.append(str(exc))
        query = WindowQuery()
    fields.update(windows_mode=ABSOLUTE if query.absolute else RELATIVE, windows_length=query.window,
                  windows_baseline=query.baseline, windows_latest=query.latest)
    if query.absolute:
        fields.update(_absolute_fields(query, datetime.now(timezone.utc)))
    try:
        if params.get("min_samples"):
            fields["min_samples"] = max(1, int(params["min_samples"]))
        if params.get("alpha"):
            alpha = float(params["alpha"])
            if not 0 < alpha < 1:
                raise ValueError(alpha)
            fields["alpha"] = alpha
    except ValueError:
        problems.append("min_samples must be a whole number and alpha a level between 0 and 1")
    st.session_state[_URL_ERROR] = "; ".join(problems) or None
    return fields


def _absolute_fields(query: WindowQuery, now: datetime) -> dict[str, str]:
    """The four bounds as the absolute inputs show them (the missing ones filled from the lengths)."""
    try:
        (start, end), (base_start, base_end) = query.resolve(now)
    except LinkError:
        return {key: format_time(value) if (value := getattr(query, bound)) else ""
                for key, bound in _BOUND_OF_KEY.items()}
    return {"windows_start": format_time(start), "windows_end": format_time(end),
            "windows_baseline_start": format_time(base_start), "windows_baseline_end": format_time(base_end)}


def _on_mode_change() -> None:
    """Switching to absolute windows starts from the windows on screen, so nothing jumps."""
    fields = st.session_state[_FIELDS]
    if st.session_state.get("windows_mode") == ABSOLUTE:
        shown = st.session_state.get(_KEY)
        if isinstance(shown, Context):
            query = WindowQuery(start=shown.current[0], end=shown.current[1], baseline_start=shown.baseline[0],
                                baseline_end=shown.baseline[1])
            fields.update(_absolute_fields(query, shown.current[1]))
        for key in _ABSOLUTE_INPUTS:
            st.session_state[key] = fields[key]


def _query(fields: dict[str, object]) -> WindowQuery:
    """What the sidebar says; raises :class:`LinkError` for a time that does not parse."""
    if fields["windows_mode"] == ABSOLUTE:
        bounds = {bound: parse_time(str(fields[key]), name=_ABSOLUTE_INPUTS[key][0]) if str(fields[key]).strip()
                  else None for key, bound in _BOUND_OF_KEY.items()}
        if not any(bounds.values()):
            raise LinkError("give the current window's start and end (ISO 8601 times, e.g. 2026-12-02T08:00:00Z)")
        return WindowQuery(**bounds)  # type: ignore[arg-type]
    return WindowQuery(window=str(fields["windows_length"]).strip(), baseline=str(fields["windows_baseline"]).strip(),
                       latest=bool(fields["windows_latest"]))  # resolve() checks the lengths


def sidebar_controls(settings: ReviewSettings) -> Context:
    """Render the shared sidebar widgets, sync them with the URL and store the :class:`Context` for the page."""
    if _FIELDS not in st.session_state:
        st.session_state[_FIELDS] = _fields_from_url()
    fields: dict[str, object] = st.session_state[_FIELDS]
    bar = st.sidebar
    bar.subheader("Windows")
    if st.session_state.get(_URL_ERROR):
        bar.error(f"The link's windows were not understood ({st.session_state[_URL_ERROR]}); showing the defaults.")
    for key in ("windows_mode", "windows_latest", "min_samples", "alpha", *_RELATIVE_INPUTS, *_ABSOLUTE_INPUTS):
        if key not in st.session_state:  # a widget not shown in the last run forgot its value
            st.session_state[key] = fields[key]
    mode = bar.radio("Windows", list(MODE_LABELS), format_func=MODE_LABELS.__getitem__, horizontal=True,
                     key="windows_mode", on_change=_on_mode_change, label_visibility="collapsed")
    fields["windows_mode"] = mode
    for key, (label, help_text) in (_ABSOLUTE_INPUTS if mode == ABSOLUTE else _RELATIVE_INPUTS).items():
        fields[key] = bar.text_input(label, key=key, help=help_text)
    if mode == RELATIVE:
        fields["windows_latest"] = bar.checkbox(
            "End at the newest sample", key="windows_latest",
            help="Use when the store stopped receiving samples (a demo, a backfill).")
    fields["min_samples"] = int(bar.number_input(
        "Min scored samples", min_value=1, max_value=100_000, step=1, key="min_samples",
        help="Fewer than this and a rate says 'too few samples'."))
    alphas = sorted({*ALPHAS, float(str(fields["alpha"]))})
    fields["alpha"] = float(bar.select_slider("Significance level", options=alphas, key="alpha"))

    try:
        query = _query(fields)
    except LinkError as exc:
        bar.error(f"{exc}; showing the default windows.")
        query = WindowQuery()
    now = _ceil_minute(datetime.now(timezone.utc))
    if query.latest and not query.absolute:
        latest = _data.latest_sample_ts(settings.db_url)
        if latest is not None:
            now = _ceil_minute(latest + timedelta(microseconds=1))
    try:
        (start, end), (base_start, base_end) = query.resolve(now)
    except LinkError as exc:
        bar.error(f"{exc}; showing the default windows.")
        query = WindowQuery()
        (start, end), (base_start, base_end) = query.resolve(now)
    bar.caption(f"Current {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC  \n"
                f"Baseline {base_start:%Y-%m-%d %H:%M:%S} → {base_end:%Y-%m-%d %H:%M:%S} UTC")
    min_samples, alpha = int(str(fields["min_samples"])), float(str(fields["alpha"]))
    params = {**query.to_params(), "min_samples": str(min_samples), "alpha": f"{alpha:g}"}
    if dict(st.query_params.to_dict()) != params:
        st.query_params.from_dict(params)
    ctx = Context(settings.db_url, (start, end), (base_start, base_end), min_samples, alpha, settings.reviewer)
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
