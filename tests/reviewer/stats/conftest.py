"""A store on each backend, and rows built with the models."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reviewer.store import Judgment, Sample, ensure_schema, make_engine, refresh_sample_verdicts

T0 = datetime(2026, 1, 8, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on each backend (real SQLite file, real PostgreSQL)."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    ensure_schema(engine, auto_upgrade=True)
    yield engine
    engine.dispose()


_ids = random.Random(20260108)


def new_id() -> str:
    """A sample id as the sampler makes them: 128 random bits in hex (seeded here)."""
    return f"{_ids.getrandbits(128):032x}"


def make_sample(ts: datetime, **overrides: Any) -> Sample:
    fields: dict[str, Any] = {
        "sample_id": new_id(),
        "schema": "tastevin.sample/v1",
        "trace_id": "b" * 32,
        "ts": ts,
        "app": "shop",
        "env": "prod",
        "release": "1.0",
        "category": "billing",
        "provider": "anthropic",
        "operation": "chat",
        "request_model": "claude-x",
        "finish_reason": "stop",
        "input_tokens": 100,
        "output_tokens": 20,
        "latency_ms": 800.0,
        "sampling_rate": 0.01,
        "sampling_rule": "trace_id_ratio",
        "input_chars": 400,
        "output_chars": 80,
        "kafka_topic": "tastevin.samples",
        "kafka_partition": 0,
        "kafka_offset": 0,
    }
    fields.update(overrides)
    return Sample(**fields)


def make_judgment(
    sample: Sample,
    verdict: str,
    *,
    rubric: str = "helpfulness",
    version: str | None = None,
    model: str = "claude-judge",
    at: datetime | None = None,
    cost_usd: float | None = 0.001,
) -> Judgment:
    return Judgment(
        sample_id=sample.sample_id,
        rubric_name=rubric,
        rubric_version=version or f"{rubric}-v1",
        judge_model=model,
        verdict=verdict,
        unscored_reason="unparseable reply" if verdict == "unscored" else None,
        cost_usd=cost_usd,
        created_at=at or sample.ts + timedelta(hours=1),
    )


def store(engine: Engine, samples: Sequence[Sample], judgments: Sequence[Judgment] = ()) -> None:
    # expire_on_commit=False: the tests keep reading the rows' fields afterwards.
    with Session(engine, expire_on_commit=False) as session:
        session.add_all(samples)
        session.commit()
        session.add_all(judgments)
        session.commit()
    # What the judge does in the transaction that stores judgments.
    with engine.begin() as connection:
        refresh_sample_verdicts(connection, {judgment.sample_id for judgment in judgments})
