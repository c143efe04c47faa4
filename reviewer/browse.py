"""Browse the store: filtered, paginated sample listings and one sample in full.

The read side of the review app (and of ``tastevin export``): plain functions taking an
``Engine``, returning frozen dataclasses of plain values (safe to cache and pickle). They
block on the database and let SQLAlchemy errors propagate. Nothing here loads a whole
table: listings are keyset-paginated on ``(ts, sample_id)``, and counts are capped,
so they stay fast at millions of samples.

**A sample's verdict** is the one rule of ``reviewer.store.verdicts`` (per rubric the
judgment that counts is the newest, at the same instant the worst, then the highest
``id``; any fail fails, else any pass passes, else unscored; ``None`` without
judgments), used here as correlated SQL (:func:`verdict_code`), evaluated only for the
rows a page needs, so a listing never ranks the whole judgment table. The statistics
read the same verdict from the table ``sample_verdict``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.engine import Engine

from .errors import ConfigError
from .store import Alert, JudgeRun, Judgment, Review, Rubric, Sample
from .store import verdicts
from .store.verdicts import VERDICT_CODES

__all__ = [
    "FilterOptions",
    "JudgmentView",
    "ReviewView",
    "SampleDetail",
    "SampleFilters",
    "SamplePage",
    "SampleRow",
    "Verdict",
    "count_samples",
    "filter_conditions",
    "filter_options",
    "get_sample",
    "judgment_views",
    "judgments_statement",
    "latest_sample_ts",
    "list_samples",
    "message_text",
    "verdict_code",
    "verdict_expression",
]

SAMPLE: Table = Sample.__table__  # type: ignore[attr-defined]
JUDGMENT: Table = Judgment.__table__  # type: ignore[attr-defined]
REVIEW: Table = Review.__table__  # type: ignore[attr-defined]
RUBRIC: Table = Rubric.__table__  # type: ignore[attr-defined]
RUN: Table = JudgeRun.__table__  # type: ignore[attr-defined]
ALERT: Table = Alert.__table__  # type: ignore[attr-defined]

Verdict = Literal["pass", "fail", "unscored"]
PREVIEW_CHARS = 160
DEFAULT_COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleFilters:
    """Which samples to list or export; every field is optional and they combine with AND.

    ``since`` / ``until`` bound ``ts`` as ``[since, until)`` (aware datetimes; naive ones
    are taken to be UTC). ``verdict`` is the sample's verdict (module docstring); with
    ``rubric`` set, only that rubric's judgments count, and only samples it judged match.
    ``text`` is a case-insensitive substring of the input or output messages, or a
    sample id. ``model`` is the requested model.
    """

    category: str | None = None
    verdict: Verdict | None = None
    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None
    text: str | None = None
    rubric: str | None = None


# --- the verdict of a sample, as correlated SQL ---------------------------------------------


def verdict_code(rubric: str | None = None) -> sa.ScalarSelect[Any]:
    """The verdict of the enclosing query's ``sample`` row as a number: 2 fail, 1 pass, 0 unscored, NULL none.

    ``reviewer.store.verdicts.sample_verdict_code`` of ``sample.sample_id`` (only
    ``rubric``'s judgments when given).
    """
    return verdicts.sample_verdict_code(SAMPLE.c.sample_id, rubric)


def verdict_expression(rubric: str | None = None) -> sa.ColumnElement[Any]:
    """The verdict of the enclosing query's ``sample`` row: ``'pass'``, ``'fail'``, ``'unscored'`` or NULL."""
    return verdicts.sample_verdict(SAMPLE.c.sample_id, rubric)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_conditions(filters: SampleFilters) -> list[sa.ColumnElement[bool]]:
    """The SQL conditions on ``sample`` for ``filters`` (for statements built elsewhere, e.g. the export)."""
    s = SAMPLE.c
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.category is not None:
        conditions.append(s.category == filters.category)
    if filters.model is not None:
        conditions.append(s.request_model == filters.model)
    if filters.since is not None:
        conditions.append(s.ts >= filters.since)
    if filters.until is not None:
        conditions.append(s.ts < filters.until)
    if filters.text:
        pattern = f"%{_like_escape(filters.text.lower())}%"
        conditions.append(
            sa.or_(
                s.sample_id == filters.text.strip().lower(),
                sa.func.lower(sa.cast(s.input_messages, sa.Text)).like(pattern, escape="\\"),
                sa.func.lower(sa.cast(s.output_messages, sa.Text)).like(pattern, escape="\\"),
            )
        )
    if filters.verdict is not None:
        conditions.append(verdict_code(filters.rubric) == VERDICT_CODES[filters.verdict])
    elif filters.rubric is not None:
        conditions.append(verdict_code(filters.rubric).is_not(None))
    return conditions


# --- listing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One line of a sample listing; ``output_preview`` is the output text, whitespace folded, cut."""

    sample_id: str
    ts: datetime
    category: str
    app: str
    request_model: str
    verdict: str | None
    latency_ms: float
    input_tokens: int | None
    output_tokens: int | None
    error_type: str | None
    output_preview: str


@dataclass(frozen=True, slots=True)
class SamplePage:
    """A page of samples, newest first; ``next_cursor`` fetches the next (older) page, None at the end."""

    rows: tuple[SampleRow, ...]
    next_cursor: str | None


def encode_cursor(ts: datetime, sample_id: str) -> str:
    """An opaque cursor for the position just after ``(ts, sample_id)``."""
    return base64.urlsafe_b64encode(f"{ts.astimezone(timezone.utc).isoformat()}|{sample_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The inverse of :func:`encode_cursor`; raises ``ConfigError`` for a token it did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, _, sample_id = text.partition("|")
        ts = datetime.fromisoformat(stamp)
        if not sample_id or ts.tzinfo is None:
            raise ValueError(text)
        return ts, sample_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid page cursor {cursor!r}: use the cursor of the previous page") from exc


def page_statement(
    filters: SampleFilters,
    columns: Sequence[sa.ColumnElement[Any]],
    *,
    after: tuple[datetime, str] | None,
    newest_first: bool,
    limit: int,
) -> sa.Select[Any]:
    """SELECT ``columns`` of the samples matching ``filters``, one keyset page ordered by ``(ts, sample_id)``."""
    s = SAMPLE.c
    statement = sa.select(*columns).select_from(SAMPLE).where(*filter_conditions(filters))
    if after is not None:
        ts, sample_id = after
        if newest_first:
            statement = statement.where(sa.or_(s.ts < ts, sa.and_(s.ts == ts, s.sample_id < sample_id)))
        else:
            statement = statement.where(sa.or_(s.ts > ts, sa.and_(s.ts == ts, s.sample_id > sample_id)))
    order = (s.ts.desc(), s.sample_id.desc()) if newest_first else (s.ts.asc(), s.sample_id.asc())
    return statement.order_by(*order).limit(limit)


def message_text(messages: Sequence[Any] | None) -> str:
    """The text parts of semconv messages, joined with newlines (other parts left out)."""
    texts: list[str] = []
    for message in messages or ():
        parts = message.get("parts") if isinstance(message, dict) else None
        for part in parts or ():
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
    return "\n".join(texts)


def output_preview(messages: Sequence[Any] | None, chars: int = PREVIEW_CHARS) -> str:
    """The text of ``messages`` with whitespace folded, cut to ``chars`` characters (ending in "…")."""
    text = " ".join(message_text(messages).split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def list_samples(
    engine: Engine, filters: SampleFilters, *, page_size: int = 50, cursor: str | None = None
) -> SamplePage:
    """One page of the samples matching ``filters``, newest first, each with its verdict.

    ``cursor`` is the ``next_cursor`` of the previous page. One query, served by the
    ``ts`` (or ``category, ts``) index and stopping after ``page_size + 1`` matches.
    Raises ``ValueError`` for ``page_size < 1``, ``ConfigError`` for a bad cursor.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    s = SAMPLE.c
    columns = [s.sample_id, s.ts, s.category, s.app, s.request_model, verdict_expression(filters.rubric).label("verdict"),
               s.latency_ms, s.input_tokens, s.output_tokens, s.error_type, s.output_messages]
    after = decode_cursor(cursor) if cursor else None
    statement = page_statement(filters, columns, after=after, newest_first=True, limit=page_size + 1)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    more = len(rows) > page_size
    page = tuple(
        SampleRow(r.sample_id, r.ts, r.category, r.app, r.request_model, r.verdict, float(r.latency_ms),
                  r.input_tokens, r.output_tokens, r.error_type, output_preview(r.output_messages))
        for r in rows[:page_size]
    )
    next_cursor = encode_cursor(page[-1].ts, page[-1].sample_id) if more else None
    return SamplePage(page, next_cursor)


def count_samples(engine: Engine, filters: SampleFilters, *, cap: int = DEFAULT_COUNT_CAP) -> tuple[int, bool]:
    """``(count, capped)``: the number of matching samples, counting at most ``cap`` (then ``capped`` is True).

    The cap keeps a count over a filter that cannot use an index (free text, verdict)
    bounded on a large store.
    """
    inner = sa.select(SAMPLE.c.sample_id).where(*filter_conditions(filters)).limit(cap + 1).subquery()
    with engine.connect() as connection:
        count = int(connection.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one())
    return min(count, cap), count > cap


# --- one sample in full ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JudgmentView:
    """A judgment of a sample; ``latest`` is True when it is the one that counts for its rubric.

    ``unscored_reason`` says why the judgment is unscored, or — for a pass or a fail — which
    criteria were skipped (``partial: …``). ``rules_only``: made without an LLM although the
    rubric has LLM criteria (``reviewer.store.verdicts.rules_only``).
    """

    id: int
    rubric_name: str
    rubric_version: str
    judge_model: str
    verdict: str
    unscored_reason: str | None
    criteria: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    raw_reply: str | None
    cost_usd: float | None
    latency_ms: float | None
    run_id: int | None
    created_at: datetime
    latest: bool
    rules_only: bool = False


@dataclass(frozen=True, slots=True)
class ReviewView:
    id: int
    judgment_id: int | None
    reviewer: str
    verdict: str
    agrees_with_judge: bool | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SampleDetail:
    """A sample row (``sample``: column → value), its judgments (by rubric, newest first) and reviews."""

    sample: dict[str, Any]
    verdict: str | None
    judgments: tuple[JudgmentView, ...] = field(default_factory=tuple)
    reviews: tuple[ReviewView, ...] = field(default_factory=tuple)


def judgments_statement() -> sa.Select[Any]:
    """``SELECT`` of every ``judgment`` column plus ``latest`` (the judgment counts for its rubric) and
    ``rules_only`` (made without the LLM its rubric asks for): the rows :func:`judgment_views` takes.
    Add the ``WHERE``."""
    return sa.select(JUDGMENT, verdicts.counts(JUDGMENT).label("latest"),
                     verdicts.rules_only(JUDGMENT).label("rules_only"))


def judgment_views(rows: Sequence[sa.Row[Any]]) -> tuple[JudgmentView, ...]:
    """Rows of :func:`judgments_statement` as views by rubric: the one that counts first, then newest first."""
    ordered = sorted(rows, key=lambda r: (r.rubric_name, not r.latest, -r.created_at.timestamp(),
                                          -VERDICT_CODES.get(r.verdict, 0), -r.id))
    return tuple(
        JudgmentView(r.id, r.rubric_name, r.rubric_version, r.judge_model, r.verdict, r.unscored_reason,
                     list(r.criteria or ()), list(r.checks or ()), r.raw_reply, r.cost_usd, r.latency_ms,
                     r.run_id, r.created_at, bool(r.latest), bool(r.rules_only))
        for r in ordered
    )


def get_sample(engine: Engine, sample_id: str) -> SampleDetail | None:
    """The sample ``sample_id`` with its judgments and reviews; None when there is no such sample."""
    s = SAMPLE.c
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(SAMPLE, verdict_expression().label("verdict")).where(s.sample_id == sample_id)
        ).first()
        if row is None:
            return None
        judgments = connection.execute(judgments_statement().where(JUDGMENT.c.sample_id == sample_id)).all()
        reviews = connection.execute(
            sa.select(REVIEW).where(REVIEW.c.sample_id == sample_id).order_by(REVIEW.c.created_at.desc(), REVIEW.c.id.desc())
        ).all()
    sample = {key: value for key, value in row._mapping.items() if key != "verdict"}
    return SampleDetail(
        sample=sample,
        verdict=row.verdict,
        judgments=judgment_views(judgments),
        reviews=tuple(ReviewView(r.id, r.judgment_id, r.reviewer, r.verdict, r.agrees_with_judge, r.note, r.created_at)
                      for r in reviews),
    )


# --- small look-ups --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The values the filters can take: distinct categories, requested models, rubric names."""

    categories: tuple[str, ...]
    models: tuple[str, ...]
    rubrics: tuple[str, ...]


def filter_options(engine: Engine) -> FilterOptions:
    """Distinct categories and models (index-only scans) and the rubric names known to the store."""
    with engine.connect() as connection:
        categories = connection.execute(sa.select(SAMPLE.c.category).distinct().order_by(SAMPLE.c.category)).scalars()
        categories_t = tuple(categories)
        models = tuple(connection.execute(
            sa.select(SAMPLE.c.request_model).distinct().order_by(SAMPLE.c.request_model)).scalars())
        rubrics = set(connection.execute(sa.select(RUBRIC.c.name).distinct()).scalars())
        if not rubrics:  # judgments written without the rubric table (e.g. older stores)
            rubrics = set(connection.execute(sa.select(JUDGMENT.c.rubric_name).distinct()).scalars())
    return FilterOptions(categories_t, models, tuple(sorted(rubrics)))


def latest_sample_ts(engine: Engine) -> datetime | None:
    """The newest ``sample.ts`` (an index look-up), None for an empty store."""
    with engine.connect() as connection:
        value = connection.execute(sa.select(sa.func.max(SAMPLE.c.ts))).scalar_one()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns the stored text for an aggregate
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
