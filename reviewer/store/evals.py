"""The tables of datasets and eval runs (design "Contract 4"), as SQLModel models.

* ``dataset`` — a name and the version it points at (the latest one created or found).
* ``dataset_version`` — an immutable list of cases, identified by its content hash:
  ``version`` is the first 16 hex digits of the SHA-256 of the cases as canonical JSON, so
  storing the same content again finds the same row (unique on name and version).
* ``dataset_case`` — one case of a version: input (a string or semconv messages), system
  prompt, category, attributes (``expected_*`` values ride there), its own rubric criteria,
  expected and reference output, the production verdicts and the source sample.
* ``eval_run`` — one replay of one or more dataset versions on one candidate, judged with
  the judge's machinery: status ``pending → running → completed | failed | cancelled``
  with a stop reason, totals, pass rate and metrics. The HTTP API serves this row as is.
* ``eval_case`` — one (run, dataset case): its claim state, the candidate's output and
  its 200-character preview, inference latency, tokens, costs, error, verdict and the
  per-criterion results with the judge's raw replies. Unique on (run, dataset case), so a
  case is generated and judged once per run.

Like ``models``, no ``from __future__ import annotations``: SQLModel reads the annotations.
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from .base import EVAL_TABLES, JSON_TYPE, NULLABLE_JSON_TYPE, RUN_STATUSES, UTCDateTime, StoreModel, _check_in, utc_now

__all__ = [
    "CASE_STATES",
    "CASE_VERDICTS",
    "EVAL_TABLES",
    "Dataset",
    "DatasetCase",
    "DatasetVersion",
    "EvalCase",
    "EvalRun",
]

# pending: not started; claimed: a worker has it (claimed_at is its lease, renewed while it
# works); generated: the output is stored, judging is left; done: verdict stored.
CASE_STATES = ("pending", "claimed", "generated", "done")
# A case whose generation failed is ``errored``: never a pass or a fail.
CASE_VERDICTS = ("pass", "fail", "unscored", "errored")


class Dataset(StoreModel, table=True):
    """A dataset name and the version it points at (``latest_version``)."""

    __tablename__ = "dataset"

    name: str = Field(primary_key=True)
    latest_version: str
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DatasetVersion(StoreModel, table=True):
    """One immutable version of a dataset: its cases' content hash, counts and where it came from.

    ``categories`` maps category → number of cases; ``source`` says how it was made
    (``{"kind": "file", "path": …}`` or ``{"kind": "store", "filters": …}``).
    """

    __tablename__ = "dataset_version"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str = Field(max_length=16)
    content_hash: str = Field(max_length=64)
    case_count: int
    categories: dict[str, int] = Field(default_factory=dict, sa_type=JSON_TYPE)
    source: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DatasetCase(StoreModel, table=True):
    """One case of a dataset version, in id order (``position``).

    ``input`` is a string or a list of semconv messages; ``criteria`` the case's own LLM
    criteria (``[{"id", "question"}]``); ``production`` the verdicts production got
    (``{"verdict", "verdicts", "rubrics", "review"}``) when the case came from a sample.
    """

    __tablename__ = "dataset_case"
    __table_args__ = (
        sa.UniqueConstraint("dataset_version_id", "case_id"),
        sa.UniqueConstraint("dataset_version_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset_version_id: int = Field(foreign_key="dataset_version.id")
    position: int
    case_id: str
    category: str
    input: Any = Field(sa_type=JSON_TYPE)
    system_prompt: str | None = Field(default=None, sa_type=sa.Text)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    expected_output: str | None = Field(default=None, sa_type=sa.Text)
    reference_output: str | None = Field(default=None, sa_type=sa.Text)
    production: dict[str, Any] | None = Field(default=None, sa_type=NULLABLE_JSON_TYPE)
    source_sample_id: str | None = Field(default=None, max_length=32)


class EvalRun(StoreModel, table=True):
    """One eval run: a candidate replayed on dataset version(s) and judged (module docstring).

    ``datasets`` lists ``{"name", "version", "cases"}``; ``candidate`` is
    ``{"provider", "model", "system_prompt_hash", "template_hash", "max_tokens", "params"}``
    and ``prompt`` the system prompt or template text itself, so any worker can run it;
    ``rubrics`` lists ``{"name", "version"}``; ``settings`` the judging options. Totals
    count cases; ``pass_rate`` is passed / (passed + failed), NULL when none was scored.
    """

    __tablename__ = "eval_run"
    __table_args__ = (
        _check_in("status", RUN_STATUSES),
        sa.Index("ix_eval_run_name_id", "name", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    group_id: str | None = Field(default=None, index=True)
    status: str = Field(default="pending", index=True)
    stop_reason: str | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)
    datasets: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    candidate_provider: str
    candidate_model: str
    candidate: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    prompt: str | None = Field(default=None, sa_type=sa.Text)
    rubrics: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    judge_model: str | None = None
    judge_mode: str = "sync"
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    labels: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    submitted_by: str | None = None
    budget_usd: float | None = None
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    worker_id: str | None = None
    total_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    passed_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    failed_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    unscored_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    errored_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    pass_rate: float | None = None
    avg_inference_ms: float | None = None
    p50_inference_ms: float | None = None
    p95_inference_ms: float | None = None
    input_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    output_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    generation_cost_usd: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    judge_cost_usd: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    cost_per_1k_requests_usd: float | None = None
    # The CI gate's result against the baseline run (judge.evals.gate), when one was asked for.
    gate: dict[str, Any] | None = Field(default=None, sa_type=NULLABLE_JSON_TYPE)


class EvalCase(StoreModel, table=True):
    """One case of one eval run: claim state, output, metrics and verdict (module docstring).

    ``criteria`` holds the LLM criteria results and ``checks`` the rule checks (each a
    ``CriterionResult`` dict with its ``rubric``); ``judgments`` one entry per rubric that
    judged the case (name, version, judge model, verdict, reason); ``raw_reply`` the judge's
    raw replies as JSON text (rubric name → reply).
    """

    __tablename__ = "eval_case"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "dataset_case_id"),
        sa.Index("ix_eval_case_run_id_state", "run_id", "state"),
        _check_in("state", CASE_STATES),
        sa.CheckConstraint("verdict IS NULL OR verdict IN ('pass', 'fail', 'unscored', 'errored')", name="verdict"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_run.id")
    dataset_case_id: int = Field(foreign_key="dataset_case.id")
    dataset: str
    dataset_version: str = Field(max_length=16)
    case_id: str
    category: str
    state: str = "pending"
    worker_id: str | None = None
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    output: str | None = Field(default=None, sa_type=sa.Text)
    output_preview: str | None = Field(default=None, max_length=200)
    inference_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    generation_cost_usd: float | None = None
    judge_cost_usd: float | None = None
    cost_usd: float | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)
    verdict: str | None = None
    unscored_reason: str | None = Field(default=None, sa_type=sa.Text)
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    judgments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    raw_reply: str | None = Field(default=None, sa_type=sa.Text)
    judge_ms: float | None = None
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
