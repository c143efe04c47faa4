"""The writer's fast path stores exactly what the ORM would."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from reviewer.ingest import BatchWriter, decode
from reviewer.store import Sample, ensure_schema, make_engine
from tests.records import encode, make_record

NOW = datetime(2026, 11, 22, 12, 30, 1, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'w.db'}"
    return request.getfixturevalue("pg_url")


def _row(i: int, **overrides: object) -> dict:
    return decode(encode(make_record(i, **overrides)), topic="t", partition=2, offset=i, ingested_at=NOW)


def test_fast_path_rows_read_back_like_orm_rows(url: str) -> None:
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    fast = _row(1, error={"type": "APITimeoutError", "message": "timed out"}, system_instructions=None, truncated=True)
    orm = _row(2)
    BatchWriter(engine).write_batch([fast], [])
    with Session(engine) as session:
        session.add(Sample(**orm))
        session.commit()
    with Session(engine) as session:
        stored = {s.sample_id: s for s in session.exec(select(Sample))}
    for row in (fast, orm):
        got = stored[row["sample_id"]].model_dump()
        assert got == row
    engine.dispose()


def test_redelivered_rows_are_skipped(url: str) -> None:
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    writer = BatchWriter(engine)
    rows = [_row(i) for i in range(5)]
    writer.write_batch(rows[:3], [])
    writer.write_batch(rows, [])  # a redelivered batch overlapping the first
    writer.write_batch(rows + rows, [])  # duplicates inside one batch too
    with Session(engine) as session:
        assert sorted(s.sample_id for s in session.exec(select(Sample))) == sorted(r["sample_id"] for r in rows)
    engine.dispose()


def test_a_large_batch_is_stored_whole_and_first_copies_win(url: str) -> None:
    # More rows than one multi-row INSERT holds on SQLite, with copies across its chunks.
    engine = make_engine(url)
    ensure_schema(engine, auto_upgrade=True)
    writer = BatchWriter(engine)
    rows = [_row(i) for i in range(1300)]
    later_copies = [dict(row, kafka_offset=row["kafka_offset"] + 10_000) for row in rows[::7]]
    writer.write_batch(rows + later_copies, [])
    with Session(engine) as session:
        stored = {s.sample_id: s.kafka_offset for s in session.exec(select(Sample))}
    assert stored == {row["sample_id"]: row["kafka_offset"] for row in rows}
    engine.dispose()
