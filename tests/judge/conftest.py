"""Fixtures for judge tests: a migrated store seeded with samples, rubrics, the judge client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import anthropic
import pytest
from sqlalchemy.engine import Engine

from judge.rubric import Rubric, parse_rubric
from reviewer.ingest.decode import decode
from reviewer.store import Sample, ensure_schema, make_engine
from tests.records import encode, make_record

SUPPORT_RUBRIC = """
name: support
description: Replies of the support bot.
categories: [billing, "ship*"]
pass: {mode: all}
criteria:
  - {id: acknowledges_issue, question: Acknowledges the customer's problem.}
  - {id: clear_next_steps, question: Provides clear next steps.}
checks:
  - {id: concise, type: max_length, chars: 2000}
"""

RULES_ONLY_RUBRIC = """
name: rules-only
categories: ["*"]
checks:
  - {id: concise, type: max_length, chars: 2000}
"""


def seed(engine: Engine, records: Sequence[dict[str, Any]]) -> list[str]:
    """Store wire records as samples (through the ingest decoder); returns their ids."""
    now = datetime.now(timezone.utc)
    rows = [decode(encode(r), topic="t", partition=0, offset=i, ingested_at=now) for i, r in enumerate(records)]
    with engine.begin() as connection:
        connection.execute(Sample.__table__.insert(), rows)  # type: ignore[attr-defined]
    return [r["sample_id"] for r in rows]


def records(n: int, *, categories: Sequence[str] = ("billing", "shipping"), start: int = 0) -> list[dict[str, Any]]:
    return [make_record(start + i, category=categories[i % len(categories)]) for i in range(n)]


@pytest.fixture
def support_rubric() -> Rubric:
    return parse_rubric(SUPPORT_RUBRIC, source="support.yaml")


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


def judge_client(url: str, **kwargs: Any) -> anthropic.AsyncAnthropic:
    options: dict[str, Any] = {"timeout": 10.0, "max_retries": 2} | kwargs
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=url, **options)
