"""The tables of the store (design "Contract 2"), as SQLModel models.

All models share one ``MetaData`` with a naming convention (``STORE_METADATA``), kept
apart from ``SQLModel.metadata`` so a host application's own SQLModel tables never mix
with ours, and so every constraint has a stable name that Alembic can drop on SQLite.

Conventions:

* Timestamps are :class:`UTCDateTime`: stored in UTC (``timestamptz`` on PostgreSQL),
  always read back timezone-aware; a naive datetime on write is taken to be UTC.
* JSON columns are ``JSON`` (``JSONB`` on PostgreSQL). Python ``None`` in a nullable
  JSON column is SQL ``NULL``. In-place mutation of a loaded dict/list is not tracked:
  assign a new value to persist a change.
* The allowed values of status-like columns are listed below (``RUN_STATUSES`` …) and
  enforced by CHECK constraints.

This module deliberately has no ``from __future__ import annotations``: SQLModel reads
the annotations at class creation.
"""

import warnings
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from .base import (  # noqa: F401 - re-exported: these names have always been read from here
    NAMING_CONVENTION,
    STORE_METADATA,
    VERDICTS,
    REVIEW_VERDICTS,
    RUN_STATUSES,
    RUN_MODES,
    RUN_TRIGGERS,
    ALERT_KINDS,
    ALERT_STATUSES,
    DELIVERY_STATUSES,
    DEAD_LETTER_REASONS,
    UNCATEGORIZED,
    utc_now,
    UTCDateTime,
    JSON_TYPE,
    NULLABLE_JSON_TYPE,
    _check_in,
    StoreModel,
)
from .base import EVAL_TABLES  # the datasets' and eval runs' tables (defined in ``evals``)

# `schema` shadows the long-deprecated pydantic `BaseModel.schema()`; the column must
# keep the wire record's name, and nothing here calls that method.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class SampleBase(StoreModel):
        """The content of one wire record (``tastevin.sample/v1``), flattened.

        ``usage``, ``error`` and ``sampling`` are spread into columns; ``input_chars`` /
        ``output_chars`` are the text lengths of the messages, kept for drift statistics.
        """

        sample_id: str = Field(primary_key=True, max_length=32)
        schema: str  # type: ignore[assignment]  # shadows the deprecated BaseModel.schema()
        trace_id: str = Field(max_length=32)
        span_id: str | None = None
        ts: datetime = Field(sa_type=UTCDateTime)  # indexed first in ix_sample_ts_window
        app: str  # indexed first in ix_sample_app_ts
        env: str
        release: str
        category: str = Field(default=UNCATEGORIZED)  # indexed first in ix_sample_category_ts
        provider: str
        operation: str
        request_model: str = Field(index=True)
        response_model: str | None = None
        params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
        system_instructions: list[dict[str, Any]] | None = Field(default=None, sa_type=NULLABLE_JSON_TYPE)
        input_messages: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
        output_messages: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
        finish_reason: str | None = None
        input_tokens: int | None = None
        output_tokens: int | None = None
        cache_read_input_tokens: int | None = None
        cache_write_input_tokens: int | None = None
        latency_ms: float
        ttft_ms: float | None = None
        error_type: str | None = None
        error_message: str | None = Field(default=None, sa_type=sa.Text)
        sampling_rate: float
        sampling_rule: str
        redactions: dict[str, int] = Field(default_factory=dict, sa_type=JSON_TYPE)
        truncated: bool = False
        attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
        input_chars: int = 0
        output_chars: int = 0

    class Sample(SampleBase, table=True):
        """One ingested record; ``sample_id`` is the primary key, so redelivery is a no-op.

        Keeps the Kafka topic/partition/offset it came from, for provenance.
        """

        __tablename__ = "sample"
        __table_args__ = (
            sa.Index("ix_sample_category_ts", "category", "ts"),
            sa.Index("ix_sample_app_ts", "app", "ts"),
            # Covers the window aggregates (counts per category, time series) and the drift
            # report's id draw, so they read this index instead of the wide rows.
            sa.Index(
                "ix_sample_ts_window", "ts", "category", "sampling_rate", "input_tokens", "output_tokens", "error_type",
                "sample_id",
            ),
        )

        kafka_topic: str
        kafka_partition: int
        kafka_offset: int = Field(sa_type=sa.BigInteger)
        ingested_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class DeadLetter(StoreModel, table=True):
    """A Kafka record that could not be ingested: raw bytes (capped), where it came from, why.

    Unique on (topic, partition, offset), so a redelivered poison record is stored once.
    ``reason`` is a short machine reason (see ``DEAD_LETTER_REASONS``), ``detail`` the
    human message; ``raw_size`` is the original size when ``raw`` was capped.
    """

    __tablename__ = "dead_letter"
    __table_args__ = (sa.UniqueConstraint("topic", "partition", "offset"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str
    partition: int
    offset: int = Field(sa_type=sa.BigInteger)
    key: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    raw: bytes = Field(sa_type=sa.LargeBinary)
    raw_size: int
    reason: str
    detail: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)


class Rubric(StoreModel, table=True):
    """A rubric as loaded from its file; ``version`` is a short content hash (16 hex).

    Unique on (name, version): loading an unchanged file again finds the existing row.
    """

    __tablename__ = "rubric"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str
    content_hash: str = Field(max_length=64)
    categories: list[str] = Field(default_factory=list, sa_type=JSON_TYPE)
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    pass_rule: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    judge_model: str | None = None
    judge_fraction: float = 1.0
    source_path: str | None = None
    # The whole validated rubric (the content the version hashes), so a judge can rebuild
    # a rubric whose file has since changed, e.g. to collect a batch submitted with it.
    spec: dict[str, Any] | None = Field(default=None, sa_type=NULLABLE_JSON_TYPE)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class JudgeRun(StoreModel, table=True):
    """One scheduled or manual judge run: ``pending → running → completed | failed | cancelled``.

    ``heartbeat_at`` / ``worker_id`` let workers sharing one database claim runs and
    take over runs whose worker died.
    """

    __tablename__ = "judge_run"
    __table_args__ = (
        _check_in("status", RUN_STATUSES),
        _check_in("mode", RUN_MODES),
        _check_in("trigger", RUN_TRIGGERS),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="pending", index=True)
    mode: str = "sync"
    trigger: str = "manual"
    rubric_names: list[str] = Field(default_factory=list, sa_type=JSON_TYPE)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    worker_id: str | None = None
    judged: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    passed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    failed: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    unscored: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    input_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    output_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cost_usd: float = Field(default=0.0, sa_column_kwargs={"server_default": "0"})
    budget_usd: float | None = None
    avg_latency_ms: float | None = None
    provider_batch_id: str | None = Field(default=None, index=True)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Why the run ended ("done", "budget", "limit", "signal", "error"); ``errored`` counts
    # judgments that could not be made (judge unreachable after retries) and were left
    # for a later run, not stored.
    stop_reason: str | None = None
    errored: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class JudgeClaim(StoreModel, table=True):
    """A (sample, rubric version, judge model) being judged by a run right now.

    The primary key is the judgment's own unique key, so two workers inserting the same
    claim cannot both win (``INSERT … ON CONFLICT DO NOTHING RETURNING``): a worker judges
    only what it claimed. The claim is deleted in the transaction that stores the
    judgment; claims of a run whose worker died are released when the run is taken over.
    """

    __tablename__ = "judge_claim"

    sample_id: str = Field(foreign_key="sample.sample_id", primary_key=True, max_length=32)
    rubric_version: str = Field(primary_key=True)
    judge_model: str = Field(primary_key=True)
    run_id: int = Field(foreign_key="judge_run.id", index=True)
    claimed_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class Judgment(StoreModel, table=True):
    """One verdict per (sample, rubric version, judge model) — enforced by a unique constraint.

    ``verdict`` is pass / fail / unscored (``unscored_reason`` says why); ``criteria``
    holds the per-criterion results with explanations, ``checks`` the rule check results,
    ``raw_reply`` the judge's reply as received.

    Finding "samples not yet judged for rubric version V by model M" is an anti-join
    served by two indexes: the unique constraint (sample_id, rubric_version, judge_model)
    answers the per-sample probe, ``ix_judgment_rubric_version_judge_model_sample_id``
    lists everything already judged for (V, M) without touching other versions.
    """

    __tablename__ = "judgment"
    __table_args__ = (
        sa.UniqueConstraint("sample_id", "rubric_version", "judge_model"),
        sa.Index("ix_judgment_rubric_version_judge_model_sample_id", "rubric_version", "judge_model", "sample_id"),
        _check_in("verdict", VERDICTS),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: str = Field(foreign_key="sample.sample_id", max_length=32, index=True)
    rubric_name: str
    rubric_version: str
    judge_model: str
    verdict: str = Field(index=True)
    unscored_reason: str | None = Field(default=None, sa_type=sa.Text)
    criteria: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON_TYPE)
    raw_reply: str | None = Field(default=None, sa_type=sa.Text)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    run_id: int | None = Field(default=None, foreign_key="judge_run.id", index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)


class SampleVerdict(StoreModel, table=True):
    """A judged sample's current verdict and judge cost, derived from its judgments.

    One row per sample with at least one judgment; ``verdict`` follows the rule of
    ``reviewer.store.verdicts`` and ``judge_cost_usd`` adds up every judgment's cost
    (NULL when none has one). ``ts``, ``category`` and ``sampling_rate`` are copies of the
    sample's (which never change), so window statistics group this narrow table alone.
    Kept current by ``refresh_sample_verdicts`` in the transaction that stores judgments.
    """

    __tablename__ = "sample_verdict"
    __table_args__ = (
        sa.Index(
            "ix_sample_verdict_ts_category_verdict", "ts", "category", "verdict", "sampling_rate", "judge_cost_usd"
        ),
        _check_in("verdict", VERDICTS),
    )

    sample_id: str = Field(foreign_key="sample.sample_id", primary_key=True, max_length=32)
    ts: datetime = Field(sa_type=UTCDateTime)
    category: str
    sampling_rate: float
    verdict: str
    judge_cost_usd: float | None = None


class Review(StoreModel, table=True):
    """A person's verdict on a sample, whether it agrees with the judge's, and whether it was an audit."""

    __tablename__ = "review"
    __table_args__ = (
        # One review per person per judgment (migration 0005_review_unique).
        sa.Index("uq_review_judgment_id_reviewer", "judgment_id", "reviewer", unique=True),
        _check_in("verdict", REVIEW_VERDICTS),
    )

    id: int | None = Field(default=None, primary_key=True)
    sample_id: str = Field(foreign_key="sample.sample_id", max_length=32, index=True)
    judgment_id: int | None = Field(default=None, foreign_key="judgment.id")
    reviewer: str
    verdict: str
    agrees_with_judge: bool | None = None
    note: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # Made from the random audit queue (migration 0007_audit): only these estimate the
    # judge's sensitivity and specificity; the others are a convenience sample.
    from_audit: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Alert(StoreModel, table=True):
    """What fired, on which ``key`` (e.g. ``score_drop:billing``), observed vs expected.

    ``statistic`` holds the test's details (name, counts, interval); delivery is tracked
    separately from firing, so a failed webhook is retried without firing again.
    """

    __tablename__ = "alert"
    __table_args__ = (
        _check_in("status", ALERT_STATUSES),
        _check_in("delivery_status", DELIVERY_STATUSES),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    key: str = Field(index=True)
    status: str = Field(default="firing", index=True)
    fired_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    observed: float | None = None
    expected: float | None = None
    statistic: dict[str, Any] = Field(default_factory=dict, sa_type=JSON_TYPE)
    p_value: float | None = None
    message: str = Field(sa_type=sa.Text)
    delivery_status: str = "pending"
    delivery_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_delivery_error: str | None = Field(default=None, sa_type=sa.Text)


class Golden(StoreModel, table=True):
    """A sample whose verdict on a rubric people settled: the judge's canary (migration 0007_audit).

    Unique per (sample, rubric); ``verdict`` is the person's, ``review_id`` the review it
    was promoted from (NULL once that review is gone).
    """

    __tablename__ = "golden"
    __table_args__ = (sa.UniqueConstraint("sample_id", "rubric_name"), _check_in("verdict", REVIEW_VERDICTS))

    id: int | None = Field(default=None, primary_key=True)
    sample_id: str = Field(foreign_key="sample.sample_id", max_length=32)
    rubric_name: str = Field(index=True)
    verdict: str
    review_id: int | None = Field(default=None, foreign_key="review.id", sa_column_kwargs={"nullable": True})
    added_by: str
    added_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class GoldenCheck(StoreModel, table=True):
    """One re-judging of a rubric's golden set by (rubric version, judge model): agreement with people.

    The 2×2 counts (judge verdict first), ``unscored`` re-judgments left out of them, and
    κ / accuracy / false-pass rate with its Wilson interval (NULL when not computable).
    """

    __tablename__ = "golden_check"
    __table_args__ = (sa.Index("ix_golden_check_rubric_name_checked_at", "rubric_name", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    rubric_name: str
    rubric_version: str
    judge_model: str
    checked_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    pass_pass: int = 0
    pass_fail: int = 0
    fail_pass: int = 0
    fail_fail: int = 0
    unscored: int = 0
    errored: int = 0
    kappa: float | None = None
    accuracy: float | None = None
    false_pass_rate: float | None = None
    false_pass_low: float | None = None
    false_pass_high: float | None = None


TABLES = (
    "sample", "dead_letter", "rubric", "judge_run", "judgment", "judge_claim", "sample_verdict", "review", "alert",
    *EVAL_TABLES,
    "golden", "golden_check",
)  # fmt: skip

# Imported last, so STORE_METADATA holds those tables whichever module a process imports first.
from . import evals as _evals  # noqa: E402,F401
