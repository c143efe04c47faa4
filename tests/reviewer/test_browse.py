"""Browsing the store: verdicts as reviewer.queries defines them, keyset pages, one sample, time series, runs, alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from reviewer.activity import list_alerts, list_runs, run_cases
from reviewer.browse import (
    SampleFilters,
    count_samples,
    decode_cursor,
    filter_options,
    get_sample,
    latest_sample_ts,
    list_samples,
)
from reviewer.queries import TimeWindow, load_category_counts
from reviewer.series import cost_series, time_series
from reviewer.stats import pass_rate, summarize_overall
from reviewer.store import make_engine
from reviewer.errors import ConfigError
from tests.reviewer.app.seed import Seeded, seed_store


@pytest.fixture(scope="module")
def sqlite_seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, Engine]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('browse') / 'store.db'}"
    info = seed_store(url)
    engine = make_engine(url)
    yield info, engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest) -> Iterator[tuple[Seeded, Engine]]:
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_seeded")
        return
    url = request.getfixturevalue("pg_url")
    info = seed_store(url)
    engine = make_engine(url)
    yield info, engine
    engine.dispose()


def _all(engine: Engine, filters: SampleFilters, page_size: int) -> list[tuple[str, str | None, str]]:
    rows, cursor = [], None
    while True:
        page = list_samples(engine, filters, page_size=page_size, cursor=cursor)
        rows += [(row.sample_id, row.verdict, row.category) for row in page.rows]
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_verdicts_agree_with_the_category_counts_of_reviewer_queries(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    window = TimeWindow(info.now - timedelta(days=7), info.now + timedelta(minutes=1))
    rows = _all(engine, SampleFilters(since=window.start, until=window.end), page_size=1000)
    mine = Counter((category, verdict) for _, verdict, category in rows)
    for counts in load_category_counts(engine, window):
        assert (mine[(counts.category, "pass")], mine[(counts.category, "fail")], mine[(counts.category, "unscored")]) \
            == (counts.passed, counts.failed, counts.unscored)
        assert sum(n for (category, _), n in mine.items() if category == counts.category) == counts.samples
    assert mine[("billing", "fail")] == 30 and mine[("account", None)] == 5


def test_pages_walk_every_match_once_newest_first(seeded: tuple[Seeded, Engine]) -> None:
    _, engine = seeded
    everything = _all(engine, SampleFilters(), page_size=1000)
    assert len(everything) == 212
    assert _all(engine, SampleFilters(), page_size=7) == everything
    page = list_samples(engine, SampleFilters(), page_size=5)
    assert [row.ts for row in page.rows] == sorted((row.ts for row in page.rows), reverse=True)
    assert page.next_cursor is not None and decode_cursor(page.next_cursor)[1] == page.rows[-1].sample_id


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SampleFilters(category="billing", verdict="fail"), 33),
        (SampleFilters(verdict="unscored"), 1),
        (SampleFilters(verdict="pass", category="refunds"), 6),
        (SampleFilters(model="claude-haiku-4-5"), 36),
        (SampleFilters(rubric="support"), 207),
        (SampleFilters(rubric="other"), 0),
        (SampleFilters(text="TICKET 7:"), 1),  # case-insensitive; "Ticket 7" alone would match 70-79 too
        (SampleFilters(text="100%"), 0),  # LIKE wildcards are literal
    ],
    ids=["billing-fail", "unscored", "refunds-pass", "model", "rubric", "unknown-rubric", "text", "escaped"],
)
def test_filters(sqlite_seeded: tuple[Seeded, Engine], filters: SampleFilters, expected: int) -> None:
    _, engine = sqlite_seeded
    assert len(_all(engine, filters, page_size=50)) == expected
    assert count_samples(engine, filters) == (expected, False)


def test_a_sample_id_is_a_text_filter_and_counts_are_capped(sqlite_seeded: tuple[Seeded, Engine]) -> None:
    info, engine = sqlite_seeded
    assert [row[0] for row in _all(engine, SampleFilters(text=info.twice_judged.upper()), 10)] == [info.twice_judged]
    assert count_samples(engine, SampleFilters(), cap=100) == (100, True)


def test_bad_cursor_is_a_config_error(sqlite_seeded: tuple[Seeded, Engine]) -> None:
    _, engine = sqlite_seeded
    with pytest.raises(ConfigError, match="invalid page cursor"):
        list_samples(engine, SampleFilters(), cursor="not-a-cursor")


def test_get_sample_flags_the_latest_judgment_per_rubric(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    detail = get_sample(engine, info.twice_judged)
    assert detail is not None
    assert detail.verdict == "fail"
    assert [(j.rubric_version, j.verdict, j.latest) for j in detail.judgments] == [("v1", "fail", True),
                                                                                   ("v0", "pass", False)]
    assert detail.sample["category"] == "billing" and detail.sample["input_messages"][0]["role"] == "user"
    reviewed = get_sample(engine, info.failing_billing[1])
    assert reviewed is not None and [(r.reviewer, r.verdict) for r in reviewed.reviews] == [("ana", "fail")]
    assert get_sample(engine, "0" * 32) is None


@pytest.mark.parametrize("bucket", ["day", "hour"])
def test_time_series_adds_up_to_the_window(seeded: tuple[Seeded, Engine], bucket: str) -> None:
    info, engine = seeded
    window = TimeWindow(info.now - timedelta(days=40), info.now + timedelta(minutes=1))
    points = time_series(engine, window, bucket=bucket, min_samples=5)  # type: ignore[arg-type]
    overall = summarize_overall(load_category_counts(engine, window))
    assert sum(p.samples for p in points) == overall.samples == 212
    assert (sum(p.passed for p in points), sum(p.failed for p in points), sum(p.unscored for p in points)) == (
        overall.passed, overall.failed, overall.unscored)
    assert [p.start for p in points] == sorted(p.start for p in points)
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    assert all(p.start.tzinfo is not None and (p.start - points[0].start) % step == timedelta(0) for p in points)
    for p in points:
        assert p.pass_rate.n == p.passed + p.failed
        if p.pass_rate.ok:
            assert p.pass_rate.rate == pass_rate_of(p.passed, p.failed)


def test_cost_series_dates_spending_by_judgment(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    window = TimeWindow(info.now - timedelta(days=40), info.now + timedelta(minutes=1))
    points = cost_series(engine, window, bucket="day")
    assert sum(p.judgments for p in points) == 208
    assert sum(p.cost_usd for p in points) == pytest.approx(0.208)
    assert sum(p.input_tokens for p in points) == 207 * 900
    assert [p.start for p in points] == sorted({p.start for p in points})
    assert all(p.start.hour == 0 and window.start - timedelta(days=1) < p.start < window.end for p in points)
    assert cost_series(engine, TimeWindow(info.now + timedelta(days=1), info.now + timedelta(days=2))) == []


def pass_rate_of(passed: int, failed: int) -> float | None:
    from reviewer.stats import CategoryCounts

    return pass_rate(CategoryCounts.from_counts("x", passed=passed, failed=failed, sampling_rate=0.01),
                     min_samples=1).rate


def test_options_and_latest(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    options = filter_options(engine)
    assert options.categories == ("account", "billing", "refunds", "shipping")
    assert options.models == ("claude-haiku-4-5", "claude-sonnet-4-5")
    assert options.rubrics == ("support",)
    latest = latest_sample_ts(engine)
    assert latest is not None and info.now - timedelta(days=7) < latest < info.now


def test_runs_and_alerts(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    [run] = list_runs(engine)
    assert (run.id, run.status, run.judged, run.rubric_names) == (info.run_id, "completed", 208, ["support"])
    assert list_runs(engine, before_id=run.id) == []
    cases = run_cases(engine, run.id, limit=1000)
    assert len(cases) == 208 and cases[0].rubric == "support@v1" and cases[0].output_preview.startswith("I'm sorry")
    assert len(run_cases(engine, run.id, verdict="unscored")) == 1
    assert [(a.key, a.status) for a in list_alerts(engine)] == [("score_drop:billing", "firing"),
                                                                 ("drift:request_model", "resolved")]
    [firing] = list_alerts(engine, status="firing")
    assert firing.statistic["z"] == -5.3 and firing.delivery_status == "delivered"
    assert [a.kind for a in list_alerts(engine, kind="drift")] == ["drift"]
