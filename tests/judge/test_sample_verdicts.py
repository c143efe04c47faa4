"""``store_judgments`` keeps each sample's verdict (table ``sample_verdict``) current, on both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from judge.claims import store_judgments
from reviewer.store import JudgeRun, Sample, SampleVerdict, ensure_schema, make_engine, refresh_sample_verdicts
from reviewer.store.models import Judgment
from tests.judge.conftest import records, seed

T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    created = make_engine(url)
    ensure_schema(created, auto_upgrade=True)
    yield created
    created.dispose()


def _run(engine: Engine) -> int:
    with Session(engine) as session:
        run = JudgeRun(status="running")
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def _row(sample_id: str, verdict: str, *, rubric: str = "support", version: str = "v1", model: str = "m",
         at: datetime = T0, cost_usd: float | None = 0.25) -> dict[str, Any]:
    return {"sample_id": sample_id, "rubric_name": rubric, "rubric_version": version, "judge_model": model,
            "verdict": verdict, "criteria": [], "checks": [], "cost_usd": cost_usd, "created_at": at}


def _verdicts(engine: Engine) -> dict[str, tuple[str, float | None]]:
    with Session(engine) as session:
        return {row.sample_id: (row.verdict, row.judge_cost_usd) for row in session.exec(select(SampleVerdict))}


def test_store_judgments_updates_the_verdicts_of_its_samples(engine: Engine) -> None:
    a, b, unjudged = seed(engine, records(3))
    run_id = _run(engine)
    store_judgments(engine, run_id, [_row(a, "pass"), _row(b, "unscored", cost_usd=None)])
    assert _verdicts(engine) == {a: ("pass", 0.25), b: ("unscored", None)}

    # Another rubric fails a; a newer version of b's rubric passes it; costs add up.
    later = T0 + timedelta(hours=1)
    store_judgments(engine, run_id, [_row(a, "fail", rubric="safety", version="s1", at=later),
                                     _row(b, "pass", version="v2", at=later, cost_usd=0.5)])
    assert _verdicts(engine) == {a: ("fail", 0.5), b: ("pass", 0.5)}

    # A newer safety judgment passes: a's latest judgments all pass again.
    store_judgments(engine, run_id, [_row(a, "pass", rubric="safety", version="s2", at=later + timedelta(hours=1))])
    assert _verdicts(engine) == {a: ("pass", 0.75), b: ("pass", 0.5)}
    assert unjudged not in _verdicts(engine)

    with Session(engine) as session:
        row, sample = session.get(SampleVerdict, a), session.get(Sample, a)
    assert row is not None and sample is not None
    assert (row.ts, row.category, row.sampling_rate) == (sample.ts, sample.category, sample.sampling_rate)


def test_a_concurrent_writer_of_the_same_sample_waits_and_sees_both_judgments(pg_url: str) -> None:
    """Worker A has stored a fail for the sample but not committed; worker B's pass must not win."""
    engine = make_engine(pg_url)
    ensure_schema(engine)
    [sample_id] = seed(engine, records(1))
    run_id = _run(engine)
    done = threading.Event()
    errors: list[BaseException] = []

    def worker_b() -> None:
        try:
            store_judgments(engine, run_id, [_row(sample_id, "pass", rubric="safety", version="s1")])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    with engine.connect() as observer, engine.begin() as worker_a:
        worker_a.execute(sa.insert(Judgment.__table__), [_row(sample_id, "fail")])  # type: ignore[attr-defined]
        refresh_sample_verdicts(worker_a, [sample_id])
        thread = threading.Thread(target=worker_b)
        thread.start()
        # B blocks on the sample's row lock (observed, not slept on blindly).
        deadline = time.monotonic() + 10
        while True:
            waiting = observer.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )).scalar_one()
            observer.rollback()
            if waiting or done.is_set() or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert waiting == 1 and not done.is_set()
    thread.join(10)
    assert not errors
    assert _verdicts(engine) == {sample_id: ("fail", 0.5)}
    engine.dispose()
