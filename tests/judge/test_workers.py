"""Crash and concurrency: a killed judge process is resumed; two workers on PostgreSQL never overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from judge.pricing import PriceTable
from judge.rubric import Rubric
from judge.runner import RunOptions, run_sync
from judge.testing import FakeAnthropicServer, verdicts_responder
from reviewer.store import JudgeClaim, JudgeRun, Judgment, ensure_schema, make_engine
from tests.judge.conftest import SUPPORT_RUBRIC, judge_client, records, seed

ROOT = Path(__file__).resolve().parents[2]


def _count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _judge_cmd(db_url: str, rubrics: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "reviewer.cli", "judge", "--once", "--db", db_url, "--rubrics", str(rubrics),
            "--concurrency", "4", "--stale-after", "1", *extra]


def test_a_killed_judge_is_resumed_by_the_next_one(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    ids = seed(engine, records(40))
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    with FakeAnthropicServer(verdicts_responder(), latency_s=0.1) as server:
        env = dict(os.environ, ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-ant-test", PYTHONPATH=str(ROOT))
        process = subprocess.Popen(_judge_cmd(sqlite_url, rubrics), env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _count(engine, Judgment) < 8:
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        judged_before = _count(engine, Judgment)
        assert judged_before < 40 and _count(engine, JudgeClaim) > 0
        with Session(engine) as session:
            [crashed] = session.exec(select(JudgeRun)).all()
        assert crashed.status == "running"

        time.sleep(1.2)  # its heartbeat goes stale
        done = subprocess.run(_judge_cmd(sqlite_url, rubrics), env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        calls = len(server.requests)

    assert f"run {crashed.id} completed (done): judged 40" in done.stdout
    with Session(engine) as session:
        runs = session.exec(select(JudgeRun)).all()
        judgments = session.exec(select(Judgment)).all()
    assert [(r.id, r.status, r.judged) for r in runs] == [(crashed.id, "completed", 40)]
    assert sorted(j.sample_id for j in judgments) == sorted(ids)  # each once
    assert _count(engine, JudgeClaim) == 0
    # Made twice: only the calls in flight at the kill (at most --concurrency) and the
    # results not yet stored (one flush window, 0.5 s: 4 workers x 0.1 s calls -> 20).
    assert 40 <= calls <= 40 + 4 + 20
    engine.dispose()


def test_two_workers_on_postgres_never_judge_the_same_sample(pg_url: str, support_rubric: Rubric) -> None:
    engine = make_engine(pg_url)
    ensure_schema(engine)
    ids = seed(engine, records(120))
    results: list[Any] = []
    errors: list[BaseException] = []
    with FakeAnthropicServer(verdicts_responder(), latency_s=0.05) as server:

        def work(name: str) -> None:
            try:
                worker_engine = make_engine(pg_url)
                options = RunOptions(concurrency=8, worker_id=name)
                results.append(run_sync(worker_engine, [support_rubric], client=judge_client(server.url),
                                        prices=PriceTable.load(), options=options).run)
                worker_engine.dispose()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        sample_ids_called = Counter(
            body["messages"][0]["content"].split('"final_reply"')[0] for body in server.requests
        )
    assert errors == []
    assert len(server.requests) == 120  # not one call twice
    assert max(sample_ids_called.values()) == 1
    assert sum(r.judged for r in results) == 120
    assert all(r.judged > 0 for r in results), "both workers took part"
    with Session(engine) as session:
        judged = [j.sample_id for j in session.exec(select(Judgment))]
    assert sorted(judged) == sorted(ids)
    engine.dispose()
