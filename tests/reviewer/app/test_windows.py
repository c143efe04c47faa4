"""The app's windows from the URL: hours and minutes, absolute times, and the URL kept in sync with the sidebar.

AppTest runs the entry file (and so the sidebar) on the first run of a session only;
later runs re-run the page. So the sidebar's values are given before that first run,
through ``session_state`` (what a visitor typing into the sidebar leaves there).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from reviewer.app._state import Context
from reviewer.app.command import ENTRY_FILE
from reviewer.links import WindowQuery, app_link
from tests.reviewer.app.conftest import APP_TIMEOUT_S
from tests.reviewer.app.seed import Seeded, seed_store

MONTH_AGO = timedelta(days=40)


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """The seeded story, 40 days ago: the app's default windows (the last 7 days, 28 before) miss all of it."""
    now = datetime.now(timezone.utc) - MONTH_AGO
    return seed_store(f"sqlite:///{tmp_path_factory.mktemp('old') / 'store.db'}", now=now)


@pytest.fixture
def app_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``app_on(store, query=None, state=None, page=None)``: first run with these query parameters and sidebar values."""
    for name in ("TASTEVIN_REVIEW_PASSWORD", "TASTEVIN_REVIEW_HOST", "TASTEVIN_REVIEWER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASTEVIN_REVIEW_AUTH", "none")

    def open_(store: Seeded, query: dict[str, str] | None = None, state: dict[str, Any] | None = None,
              page: str | None = None) -> AppTest:
        monkeypatch.setenv("TASTEVIN_DB_URL", store.url)
        app = AppTest.from_file(str(ENTRY_FILE), default_timeout=APP_TIMEOUT_S)
        for name, value in (query or {}).items():
            app.query_params[name] = value
        for key, value in (state or {}).items():
            app.session_state[key] = value
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        if page is not None:
            app.switch_page(f"pages/{page}.py").run()
            assert not app.exception, [e.value for e in app.exception]
        return app

    yield open_


def _context(app: AppTest) -> Context:
    ctx = app.session_state["tastevin_context"]
    assert isinstance(ctx, Context)
    return ctx


def _query_of(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def test_default_windows_miss_an_old_story_and_its_link_shows_it(app_on: Any, old_store: Seeded) -> None:
    default = app_on(old_store, page="categories")
    assert [e.value for e in default.info] == ["No samples in these windows."]

    link = app_link("http://127.0.0.1:8501", page="categories",
                    current=(old_store.now - timedelta(days=7), old_store.now),
                    baseline=(old_store.now - timedelta(days=35), old_store.now - timedelta(days=7)),
                    min_samples=30, alpha=0.01)
    app = app_on(old_store, query=_query_of(link), page="categories")
    assert [e.value for e in app.error] == ["1 category dropped significantly (p < 0.01): billing"]
    table = app.dataframe[0].value.set_index("category")
    assert table.loc["billing", "baseline scored"] == 60 and table.loc["billing", "current scored"] == 60
    ctx = _context(app)
    assert ctx.current == (old_store.now - timedelta(days=7), old_store.now)
    assert ctx.baseline == (old_store.now - timedelta(days=35), old_store.now - timedelta(days=7))
    assert (ctx.min_samples, ctx.alpha) == (30, 0.01)
    assert app.session_state["tastevin_windows"]["windows_mode"] == "absolute"  # the sidebar: absolute windows
    assert app.query_params == _query_of(link)  # and the URL still states them


def test_hours_and_minutes_from_the_url(app_on: Any, seeded: Seeded) -> None:
    app = app_on(seeded, query={"window": "6h", "baseline": "90m"})
    ctx = _context(app)
    start, end = ctx.current
    assert end - start == timedelta(hours=6) and ctx.baseline == (start - timedelta(minutes=90), start)
    assert end.second == 0 and datetime.now(timezone.utc) <= end <= datetime.now(timezone.utc) + timedelta(minutes=1)
    assert app.sidebar.text_input(key="windows_length").value == "6h"
    assert app.sidebar.text_input(key="windows_baseline").value == "90m"
    caption = app.sidebar.caption[0].value
    assert f"Current {start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S} UTC" in caption
    # Written back in full, so the address bar is a link to this view.
    assert app.query_params == {"window": "6h", "baseline": "90m", "min_samples": "30", "alpha": "0.05"}


def test_an_end_at_a_fixed_time_with_lengths(app_on: Any, seeded: Seeded) -> None:
    app = app_on(seeded, query={"end": "2026-01-01T00:00:00", "window": "2d", "baseline": "1d"},
                 page="categories")
    ctx = _context(app)
    new_year = datetime(2026, 1, 1, tzinfo=timezone.utc)  # no zone means UTC
    assert ctx.current == (new_year - timedelta(days=2), new_year)
    assert ctx.baseline == (new_year - timedelta(days=3), new_year - timedelta(days=2))
    assert app.query_params["end"] == "2026-01-01T00:00:00Z" and app.query_params["start"] == "2025-12-30T00:00:00Z"
    assert [e.value for e in app.info] == ["No samples in these windows."]


def test_the_sidebar_writes_the_url(app_on: Any, seeded: Seeded) -> None:
    relative = app_on(seeded, query={"window": "6h"},
                      state={"windows_length": "45m", "windows_latest": True, "min_samples": 12, "alpha": 0.01})
    assert relative.query_params == {"window": "45m", "baseline": "28d", "latest": "1", "min_samples": "12",
                                     "alpha": "0.01"}
    ctx = _context(relative)
    assert ctx.current[1] - ctx.current[0] == timedelta(minutes=45)
    assert ctx.current[1] <= seeded.now  # ends at the newest sample (an hour before the seed's "now")

    absolute = app_on(seeded, state={"windows_mode": "absolute", "windows_start": "2026-11-01T06:00:00Z",
                                     "windows_end": "2026-11-01T12:30:00+01:00", "windows_baseline_start": "",
                                     "windows_baseline_end": ""})
    ctx = _context(absolute)
    assert ctx.current == (datetime(2026, 11, 1, 6, tzinfo=timezone.utc), datetime(2026, 11, 1, 11, 30, tzinfo=timezone.utc))
    assert ctx.baseline == (ctx.current[0] - timedelta(days=28), ctx.current[0])
    assert absolute.query_params == {"start": "2026-11-01T06:00:00Z", "end": "2026-11-01T11:30:00Z",
                                     "min_samples": "30", "alpha": "0.05"}


@pytest.mark.parametrize(("query", "problem"), [
    ({"window": "soon"}, "window: 'soon' is not a duration"),
    ({"start": "yesterday"}, "start 'yesterday' is not an ISO 8601 time"),
    ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "the current window starts at"),
    ({"min_samples": "many"}, "min_samples must be a whole number"),
], ids=["bad-length", "bad-time", "reversed", "bad-number"])
def test_a_bad_link_says_so_and_shows_the_defaults(app_on: Any, seeded: Seeded, query: dict[str, str],
                                                   problem: str) -> None:
    app = app_on(seeded, query=query)
    errors = [e.value for e in app.sidebar.error]
    assert len(errors) == 1 and problem in errors[0] and "default" in errors[0]
    ctx = _context(app)
    assert ctx.current[1] - ctx.current[0] == timedelta(days=7)
    assert ctx.baseline[1] - ctx.baseline[0] == timedelta(days=28)
    assert (ctx.min_samples, ctx.alpha) == (30, 0.05)
    assert app.query_params == {"window": "7d", "baseline": "28d", "min_samples": "30", "alpha": "0.05"}


def test_the_link_of_a_page_opens_that_page(app_on: Any, seeded: Seeded) -> None:
    link = app_link("http://127.0.0.1:8501/", page="drift", current=(seeded.now - timedelta(days=7), seeded.now),
                    baseline=(seeded.now - timedelta(days=35), seeded.now - timedelta(days=7)))
    assert link.startswith("http://127.0.0.1:8501/drift?start=")
    app = app_on(seeded, query=_query_of(link), page="drift")
    assert [metric.value for metric in app.metric][:2] == ["104", "108"]


def test_an_alert_links_to_its_page_on_the_windows_it_compared(app_on: Any, fresh_store: Seeded) -> None:
    from sqlmodel import Session

    from reviewer.queries import TimeWindow
    from reviewer.store import Alert, make_engine

    now = fresh_store.now
    current = TimeWindow(now - timedelta(hours=6), now)
    baseline = TimeWindow(now - timedelta(days=7, hours=6), current.start)
    engine = make_engine(fresh_store.url)
    with Session(engine) as session:
        session.add(Alert(kind="score_drop", key="score_drop:shipping", status="firing", fired_at=now,
                          observed=0.057, expected=1.0, p_value=1e-12, message="shipping: pass rate 5.7%",
                          statistic={"min_drop": 0.05, "alpha": 0.01, "min_samples": 20, "window": str(current),
                                     "baseline_window": str(baseline)}, delivery_status="disabled"))
        session.commit()
    engine.dispose()
    app = app_on(fresh_store, page="alerts")
    chosen = next(o for o in app.selectbox(key="alerts_selected").options if "score_drop:shipping" in o)
    app.selectbox(key="alerts_selected").set_value(int(chosen.split()[0].lstrip("#"))).run()
    link = next(m.value for m in app.markdown if "on the windows it compared" in m.value)
    target = link.split("](", 1)[1].rstrip(")")
    assert target.startswith("./categories?")
    query = _query_of(target)
    assert WindowQuery.from_params(query).resolve(now) == ((current.start, current.end),
                                                          (baseline.start, baseline.end))
    assert (query["min_samples"], query["alpha"]) == ("20", "0.01")
    row = app.dataframe[0].value.set_index("key").loc["score_drop:shipping"]
    assert [row[c] for c in ("statistic", "threshold", "p-value", "alpha")] == ["-94.3 pts", "≤ -5.0 pts",
                                                                                "1.0e-12", "0.01"]
