"""The app's only door to the store: cached wrappers around the reviewer query functions.

Pages call these, never SQL. Results are cached per argument set for ``TTL_S`` seconds
(``st.cache_data``: each session gets its own copy, so pages may not mutate them); the
engine is one per store URL and process (``st.cache_resource``). After a write (a
review) :func:`clear_after_review` drops what the write changed.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from sqlalchemy.engine import Engine

from reviewer import activity, browse, queries, reviews, rules_only, series, stats, trust
from reviewer.store import ensure_schema, make_engine

TTL_S = 60


@st.cache_resource(show_spinner=False)
def engine(db_url: str) -> Engine:
    """One engine per store URL for the whole Streamlit process (migrates a SQLite file if needed)."""
    created = make_engine(db_url)
    ensure_schema(created)
    return created


def _window(start: datetime, end: datetime) -> queries.TimeWindow:
    return queries.TimeWindow(start, end)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def options(db_url: str) -> browse.FilterOptions:
    return browse.filter_options(engine(db_url))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest_sample_ts(db_url: str) -> datetime | None:
    return browse.latest_sample_ts(engine(db_url))


@st.cache_data(ttl=TTL_S, show_spinner="Aggregating…")
def time_series(db_url: str, start: datetime, end: datetime, bucket: series.Bucket,
                min_samples: int) -> list[series.SeriesPoint]:
    return series.time_series(engine(db_url), _window(start, end), bucket=bucket, min_samples=min_samples)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def cost_series(db_url: str, start: datetime, end: datetime, bucket: series.Bucket) -> list[series.CostPoint]:
    return series.cost_series(engine(db_url), _window(start, end), bucket=bucket)


@st.cache_data(ttl=TTL_S, show_spinner="Counting verdicts…")
def category_counts(db_url: str, start: datetime, end: datetime) -> list[stats.CategoryCounts]:
    """Per-category counts of one window (``reviewer.queries``): the one expensive aggregate that the
    overview's headline, the category comparison and the mix/quality split all share."""
    return queries.load_category_counts(engine(db_url), _window(start, end))


def overall(db_url: str, start: datetime, end: datetime, min_samples: int) -> stats.CategorySummary:
    return stats.summarize_overall(category_counts(db_url, start, end), min_samples=min_samples)


def changes(db_url: str, current: tuple[datetime, datetime], baseline: tuple[datetime, datetime], min_samples: int,
            alpha: float) -> list[stats.CategoryChange]:
    """``queries.compare_windows``, from the shared cached counts."""
    return stats.compare_categories(category_counts(db_url, *baseline), category_counts(db_url, *current),
                                    alpha=alpha, min_samples=min_samples)


def decomposition(db_url: str, current: tuple[datetime, datetime], baseline: tuple[datetime, datetime],
                  min_samples: int) -> stats.RateChangeDecomposition:
    """``queries.decompose_windows``, from the shared cached counts."""
    return stats.decompose_pass_rate_change(category_counts(db_url, *baseline), category_counts(db_url, *current),
                                            min_samples=min_samples)


@st.cache_data(ttl=TTL_S, show_spinner="Computing drift…")
def drift(db_url: str, reference: tuple[datetime, datetime], current: tuple[datetime, datetime],
          min_samples: int) -> queries.DriftReport:
    return queries.drift_report(engine(db_url), reference=_window(*reference), current=_window(*current),
                                min_samples=min_samples)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def categorical_counts(db_url: str, start: datetime, end: datetime) -> queries.CategoricalCounts:
    return queries.load_categorical_counts(engine(db_url), _window(start, end))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def numeric_values(db_url: str, start: datetime, end: datetime) -> queries.NumericValues:
    return queries.load_numeric_values(engine(db_url), _window(start, end))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def samples_page(db_url: str, filters: browse.SampleFilters, cursor: str | None, page_size: int) -> browse.SamplePage:
    return browse.list_samples(engine(db_url), filters, page_size=page_size, cursor=cursor)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def samples_count(db_url: str, filters: browse.SampleFilters, cap: int) -> tuple[int, bool]:
    return browse.count_samples(engine(db_url), filters, cap=cap)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def sample(db_url: str, sample_id: str) -> browse.SampleDetail | None:
    return browse.get_sample(engine(db_url), sample_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def runs(db_url: str, limit: int, before_id: int | None) -> list[activity.RunRow]:
    return activity.list_runs(engine(db_url), limit=limit, before_id=before_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def run_cases(db_url: str, run_id: int, verdict: str | None) -> list[activity.RunCaseRow]:
    return activity.run_cases(engine(db_url), run_id, verdict=verdict)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def alerts(db_url: str, status: str | None, kind: str | None) -> list[activity.AlertRow]:
    return activity.list_alerts(engine(db_url), status=status, kind=kind)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def queue(db_url: str, rubric: str | None, verdict: str | None, include_unscored: bool,
          limit: int) -> list[reviews.QueueItem]:
    return reviews.review_queue(engine(db_url), rubric=rubric, verdict=verdict, include_unscored=include_unscored,
                                limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def queue_size(db_url: str, rubric: str | None, verdict: str | None, include_unscored: bool) -> tuple[int, bool]:
    return reviews.queue_size(engine(db_url), rubric=rubric, verdict=verdict, include_unscored=include_unscored)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def agreement(db_url: str, min_samples: int) -> list[reviews.Agreement]:
    return reviews.agreement_by_rubric(engine(db_url), min_samples=min_samples)


def record_review(db_url: str, *, judgment_id: int, reviewer: str, verdict: str, agrees_with_judge: bool | None,
                  note: str | None, from_audit: bool = False) -> int:
    """Store a review (not cached) and drop the cached results it changes; raises ``ReviewError``."""
    review_id = reviews.record_review(engine(db_url), judgment_id=judgment_id, reviewer=reviewer, verdict=verdict,
                                      agrees_with_judge=agrees_with_judge, note=note, from_audit=from_audit)
    clear_after_review()
    return review_id


@st.cache_data(ttl=TTL_S, show_spinner=False)
def audit_queue(db_url: str, rubric: str | None, reviewer: str | None, limit: int) -> list[reviews.QueueItem]:
    return reviews.audit_queue(engine(db_url), rubric=rubric, reviewer=reviewer, limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def audit_plan(db_url: str, rubric: str | None) -> list[trust.AuditStratum]:
    return trust.audit_plan(engine(db_url), rubric=rubric)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def judge_trust(db_url: str, start: datetime, end: datetime, min_samples: int) -> list[trust.RubricTrust]:
    return trust.trust_by_rubric(engine(db_url), _window(start, end), min_samples=min_samples)


def clear_after_review() -> None:
    for cached in (queue, queue_size, agreement, sample, audit_queue, audit_plan, judge_trust):
        cached.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def window_rules_only(db_url: str, start: datetime, end: datetime) -> rules_only.RulesOnly:
    return rules_only.window_rules_only(engine(db_url), _window(start, end))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def runs_rules_only(db_url: str, run_ids: tuple[int, ...]) -> dict[int, rules_only.RulesOnly]:
    return rules_only.runs_rules_only(engine(db_url), run_ids)
