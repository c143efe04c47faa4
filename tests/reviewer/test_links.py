"""Links into the review app: parameters in, windows out, and back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reviewer.links import LinkError, WindowQuery, app_link, format_time, parse_time

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone.utc)


def test_relative_lengths_in_minutes_hours_days() -> None:
    query = WindowQuery.from_params({"window": "6h", "baseline": "7d", "ignored": "x"})
    assert not query.absolute
    assert query.resolve(NOW) == ((NOW - timedelta(hours=6), NOW),
                                  (NOW - timedelta(hours=6, days=7), NOW - timedelta(hours=6)))
    assert WindowQuery.from_params({"window": "90m"}).resolve(NOW)[0] == (NOW - timedelta(minutes=90), NOW)
    assert query.to_params() == {"window": "6h", "baseline": "7d"}
    assert WindowQuery(latest=True).to_params() == {"window": "7d", "baseline": "28d", "latest": "1"}


def test_absolute_bounds_are_filled_from_the_lengths() -> None:
    query = WindowQuery.from_params({"start": "2026-12-01T00:00:00Z", "baseline": "12h"})
    assert query.absolute
    start = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert query.resolve(NOW) == ((start, NOW), (start - timedelta(hours=12), start))
    separate = WindowQuery.from_params({"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T06:00:00+02:00",
                                        "baseline_start": "2026-11-01T00:00:00", "baseline_end": "2026-11-02"})
    assert separate.resolve(NOW) == ((start, start + timedelta(hours=4)),
                                     (datetime(2026, 11, 1, tzinfo=timezone.utc),
                                      datetime(2026, 11, 2, tzinfo=timezone.utc)))


@pytest.mark.parametrize(("params", "message"), [
    ({"window": "0s"}, "window: '0s' is not a duration"),
    ({"baseline": "a week"}, "baseline: 'a week' is not a duration"),
    ({"end": "noon"}, "end 'noon' is not an ISO 8601 time"),
], ids=["zero", "words", "bad-time"])
def test_bad_parameters_say_which(params: dict[str, str], message: str) -> None:
    with pytest.raises(LinkError, match=message):
        WindowQuery.from_params(params)


def test_a_reversed_window_is_refused() -> None:
    query = WindowQuery.from_params({"start": "2026-12-03T00:00:00Z"})
    with pytest.raises(LinkError, match="the current window starts at 2026-12-03T00:00:00Z, not before its end"):
        query.resolve(NOW)


def test_times_print_in_utc_and_parse_back() -> None:
    moment = datetime(2026, 12, 2, 19, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "2026-12-02T18:30:05Z"
    assert format_time(moment.replace(microsecond=250_000)) == "2026-12-02T18:30:05.250000Z"
    assert parse_time(format_time(moment)) == moment
    assert parse_time("2026-12-02T18:30:05") == datetime(2026, 12, 2, 18, 30, 5, tzinfo=timezone.utc)


def test_app_link_states_both_windows_and_the_thresholds() -> None:
    split = NOW - timedelta(seconds=11)
    link = app_link("http://127.0.0.1:8501/", page="categories", current=(split, NOW),
                    baseline=(split - timedelta(seconds=11), split), min_samples=20, alpha=0.01)
    assert link == ("http://127.0.0.1:8501/categories?start=2026-12-02T17:59:49Z&end=2026-12-02T18:00:00Z"
                    "&baseline_start=2026-12-02T17:59:38Z&min_samples=20&alpha=0.01")
    apart = app_link("https://review.example.com/tastevin", current=(split, NOW),
                     baseline=(NOW - timedelta(days=2), NOW - timedelta(days=1)))
    assert apart == ("https://review.example.com/tastevin/?start=2026-12-02T17:59:49Z&end=2026-12-02T18:00:00Z"
                     "&baseline_start=2026-11-30T18:00:00Z&baseline_end=2026-12-01T18:00:00Z")
