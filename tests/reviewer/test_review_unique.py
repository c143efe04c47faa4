"""One review per person per judgment: the unique index, its migration over duplicates, record_review."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from reviewer.reviews import ReviewError, agreement_by_rubric, record_review
from reviewer.store import head_revision, make_engine, upgrade
from reviewer.store.migrate import alembic_config

T0 = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
SAMPLE_ID = "a" * 32
INDEX = "uq_review_judgment_id_reviewer"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _sample_and_judgments(connection: sa.Connection) -> tuple[int, int]:
    """A sample judged by two judge models (pass and fail); returns the two judgment ids."""
    connection.execute(sa.text(
        "INSERT INTO sample (sample_id, schema, trace_id, span_id, ts, app, env, release, category, provider, "
        "operation, request_model, params, input_messages, output_messages, latency_ms, sampling_rate, "
        "sampling_rule, redactions, truncated, attributes, input_chars, output_chars, kafka_topic, kafka_partition, "
        "kafka_offset, ingested_at) VALUES (:id, 'tastevin.sample/v1', :trace, :span, :ts, 'shop', 'prod', '1', "
        "'billing', 'anthropic', 'chat', 'claude-x', '{}', '[]', '[]', 100.0, 1.0, 'trace_id_ratio', '{}', false, "
        "'{}', 0, 0, 't', 0, 0, :ts)"
    ), {"id": SAMPLE_ID, "trace": "b" * 32, "span": "c" * 16, "ts": T0})
    ids = []
    for model, verdict in (("judge-a", "pass"), ("judge-b", "fail")):
        ids.append(connection.execute(sa.text(
            "INSERT INTO judgment (sample_id, rubric_name, rubric_version, judge_model, verdict, criteria, checks, "
            "created_at) VALUES (:id, 'support', 'v1', :model, :verdict, '[]', '[]', :ts) RETURNING id"
        ), {"id": SAMPLE_ID, "model": model, "verdict": verdict, "ts": T0}).scalar_one())
    return ids[0], ids[1]


def _review(connection: sa.Connection, judgment_id: int | None, reviewer: str, verdict: str, at: datetime) -> int:
    return int(connection.execute(sa.text(
        "INSERT INTO review (sample_id, judgment_id, reviewer, verdict, created_at) "
        "VALUES (:sample, :judgment, :reviewer, :verdict, :at) RETURNING id"
    ), {"sample": SAMPLE_ID, "judgment": judgment_id, "reviewer": reviewer, "verdict": verdict, "at": at}).scalar_one())


def _reviews(engine: Engine) -> set[tuple[int, int | None, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, judgment_id, reviewer, verdict FROM review")).all()
    return {tuple(row) for row in rows}  # type: ignore[misc]


def test_the_migration_keeps_each_persons_newest_review(engine: Engine) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0004_fewer_sample_indexes")
        first, second = _sample_and_judgments(connection)
        later = T0 + timedelta(hours=1)
        _review(connection, first, "alice", "pass", T0)
        newest = _review(connection, first, "alice", "fail", later + timedelta(hours=1))
        _review(connection, first, "alice", "pass", later)
        tie_low = _review(connection, second, "alice", "pass", later)
        tie_high = _review(connection, second, "alice", "fail", later)  # same instant: the higher id wins
        bob = _review(connection, first, "bob", "pass", T0)
        unattached = [_review(connection, None, "alice", "pass", T0), _review(connection, None, "alice", "fail", T0)]
    assert tie_low < tie_high
    assert upgrade(engine) == head_revision()  # through 0005_review_unique to the head
    assert _reviews(engine) == {
        (newest, first, "alice", "fail"),
        (tie_high, second, "alice", "fail"),
        (bob, first, "bob", "pass"),
        *((review_id, None, "alice", verdict) for review_id, verdict in zip(unattached, ("pass", "fail"))),
    }
    indexes = {index["name"]: index for index in sa.inspect(engine).get_indexes("review")}
    assert indexes[INDEX]["column_names"] == ["judgment_id", "reviewer"] and indexes[INDEX]["unique"]
    # The agreement statistics count each person once per judgment.
    (support,) = agreement_by_rubric(engine, min_samples=1)
    assert (support.n, support.both_fail, support.judge_pass_human_fail, support.both_pass) == (3, 1, 1, 1)

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004_fewer_sample_indexes")
    assert INDEX not in {index["name"] for index in sa.inspect(engine).get_indexes("review")}
    assert upgrade(engine) == head_revision()  # through 0005_review_unique to the head


def test_the_database_refuses_a_second_review_by_the_same_person(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        first, second = _sample_and_judgments(connection)
        _review(connection, first, "alice", "pass", T0)
        _review(connection, first, "bob", "pass", T0)  # another person
        _review(connection, second, "alice", "pass", T0)  # another judgment
    with pytest.raises(IntegrityError), engine.begin() as connection:
        _review(connection, first, "alice", "fail", T0 + timedelta(minutes=1))


def test_record_review_says_so_and_writes_nothing(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        first, _ = _sample_and_judgments(connection)
    review_id = record_review(engine, judgment_id=first, reviewer="alice", verdict="pass")
    with pytest.raises(ReviewError, match=rf"alice already reviewed judgment {first} \(review {review_id}\): "
                                          "one review per person per judgment"):
        record_review(engine, judgment_id=first, reviewer=" alice ", verdict="fail")
    assert _reviews(engine) == {(review_id, first, "alice", "pass")}
    assert record_review(engine, judgment_id=first, reviewer="bob", verdict="fail") != review_id


def test_two_saves_racing_write_one_review(pg_url: str) -> None:
    """A review being written in another transaction, not yet committed, is not visible to a
    look-before-insert; the unique index makes record_review wait for it and then refuse."""
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            first, _ = _sample_and_judgments(connection)
        outcome: dict[str, Any] = {}
        other = engine.connect()
        transaction = other.begin()
        _review(other, first, "alice", "pass", T0)  # uncommitted

        def save() -> None:
            try:
                outcome["id"] = record_review(engine, judgment_id=first, reviewer="alice", verdict="fail")
            except ReviewError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=save)
        thread.start()
        deadline = time.monotonic() + 30
        with engine.connect() as watcher:  # wait until record_review blocks on the other's index entry
            while not watcher.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one():
                assert time.monotonic() < deadline and thread.is_alive(), outcome
                time.sleep(0.02)
        transaction.commit()
        other.close()
        thread.join(30)
        assert not thread.is_alive()
        assert "id" not in outcome and "already reviewed" in str(outcome["error"])
        assert {(judgment, reviewer, verdict) for _, judgment, reviewer, verdict in _reviews(engine)} == {
            (first, "alice", "pass")
        }
    finally:
        engine.dispose()
