"""Judge runs and alerts as the review app lists them: paginated, newest first.

The same rows ``tastevin runs`` and ``tastevin alert`` work with, read here without
importing ``judge`` (the dependency goes judge → reviewer, and the ``[reviewer]`` extra
installs without the judge's). Functions take an ``Engine``, block on the database and
return frozen dataclasses of plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .browse import ALERT, JUDGMENT, RUN, SAMPLE, output_preview

__all__ = ["AlertRow", "RunCaseRow", "RunRow", "list_alerts", "list_runs", "run_cases"]

PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class RunRow:
    """A ``judge_run`` row (every column of interest to a reader)."""

    id: int
    status: str
    mode: str
    trigger: str
    rubric_names: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    judged: int
    passed: int
    failed: int
    unscored: int
    errored: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    budget_usd: float | None
    avg_latency_ms: float | None
    stop_reason: str | None
    error: str | None


_RUN_FIELDS = tuple(RunRow.__dataclass_fields__)


def list_runs(engine: Engine, *, limit: int = 20, before_id: int | None = None) -> list[RunRow]:
    """At most ``limit`` runs, newest (highest id) first, older than ``before_id`` when given."""
    statement = sa.select(*(RUN.c[name] for name in _RUN_FIELDS)).order_by(RUN.c.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(RUN.c.id < before_id)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [RunRow(**{**row._asdict(), "rubric_names": list(row.rubric_names or ())}) for row in rows]


@dataclass(frozen=True, slots=True)
class RunCaseRow:
    """One judgment of a run, with the sample's category and a preview of its output.

    ``results`` are the per-criterion results, rule checks first, then LLM criteria.
    """

    judgment_id: int
    sample_id: str
    category: str
    rubric: str
    verdict: str
    unscored_reason: str | None
    latency_ms: float | None
    cost_usd: float | None
    output_preview: str
    results: list[dict[str, Any]]


def run_cases(
    engine: Engine, run_id: int, *, verdict: str | None = None, limit: int | None = 200
) -> list[RunCaseRow]:
    """The judgments of run ``run_id`` in the order they were stored, at most ``limit`` (None: all),
    optionally of one verdict."""
    j, s = JUDGMENT.c, SAMPLE.c
    statement = (
        sa.select(j.id, j.sample_id, s.category, j.rubric_name, j.rubric_version, j.verdict, j.unscored_reason,
                  j.latency_ms, j.cost_usd, s.output_messages, j.checks, j.criteria)
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(j.run_id == run_id)
        .order_by(j.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    if verdict is not None:
        statement = statement.where(j.verdict == verdict)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return [
        RunCaseRow(r.id, r.sample_id, r.category, f"{r.rubric_name}@{r.rubric_version}", r.verdict,
                   r.unscored_reason, r.latency_ms, r.cost_usd, output_preview(r.output_messages, PREVIEW_CHARS),
                   [*(r.checks or ()), *(r.criteria or ())])
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An ``alert`` row: what fired on which key, observed vs expected, the test, the delivery."""

    id: int
    kind: str
    key: str
    status: str
    fired_at: datetime
    resolved_at: datetime | None
    observed: float | None
    expected: float | None
    p_value: float | None
    statistic: dict[str, Any]
    message: str
    delivery_status: str
    delivery_attempts: int
    last_delivery_error: str | None


_ALERT_FIELDS = tuple(AlertRow.__dataclass_fields__)


def list_alerts(engine: Engine, *, status: str | None = None, kind: str | None = None, limit: int = 200) -> list[AlertRow]:
    """At most ``limit`` alerts, most recently fired first, optionally of one status (``firing``/``resolved``) and kind."""
    statement = sa.select(*(ALERT.c[name] for name in _ALERT_FIELDS)).order_by(ALERT.c.fired_at.desc(), ALERT.c.id.desc())
    if status is not None:
        statement = statement.where(ALERT.c.status == status)
    if kind is not None:
        statement = statement.where(ALERT.c.kind == kind)
    with engine.connect() as connection:
        rows = connection.execute(statement.limit(limit)).all()
    return [AlertRow(**{**row._asdict(), "statistic": dict(row.statistic or {})}) for row in rows]
