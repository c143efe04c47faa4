"""Samples and their verdicts as a JSONL eval dataset (``tastevin export`` and the app's Export page).

One JSON object per line, UTF-8, keys in this order, ``"schema": "tastevin.eval/v1"``::

    {"schema": "tastevin.eval/v1",
     "id": "<sample_id>",
     "ts": "2026-11-01T00:00:00.000000Z",            # the call's start, UTC
     "category": "billing",
     "app": "support-bot",
     "model": "claude-sonnet-4-5",                    # the requested model
     "input": {"system_instructions": [...] | null,   # semconv parts
               "messages": [...]},                    # semconv input messages
     "output": [...],                                 # semconv output messages as sampled
     "expected_output": [...] | null,                 # see below
     "expected_output_source": "review" | "judge" | null,
     "rubric": [{"name", "version", "criteria", "checks", "pass_rule"}, ...],
     "verdict": "pass" | "fail" | "unscored" | null,  # the sample's verdict
     "verdicts": [{"rubric", "rubric_version", "judge_model", "verdict", "unscored_reason",
                   "rules_only", "criteria": [...], "checks": [...], "run_id", "judged_at"}, ...],
     "review": {"reviewer", "verdict", "agrees_with_judge", "note", "reviewed_at"} | null,
     "attributes": {...}}

* ``verdicts`` holds the judgments that count — one per rubric, by the rule of
  ``reviewer.store.verdicts`` (newest ``created_at``, at the same instant the worst
  verdict, then highest id) — sorted by rubric name; with a rubric filter, only that
  rubric's. ``criteria`` / ``checks`` are the judge's per-criterion results
  (``{"id", "kind", "verdict", "explanation", "reason"}``). ``unscored_reason`` says why
  an unscored judgment is unscored, and for a pass or a fail which criteria were skipped
  (``partial: 2 of 3 criteria unscored: …``); ``rules_only`` is true when the judgment
  was made without an LLM although the rubric has LLM criteria (judge_model ``none``).
* ``verdict`` is the sample's verdict by that same rule, computed by the same SQL as the
  Samples page and the statistics: ``fail`` if one of ``verdicts`` fails, else ``pass``
  if one passes, else ``unscored``; ``null`` when the sample was never judged.
* ``rubric`` lists the rubric versions of ``verdicts`` as stored in the ``rubric`` table
  (``criteria``, ``checks``, ``pass_rule`` are ``null`` for a version the table lacks),
  so a line can be graded again with the same rubric.
* ``review`` is the sample's most recent review by a person.
* ``expected_output`` is the sampled output when it is known to be good: the latest
  review says ``pass`` (source ``review``), or — only with ``expected_from="judge"`` —
  no one reviewed it and the judge's verdict is ``pass`` (source ``judge``). Otherwise
  ``null`` (a reviewed ``fail`` is never an expected output).
* Timestamps are RFC 3339 UTC with microseconds and a ``Z``.
* Top-level keys always come in the order above; inside stored JSON (messages,
  attributes, criteria) keys come as the store returns them — as written on SQLite,
  in JSONB's own order on PostgreSQL.

Samples come oldest first (``ts``, then id), fetched in keyset pages of ``chunk_size`` with
their judgments, reviews and rubrics in three more queries per page: memory stays bounded
however large the export, and nothing is loaded twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import IO, Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .browse import (
    JUDGMENT,
    REVIEW,
    RUBRIC,
    SAMPLE,
    SampleFilters,
    judgment_views,
    judgments_statement,
    page_statement,
    verdict_expression,
)

__all__ = ["EXPORT_SCHEMA", "ExpectedFrom", "export_jsonl", "iter_export_rows", "write_jsonl"]

EXPORT_SCHEMA = "tastevin.eval/v1"
DEFAULT_CHUNK_SIZE = 500
ExpectedFrom = Literal["review", "judge"]

_SAMPLE_COLUMNS = ("sample_id", "ts", "category", "app", "request_model", "system_instructions", "input_messages",
                   "output_messages", "attributes")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iter_export_rows(
    engine: Engine,
    filters: SampleFilters,
    *,
    limit: int | None = None,
    expected_from: ExpectedFrom = "review",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[dict[str, Any]]:
    """The dataset lines (as dicts, module docstring) of the samples matching ``filters``, oldest first.

    A generator: each page of ``chunk_size`` samples is read when the previous one was
    consumed, with a connection held only while a page is read. Stops after ``limit``
    lines when given. Raises ``ValueError`` for ``limit < 0`` or ``chunk_size < 1``.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    columns = [*(SAMPLE.c[name] for name in _SAMPLE_COLUMNS), verdict_expression(filters.rubric).label("verdict")]
    rubrics: dict[tuple[str, str], dict[str, Any]] = {}
    after: tuple[datetime, str] | None = None
    left = limit
    while left is None or left > 0:
        size = chunk_size if left is None else min(chunk_size, left)
        with engine.connect() as connection:
            page = connection.execute(page_statement(filters, columns, after=after, newest_first=False, limit=size)).all()
            if not page:
                return
            lines = _lines(connection, page, filters.rubric, rubrics, expected_from)
        yield from lines
        if left is not None:
            left -= len(page)
        if len(page) < size:
            return
        after = (page[-1].ts, page[-1].sample_id)


def _lines(
    connection: Connection,
    page: Sequence[sa.Row[Any]],
    rubric: str | None,
    rubrics: dict[tuple[str, str], dict[str, Any]],
    expected_from: ExpectedFrom,
) -> list[dict[str, Any]]:
    ids = [row.sample_id for row in page]
    judgment_query = judgments_statement().where(JUDGMENT.c.sample_id.in_(ids))
    if rubric is not None:
        judgment_query = judgment_query.where(JUDGMENT.c.rubric_name == rubric)
    judgments: dict[str, list[sa.Row[Any]]] = {}
    for row in connection.execute(judgment_query):
        judgments.setdefault(row.sample_id, []).append(row)
    reviews: dict[str, sa.Row[Any]] = {}
    review_query = (sa.select(REVIEW).where(REVIEW.c.sample_id.in_(ids))
                    .order_by(REVIEW.c.created_at.desc(), REVIEW.c.id.desc()))
    for row in connection.execute(review_query):
        reviews.setdefault(row.sample_id, row)
    latest = {sample_id: [v for v in judgment_views(rows) if v.latest] for sample_id, rows in judgments.items()}
    missing = {(v.rubric_name, v.rubric_version) for views in latest.values() for v in views} - rubrics.keys()
    if missing:
        names = {name for name, _ in missing}
        for row in connection.execute(sa.select(RUBRIC).where(RUBRIC.c.name.in_(names))):
            rubrics[(row.name, row.version)] = {"name": row.name, "version": row.version, "criteria": row.criteria,
                                                "checks": row.checks, "pass_rule": row.pass_rule}
        for name, version in missing - rubrics.keys():
            rubrics[(name, version)] = {"name": name, "version": version, "criteria": None, "checks": None,
                                        "pass_rule": None}
    out = []
    for row in page:
        views = latest.get(row.sample_id, [])
        verdict = row.verdict
        review = reviews.get(row.sample_id)
        expected, source = None, None
        if review is not None:
            if review.verdict == "pass":
                expected, source = row.output_messages, "review"
        elif expected_from == "judge" and verdict == "pass":
            expected, source = row.output_messages, "judge"
        out.append({
            "schema": EXPORT_SCHEMA,
            "id": row.sample_id,
            "ts": _iso(row.ts),
            "category": row.category,
            "app": row.app,
            "model": row.request_model,
            "input": {"system_instructions": row.system_instructions, "messages": row.input_messages},
            "output": row.output_messages,
            "expected_output": expected,
            "expected_output_source": source,
            "rubric": [rubrics[(v.rubric_name, v.rubric_version)] for v in views],
            "verdict": verdict,
            "verdicts": [
                {"rubric": v.rubric_name, "rubric_version": v.rubric_version, "judge_model": v.judge_model,
                 "verdict": v.verdict, "unscored_reason": v.unscored_reason, "rules_only": v.rules_only,
                 "criteria": v.criteria,
                 "checks": v.checks, "run_id": v.run_id, "judged_at": _iso(v.created_at)}
                for v in views
            ],
            "review": None if review is None else {
                "reviewer": review.reviewer, "verdict": review.verdict, "agrees_with_judge": review.agrees_with_judge,
                "note": review.note, "reviewed_at": _iso(review.created_at),
            },
            "attributes": row.attributes,
        })
    return out


def write_jsonl(rows: Iterator[dict[str, Any]], out: IO[bytes]) -> int:
    """Write ``rows`` to the binary stream ``out``, one compact JSON object per line; returns the count.

    Writes as it goes (no buffering of the whole dataset); does not close ``out``.
    """
    count = 0
    for row in rows:
        out.write(orjson.dumps(row, default=str) + b"\n")
        count += 1
    return count


def export_jsonl(
    engine: Engine,
    filters: SampleFilters,
    out: IO[bytes],
    *,
    limit: int | None = None,
    expected_from: ExpectedFrom = "review",
) -> int:
    """:func:`iter_export_rows` written to ``out`` with :func:`write_jsonl`; returns the number of lines."""
    return write_jsonl(iter_export_rows(engine, filters, limit=limit, expected_from=expected_from), out)
