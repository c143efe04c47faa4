"""The store: migrations, the schema policy, SQLite pragmas, models, `tastevin db`, on real databases."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from reviewer.errors import ConfigError
from reviewer.broker import free_port
from reviewer.store import (
    DEFAULT_DB_URL,
    STORE_METADATA,
    Alert,
    DeadLetter,
    JudgeRun,
    Judgment,
    Review,
    Rubric,
    Sample,
    SampleVerdict,
    StoreError,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    refresh_sample_verdicts,
    upgrade,
)
from reviewer.store.migrate import MIGRATION_LOCK_KEY, VERSION_TABLE, alembic_config
from reviewer.store.models import TABLES

TASTEVIN = [sys.executable, "-m", "reviewer.cli"]
ROOT = Path(__file__).resolve().parents[2]
HEAD = "0007_audit"
T0 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on each backend."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def engine(db_url: str) -> Any:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def make_sample(sample_id: str = "a" * 32, **overrides: Any) -> Sample:
    fields: dict[str, Any] = {
        "sample_id": sample_id,
        "schema": "tastevin.sample/v1",
        "trace_id": "b" * 32,
        "span_id": "c" * 16,
        "ts": T0,
        "app": "shop",
        "env": "prod",
        "release": "1.2.3",
        "category": "billing",
        "provider": "anthropic",
        "operation": "chat",
        "request_model": "claude-x",
        "response_model": "claude-x-2025",
        "params": {"max_tokens": 512, "temperature": 0.5, "stop_sequences": ["\n\nHuman:"]},
        "system_instructions": None,
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "Ça coûte combien ? 💶"}]}],
        "output_messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": "12 €"}], "finish_reason": "stop"}
        ],
        "finish_reason": "stop",
        "input_tokens": 20,
        "output_tokens": 3,
        "latency_ms": 812.5,
        "sampling_rate": 0.01,
        "sampling_rule": "trace_id_ratio",
        "redactions": {"email": 2},
        "attributes": {"prompt_version": "v7", "beta": True, "tier": 3},
        "input_chars": 21,
        "output_chars": 4,
        "kafka_topic": "tastevin.samples",
        "kafka_partition": 0,
        "kafka_offset": 2**40,
    }
    fields.update(overrides)
    return Sample(**fields)


# --- migrations -------------------------------------------------------------------------


def test_upgrade_from_empty_creates_the_contract_schema(engine: Any) -> None:
    assert current_revision(engine) is None
    assert head_revision() == HEAD
    assert upgrade(engine) == HEAD
    assert current_revision(engine) == HEAD

    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == {*TABLES, VERSION_TABLE}
    uniques = {
        table: {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)}
        for table in ("judgment", "dead_letter", "rubric")
    }
    assert uniques == {
        "judgment": {("sample_id", "rubric_version", "judge_model")},
        "dead_letter": {("topic", "partition", "offset")},
        "rubric": {("name", "version")},
    }
    indexes = {
        table: {index["name"]: tuple(index["column_names"]) for index in inspector.get_indexes(table)}
        for table in TABLES
    }
    assert indexes["sample"] == {
        "ix_sample_request_model": ("request_model",),
        "ix_sample_category_ts": ("category", "ts"),
        "ix_sample_app_ts": ("app", "ts"),
        "ix_sample_ts_window": (
            "ts", "category", "sampling_rate", "input_tokens", "output_tokens", "error_type", "sample_id",
        ),
    }
    assert indexes["sample_verdict"] == {
        "ix_sample_verdict_ts_category_verdict": ("ts", "category", "verdict", "sampling_rate", "judge_cost_usd"),
    }
    judgment_indexes = {k: v for k, v in indexes["judgment"].items() if k.startswith("ix_")}
    assert judgment_indexes == {
        "ix_judgment_sample_id": ("sample_id",),
        "ix_judgment_verdict": ("verdict",),
        "ix_judgment_run_id": ("run_id",),
        "ix_judgment_created_at": ("created_at",),
        "ix_judgment_rubric_version_judge_model_sample_id": ("rubric_version", "judge_model", "sample_id"),
    }
    assert indexes["dead_letter"]["ix_dead_letter_received_at"] == ("received_at",)
    assert indexes["judge_run"]["ix_judge_run_provider_batch_id"] == ("provider_batch_id",)
    assert indexes["alert"]["ix_alert_key"] == ("key",)
    assert indexes["review"]["ix_review_sample_id"] == ("sample_id",)
    foreign_keys = {
        (table, tuple(fk["constrained_columns"]), fk["referred_table"])
        for table in ("judgment", "review", "sample_verdict")
        for fk in inspector.get_foreign_keys(table)
    }
    assert foreign_keys == {
        ("judgment", ("sample_id",), "sample"),
        ("judgment", ("run_id",), "judge_run"),
        ("review", ("sample_id",), "sample"),
        ("review", ("judgment_id",), "judgment"),
        ("sample_verdict", ("sample_id",), "sample"),
    }
    assert {c["name"]: c["nullable"] for c in inspector.get_columns("sample")}["category"] is False


def test_migration_matches_the_models(engine: Any) -> None:
    """Autogenerate finds nothing to do: the hand-cleaned 0001 revision is exactly models.py."""
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE, "target_metadata": STORE_METADATA}
        )
        assert compare_metadata(context, STORE_METADATA) == []


def test_upgrade_twice_is_a_no_op(engine: Any) -> None:
    assert upgrade(engine) == HEAD
    with Session(engine) as session:
        session.add(make_sample())
        session.commit()
    assert upgrade(engine) == HEAD
    with Session(engine) as session:
        assert len(session.exec(select(Sample)).all()) == 1


def _stamp(engine: Any, revision: str) -> None:
    with engine.begin() as connection:
        command.stamp(alembic_config(connection), revision, purge=True)


def test_upgrade_from_0001_keeps_runs_and_down_again(engine: Any) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001_initial")
        connection.execute(sa.text("INSERT INTO judge_run (status, mode, \"trigger\", rubric_names, created_at) "
                                   "VALUES ('completed', 'sync', 'manual', '[]', CURRENT_TIMESTAMP)"))
    assert current_revision(engine) == "0001_initial"
    assert upgrade(engine) == HEAD
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT errored, stop_reason FROM judge_run")).one() == (0, None)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001_initial")
    assert "judge_claim" not in sa.inspect(engine).get_table_names()
    assert upgrade(engine) == HEAD


def test_upgrade_from_0002_fills_sample_verdicts_by_the_verdict_rule(engine: Any) -> None:
    """The migration's backfill and ``refresh_sample_verdicts`` (what the judge runs) agree."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002_judge_claims")
    t0 = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
    later = t0 + timedelta(hours=1)
    # (sample, [(rubric, version, model, verdict, created_at, cost)]) -> expected verdict, cost
    cases: dict[str, tuple[list[tuple[str, str, str, str, datetime, float | None]], str | None, float | None]] = {
        "pass": ([("r", "v1", "m", "pass", t0, 0.25)], "pass", 0.25),
        "superseded-fail": ([("r", "v1", "m", "fail", t0, 0.5), ("r", "v2", "m", "pass", later, 0.5)], "pass", 1.0),
        "one-rubric-fails": ([("r", "v1", "m", "pass", t0, None), ("s", "s1", "m", "fail", t0, None)], "fail", None),
        "unscored-skipped": ([("r", "v1", "m", "pass", t0, 0.1), ("s", "s1", "m", "unscored", later, None)],
                             "pass", 0.1),
        "now-unscored": ([("r", "v1", "m", "fail", t0, 0.1), ("r", "v2", "m", "unscored", later, 0.1)],
                         "unscored", 0.2),
        "same-instant": ([("r", "v1", "a", "fail", t0, 0.1), ("r", "v1", "b", "pass", t0, 0.1)], "fail", 0.2),
        "unjudged": ([], None, None),
    }
    ids = {name: f"{index:032x}" for index, name in enumerate(cases)}
    with Session(engine) as session:
        session.add_all(make_sample(sample_id, ts=t0) for sample_id in ids.values())
        session.commit()
        session.add_all(
            Judgment(sample_id=ids[name], rubric_name=rubric, rubric_version=version, judge_model=model,
                     verdict=verdict, created_at=at, cost_usd=cost)
            for name, (judgments, _, _) in cases.items()
            for rubric, version, model, verdict, at, cost in judgments
        )
        session.commit()
    assert upgrade(engine) == HEAD

    def verdicts() -> dict[str, tuple[str, float | None]]:
        with Session(engine) as session:
            return {row.sample_id: (row.verdict, row.judge_cost_usd) for row in session.exec(select(SampleVerdict))}

    expected = {ids[name]: (verdict, cost) for name, (_, verdict, cost) in cases.items() if verdict is not None}
    backfilled = verdicts()
    assert backfilled.keys() == expected.keys()
    for sample_id, (verdict, cost) in expected.items():
        assert backfilled[sample_id][0] == verdict
        assert backfilled[sample_id][1] == (None if cost is None else pytest.approx(cost, abs=1e-12))
    # The runtime rule agrees, and recomputing changes nothing.
    with engine.begin() as connection:
        refresh_sample_verdicts(connection)
        refresh_sample_verdicts(connection, [])
    assert verdicts() == backfilled
    with Session(engine) as session:
        verdict_row = session.get(SampleVerdict, ids["pass"])
        assert verdict_row is not None
        assert (verdict_row.ts, verdict_row.category, verdict_row.sampling_rate) == (t0, "billing", 0.01)


def test_ensure_schema_auto_upgrades_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert ensure_schema(engine) == HEAD
    assert current_revision(engine) == HEAD
    assert ensure_schema(engine, auto_upgrade=False) == HEAD


def test_ensure_schema_can_refuse_sqlite_too(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with pytest.raises(ConfigError) as caught:
        ensure_schema(engine, auto_upgrade=False)
    assert str(caught.value) == (
        f"database schema is at base, this tastevin needs {HEAD}: run `tastevin db upgrade --db {sqlite_url}`"
    )
    assert current_revision(engine) is None


def test_ensure_schema_upgrades_an_empty_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    assert ensure_schema(engine) == HEAD
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_ensure_schema_refuses_a_behind_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    _stamp(engine, "base")
    assert current_revision(engine) is None
    with pytest.raises(ConfigError) as caught:
        ensure_schema(engine)
    shown = f"postgresql+psycopg://postgres@127.0.0.1:{engine.url.port}/{engine.url.database}"
    assert str(caught.value) == (
        f"database schema is at base, this tastevin needs {HEAD}: run `tastevin db upgrade --db {shown}`"
    )
    assert current_revision(engine) is None  # refused, not migrated
    engine.dispose()


def test_ensure_schema_refuses_a_postgres_with_foreign_tables(pg_url: str) -> None:
    engine = make_engine(pg_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE someone_elses (id int)")
    with pytest.raises(ConfigError, match="run `tastevin db upgrade --db "):
        ensure_schema(engine)
    assert ensure_schema(engine, auto_upgrade=True) == HEAD
    engine.dispose()


def test_ensure_schema_refuses_a_revision_from_a_newer_tastevin(engine: Any) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099_future'"))
    with pytest.raises(ConfigError, match=rf"at 0099_future, which this tastevin \(head {HEAD}\) does not know"):
        ensure_schema(engine, auto_upgrade=True)
    with pytest.raises(StoreError, match="newer"):
        upgrade(engine)


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    engine = make_engine(f"postgresql://tv:hunter2@127.0.0.1:{free_port()}/tastevin")
    with pytest.raises(StoreError) as caught:
        ensure_schema(engine)
    message = str(caught.value)
    assert message.startswith("cannot connect to the database postgresql+psycopg://tv:***@127.0.0.1:")
    assert "hunter2" not in message and "TASTEVIN_DB_URL" in message


# --- engines ----------------------------------------------------------------------------


def test_sqlite_pragmas_are_in_effect(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 30000}
    upgrade(engine)
    with engine.connect() as connection:  # still on after the migration turned them off
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with Session(engine) as session:
        session.add(Judgment(sample_id="f" * 32, rubric_name="r", rubric_version="v", judge_model="m", verdict="pass"))
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            session.commit()
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, DEFAULT_DB_URL),
        ("postgres://u:p@db:5432/tv", "postgresql+psycopg://u:p@db:5432/tv"),
        ("postgresql://u@db/tv", "postgresql+psycopg://u@db/tv"),
        ("postgresql+psycopg://u@db/tv", "postgresql+psycopg://u@db/tv"),
        ("sqlite://", "sqlite://"),
    ],
    ids=["default", "postgres", "postgresql", "psycopg", "sqlite-memory"],
)
def test_make_engine_urls(url: str | None, expected: str) -> None:
    engine = make_engine(url)
    assert engine.url.render_as_string(hide_password=False) == expected
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tastevin.db", "could not parse the database URL"),
        ("mysql://u:hunter2@h/d", "unsupported database 'mysql' in mysql://u:***@h/d"),
        ("postgresql+psycopg2://u@h/d", "only psycopg 3"),
        ("sqlite:////no/such/dir/t.db", "the directory of the SQLite database '/no/such/dir/t.db' does not exist"),
    ],
    ids=["no-scheme", "mysql", "psycopg2", "missing-dir"],
)
def test_bad_url_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="postgresql://user:password@host:5432/dbname|only psycopg 3") as caught:
        make_engine(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


# --- models -----------------------------------------------------------------------------


def test_model_round_trip(engine: Any) -> None:
    upgrade(engine)
    paris = timezone(timedelta(hours=1))
    with Session(engine) as session:
        run = JudgeRun(mode="batch", trigger="schedule", rubric_names=["billing", "tone*"])
        session.add(make_sample(ts=T0.astimezone(paris)))
        session.add(run)
        session.add(
            Rubric(name="billing", version="0123456789abcdef", content_hash="e" * 64, categories=["billing*"],
                   criteria=[{"name": "correct", "weight": 2}], checks=[{"kind": "max_chars", "limit": 900}],
                   pass_rule={"min_score": 0.8})
        )
        session.commit()
        run_id = run.id
        judgment = Judgment(
            sample_id="a" * 32, rubric_name="billing", rubric_version="0123456789abcdef", judge_model="judge-1",
            verdict="fail", criteria=[{"name": "correct", "passed": False, "explanation": "wrong total"}],
            checks=[{"name": "max_chars", "passed": True}], raw_reply='{"correct": false}', input_tokens=900,
            output_tokens=40, cost_usd=0.0123, latency_ms=1500.0, run_id=run_id,
        )
        session.add(judgment)
        session.commit()
        session.add(Review(sample_id="a" * 32, judgment_id=judgment.id, reviewer="ana", verdict="fail",
                           agrees_with_judge=True, note="indeed"))
        session.add(Alert(kind="score_drop", key="score_drop:billing", observed=0.61, expected=0.9,
                          statistic={"test": "two_proportion_z", "n": [120, 800]}, p_value=0.0004,
                          message="billing pass rate fell from 90% to 61%"))
        session.add(DeadLetter(topic="tastevin.samples", partition=3, offset=2**40, key=b"\x00k", raw=b"\xff\xfe{",
                               raw_size=3, reason="invalid_utf8", detail="byte 0xff at 0"))
        session.commit()

    with Session(engine) as session:
        sample = session.exec(select(Sample)).one()
        assert sample.ts == T0 and sample.ts.tzinfo == timezone.utc
        assert sample.ingested_at.tzinfo == timezone.utc
        assert sample.model_dump() == make_sample(ingested_at=sample.ingested_at).model_dump()
        assert sample.system_instructions is None
        judgment = session.exec(select(Judgment)).one()
        assert judgment.criteria == [{"name": "correct", "passed": False, "explanation": "wrong total"}]
        assert (judgment.verdict, judgment.run_id, judgment.cost_usd) == ("fail", run_id, 0.0123)
        review = session.exec(select(Review)).one()
        assert (review.judgment_id, review.agrees_with_judge, review.verdict) == (judgment.id, True, "fail")
        stored_run = session.exec(select(JudgeRun)).one()
        assert (stored_run.status, stored_run.judged, stored_run.cost_usd, stored_run.finished_at) == (
            "pending", 0, 0.0, None)
        assert stored_run.rubric_names == ["billing", "tone*"]
        alert = session.exec(select(Alert)).one()
        assert (alert.status, alert.delivery_status, alert.delivery_attempts) == ("firing", "pending", 0)
        assert alert.statistic == {"test": "two_proportion_z", "n": [120, 800]}
        letter = session.exec(select(DeadLetter)).one()
        assert (letter.key, letter.raw, letter.offset) == (b"\x00k", b"\xff\xfe{", 2**40)
        rubric = session.exec(select(Rubric)).one()
        assert rubric.pass_rule == {"min_score": 0.8} and rubric.judge_fraction == 1.0
    with engine.connect() as connection:  # None in a nullable JSON column is SQL NULL, not 'null'
        query = "SELECT count(*) FROM sample WHERE system_instructions IS NULL"
        assert connection.execute(sa.text(query)).scalar() == 1


def test_one_judgment_per_sample_rubric_version_and_judge_model(engine: Any) -> None:
    upgrade(engine)
    with Session(engine) as session:
        session.add(make_sample())
        session.commit()

    def judge(model: str, version: str = "v1") -> Judgment:
        return Judgment(sample_id="a" * 32, rubric_name="r", rubric_version=version, judge_model=model, verdict="pass")

    with Session(engine) as session:
        session.add_all([judge("m1"), judge("m2"), judge("m1", "v2")])
        session.commit()
        session.add(judge("m1"))
        with pytest.raises(IntegrityError):
            session.commit()
    with Session(engine) as session:
        assert len(session.exec(select(Judgment)).all()) == 3


@pytest.mark.parametrize(
    "make_row",
    [
        lambda: Judgment(sample_id="a" * 32, rubric_name="r", rubric_version="v", judge_model="m", verdict="maybe"),
        lambda: JudgeRun(status="paused"),
        lambda: JudgeRun(mode="stream"),
        lambda: Review(sample_id="a" * 32, reviewer="ana", verdict="unscored"),
        lambda: Alert(kind="volume", key="volume:x", status="snoozed", message="m"),
        lambda: Alert(kind="volume", key="volume:x", delivery_status="lost", message="m"),
    ],
    ids=["judgment-verdict", "run-status", "run-mode", "review-verdict", "alert-status", "alert-delivery"],
)
def test_status_columns_reject_unknown_values(engine: Any, make_row: Any) -> None:
    upgrade(engine)
    with Session(engine) as session:
        session.add(make_sample())
        session.commit()
        session.add(make_row())
        with pytest.raises(IntegrityError):
            session.commit()


def test_a_redelivered_poison_record_is_stored_once(engine: Any) -> None:
    upgrade(engine)

    def letter() -> DeadLetter:
        return DeadLetter(topic="t", partition=0, offset=7, raw=b"x", raw_size=1, reason="invalid_json", detail="d")

    with Session(engine) as session:
        session.add(letter())
        session.commit()
        session.add(letter())
        with pytest.raises(IntegrityError):
            session.commit()


# --- the CLI ----------------------------------------------------------------------------


def tastevin(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TASTEVIN, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.mark.slow
def test_cli_db_upgrade_twice(db_url: str) -> None:
    shown = make_engine(db_url).url.render_as_string(hide_password=True)
    first = tastevin("db", "upgrade", "--db", db_url)
    assert (first.returncode, first.stderr) == (0, "")
    assert first.stdout == f"{shown}: upgraded from an empty database to revision {HEAD}\n"
    second = tastevin("db", "upgrade", "--db", db_url)
    assert (second.returncode, second.stdout) == (0, f"{shown}: already at revision {HEAD}\n")
    current = tastevin("db", "current", "--db", db_url)
    assert (current.returncode, current.stdout) == (0, f"{shown}: at revision {HEAD} (head)\n")
    assert current_revision(make_engine(db_url)) == HEAD


@pytest.mark.slow
def test_cli_db_upgrade_reads_the_environment_and_defaults_to_a_local_file(tmp_path: Path, sqlite_url: str) -> None:
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    result = tastevin("db", "upgrade", env={"TASTEVIN_DB_URL": sqlite_url}, cwd=workdir)
    assert (result.returncode, result.stdout) == (
        0, f"{sqlite_url}: upgraded from an empty database to revision {HEAD}\n"
    )
    assert not (workdir / "tastevin.db").exists()
    env = {k: v for k, v in os.environ.items() if k != "TASTEVIN_DB_URL"}
    result = subprocess.run([*TASTEVIN, "db", "upgrade"], capture_output=True, text=True, cwd=workdir,
                            env={**env, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert (result.returncode, result.stdout) == (
        0, f"{DEFAULT_DB_URL}: upgraded from an empty database to revision {HEAD}\n"
    )
    assert (workdir / "tastevin.db").exists()


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("not a url", "could not parse the database URL: use e.g. --db sqlite:///tastevin.db"),
        ("mysql://u:hunter2@h/d", "unsupported database 'mysql'"),
    ],
    ids=["garbage", "mysql"],
)
def test_cli_bad_url_exits_2_with_a_hint(url: str, hint: str) -> None:
    result = tastevin("db", "upgrade", "--db", url)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {hint}")
    assert "postgresql://user:password@host:5432/dbname" in result.stderr and "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_concurrent_upgrades_both_succeed(db_url: str) -> None:
    processes = [
        subprocess.Popen([*TASTEVIN, "db", "upgrade", "--db", db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT)
        for _ in range(2)
    ]
    results = [(p.wait(120), *p.communicate()) for p in processes]
    assert [(code, stderr) for code, _, stderr in results] == [(0, ""), (0, "")]
    shown = make_engine(db_url).url.render_as_string(hide_password=True)
    assert sorted(stdout for _, stdout, _ in results) == [  # one migrated, the other found it done
        f"{shown}: already at revision {HEAD}\n",
        f"{shown}: upgraded from an empty database to revision {HEAD}\n",
    ]
    assert current_revision(make_engine(db_url)) == HEAD


@pytest.mark.slow
def test_upgrade_waits_for_the_postgres_migration_lock(pg_url: str) -> None:
    """With the advisory lock held elsewhere, `db upgrade` blocks on it and changes nothing until released."""
    engine = make_engine(pg_url)
    holder = engine.connect()
    holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    holder.commit()
    process = subprocess.Popen([*TASTEVIN, "db", "upgrade", "--db", pg_url], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting == 0 and process.poll() is None and time.monotonic() < deadline:
            waiting = holder.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )).scalar_one()
            holder.commit()
            time.sleep(0.05)
        assert waiting == 1, process.communicate()
        assert sa.inspect(holder).get_table_names() == []
        holder.rollback()
    finally:
        holder.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
        holder.close()
    stdout, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr) == (0, "")
    assert stdout.endswith(f"to revision {HEAD}\n")
    engine.dispose()
