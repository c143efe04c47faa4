"""A generated multi-week store of stable (or deliberately changed) traffic, for alert tests and benchmarks.

Every feature comes from one distribution per run: categories uniform, pass rate
``pass_rate`` in every category, log-normal latency and token counts, one model and app.
``drop`` lowers one category's pass rate from ``drop_from`` on; ``unscored_from`` makes
the judge answer garbage (``unscored``) from then on, at ``unscored_share``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from reviewer.store import Judgment, refresh_sample_verdicts, utc_now
from tests.judge.conftest import seed
from tests.records import make_record

CATEGORIES = ("billing", "shipping", "refund", "account", "returns")


def build_store(
    engine: Engine,
    *,
    start: datetime,
    days: int,
    per_day: int,
    categories: Sequence[str] = CATEGORIES,
    pass_rate: float = 0.9,
    judge_model: str = "claude-haiku-4-5",
    drop: tuple[str, float] | None = None,
    drop_from: datetime | None = None,
    unscored_from: datetime | None = None,
    unscored_share: float = 0.5,
    seed_value: int = 7,
) -> int:
    """Fill ``engine`` with ``days × per_day`` judged samples from ``start``; returns the number stored."""
    rng = random.Random(seed_value)
    total = days * per_day
    records: list[dict[str, Any]] = []
    verdicts: list[str] = []
    for i in range(total):
        ts = start + timedelta(days=days * rng.random())
        category = categories[rng.randrange(len(categories))]
        latency = rng.lognormvariate(6.5, 0.5)
        record = make_record(i, rng=rng, category=category, ts=ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                             latency_ms=latency)
        record["usage"] = {"input_tokens": int(rng.lognormvariate(6, 0.4)), "output_tokens": int(rng.lognormvariate(5, 0.5)),
                           "cache_read_input_tokens": 0, "cache_write_input_tokens": None}
        rate = pass_rate
        if drop is not None and category == drop[0] and drop_from is not None and ts >= drop_from:
            rate = pass_rate - drop[1]
        verdict = "pass" if rng.random() < rate else "fail"
        if unscored_from is not None and ts >= unscored_from and rng.random() < unscored_share:
            verdict = "unscored"
        records.append(record)
        verdicts.append(verdict)
    ids = seed(engine, records)
    now = utc_now()
    rows: list[dict[str, Any]] = [{"sample_id": sid, "rubric_name": "support", "rubric_version": "v1", "judge_model": judge_model,
             "verdict": verdict, "unscored_reason": "unparseable judge reply" if verdict == "unscored" else None,
             "criteria": [], "checks": [], "created_at": now} for sid, verdict in zip(ids, verdicts, strict=True)]
    with engine.begin() as connection:
        connection.execute(Judgment.__table__.insert(), rows)  # type: ignore[attr-defined]
        refresh_sample_verdicts(connection, ids)
    return total
