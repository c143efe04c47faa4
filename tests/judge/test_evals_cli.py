"""`tastevin evals run|list|show`: the commands, their exit codes, pagination, and a kill -9 mid-run then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from judge.testing import FakeAnthropicServer
from reviewer.cli import cli
from reviewer.store import ensure_schema, make_engine
from tests.judge.conftest import SUPPORT_RUBRIC
from tests.judge.test_evals import CASES, responder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, sqlite_url: str) -> dict[str, Any]:
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    return {"db": sqlite_url, "rubrics": str(rubrics), "cases": str(cases), "tmp": tmp_path}


def _invoke(args: list[str], server: FakeAnthropicServer | None = None) -> Result:
    env = {"ANTHROPIC_BASE_URL": server.url if server else "", "ANTHROPIC_API_KEY": "sk-ant-test" if server else ""}
    return CliRunner().invoke(cli, args, env=env)


def _create(work: dict[str, Any], name: str = "support", path: str | None = None) -> None:
    result = _invoke(["datasets", "create", name, "--from-file", path or work["cases"], "--db", work["db"]])
    assert result.exit_code == 0, result.output


def test_run_list_and_show(workdir: dict[str, Any]) -> None:
    _create(workdir)
    common = ["--db", workdir["db"], "--rubrics", workdir["rubrics"]]
    with FakeAnthropicServer(responder) as server:
        first = _invoke(["evals", "run", "support", "--model", "claude-sonnet-4-5", "--max-retries", "0", *common],
                        server)
        assert first.exit_code == 0, first.output
        assert "eval run 1 'support' completed (done): claude-sonnet-4-5 on support@" in first.output
        assert "cases 5: pass 2, fail 1, unscored 1, errored 1; pass rate 66.7%" in first.output
        second = _invoke(["evals", "run", "support", "--model", "reference", "--name", "baseline", "--json",
                          *common], server)
    assert second.exit_code == 0, second.output
    data = json.loads(second.stdout)
    assert (data["id"], data["name"], data["status"], data["candidate"]["provider"]) == (
        2, "baseline", "completed", "reference")
    assert data["totals"] == {"total_cases": 5, "passed_cases": 0, "failed_cases": 0, "unscored_cases": 0,
                              "errored_cases": 5, "pass_rate": None}

    page1 = json.loads(_invoke(["evals", "list", "--page-size", "1", "--json", "--db", workdir["db"]]).output)
    assert [r["id"] for r in page1["evals"]] == [2] and page1["total_count"] == 2
    page2 = json.loads(_invoke(["evals", "list", "--page-size", "1", "--page-token", page1["next_page_token"],
                                "--json", "--db", workdir["db"]]).output)
    assert [r["id"] for r in page2["evals"]] == [1] and page2["next_page_token"] is None
    named = json.loads(_invoke(["evals", "list", "--name", "support", "--json", "--db", workdir["db"]]).output)
    assert [r["id"] for r in named["evals"]] == [1] and named["total_count"] == 1
    table = _invoke(["evals", "list", "--db", workdir["db"]])
    assert table.exit_code == 0 and "baseline" in table.output and "2 runs in all" in table.output
    bad = _invoke(["evals", "list", "--page-token", "nonsense", "--db", workdir["db"]])
    assert bad.exit_code != 0 and "invalid page token" in str(bad.exception)

    shown = json.loads(_invoke(["evals", "show", "1", "--json", "--db", workdir["db"]]).output)
    assert shown["run"]["metrics"]["cost_per_1k_requests_usd"] == pytest.approx(0.6)
    assert [(c["case_id"], c["verdict"], c["passed"]) for c in shown["cases"]] == [
        ("b1", "pass", True), ("b2", "pass", True), ("e1", "errored", None), ("o1", "unscored", None),
        ("s1", "fail", False)]
    assert all(c["output_preview"] is None or len(c["output_preview"]) <= 200 for c in shown["cases"])
    text = _invoke(["evals", "show", "1", "--db", workdir["db"]])
    assert text.exit_code == 0 and "pass rate 66.7%" in text.output and "s1" in text.output
    missing = _invoke(["evals", "show", "9", "--db", workdir["db"]])
    assert missing.exit_code != 0 and "no eval run 9" in str(missing.exception)


def test_several_models_run_as_sibling_runs_of_one_group(workdir: dict[str, Any]) -> None:
    _create(workdir)
    with FakeAnthropicServer(responder) as server:
        result = _invoke(["evals", "run", "support", "--model", "claude-sonnet-4-5", "--model", "reference", "--json",
                          "--db", workdir["db"], "--rubrics", workdir["rubrics"]], server)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["id"], r["name"], r["candidate"]["model"], r["status"]) for r in data["evals"]] == [
        (1, "support:claude-sonnet-4-5", "claude-sonnet-4-5", "completed"),
        (2, "support:reference", "reference", "completed")]
    assert data["group_id"] and {r["group_id"] for r in data["evals"]} == {data["group_id"]}
    compared = json.loads(_invoke(["evals", "compare", "1", "2", "--json", "--db", workdir["db"]]).stdout)
    assert compared["runs"][1]["cost_per_1k_requests_usd"] is None  # the reference generates nothing


def test_usage_and_configuration_errors(workdir: dict[str, Any]) -> None:
    _create(workdir)
    common = ["--db", workdir["db"], "--rubrics", workdir["rubrics"]]
    nothing = _invoke(["evals", "run", *common])
    assert nothing.exit_code == 2 and "give one or more DATASET and --model" in nothing.output
    unknown = _invoke(["evals", "run", "nope", "--model", "reference", *common])
    assert unknown.exit_code != 0 and "no dataset 'nope' (known datasets: support)" in str(unknown.exception)
    no_key = _invoke(["evals", "run", "support", "--model", "claude-sonnet-4-5", *common])
    assert "needs ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL" in str(no_key.exception)
    openai = _invoke(["evals", "run", "support", "--model", "openai:gpt-4.1", *common])
    assert "not available in this version" in str(openai.exception)
    template = Path(workdir["tmp"]) / "prompt.txt"
    template.write_text("Answer {input} for {customer_name}")
    with FakeAnthropicServer(responder) as server:
        bad = _invoke(["evals", "run", "support", "--model", "claude-sonnet-4-5", "--template", str(template),
                       *common], server)
        assert "template placeholder {customer_name} is not a field of case 'b1'" in str(bad.exception)
        reserved = _invoke(["evals", "run", "support", "--model", "claude-sonnet-4-5", "--param", "model=x",
                            *common], server)
        assert "--param model cannot be set" in str(reserved.exception)
        unpriced = _invoke(["evals", "run", "support", "--model", "claude-new-9", "--budget-usd", "1", *common],
                           server)
        assert "no price for the candidate model 'claude-new-9'" in str(unpriced.exception)
        assert server.requests == []


def test_a_budget_stop_exits_1(workdir: dict[str, Any]) -> None:
    cases = Path(workdir["tmp"]) / "many.jsonl"
    cases.write_text("".join(json.dumps({"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"}) + "\n"
                             for i in range(20)))
    _create(workdir, "many", str(cases))
    with FakeAnthropicServer(responder) as server:
        result = _invoke(["evals", "run", "many", "--model", "claude-sonnet-4-5", "--budget-usd", "0.07",
                          "--concurrency", "1", "--db", workdir["db"], "--rubrics", workdir["rubrics"]], server)
    assert result.exit_code == 1, result.output
    assert "cancelled (budget)" in result.output and "stopped before exceeding the budget" in result.output
    with FakeAnthropicServer(responder) as server:
        more = _invoke(["evals", "run", "--resume", "1", "--budget-usd", "10", "--db", workdir["db"]], server)
        assert more.exit_code == 0, more.output
        assert "eval run 1 'many' completed (done)" in more.output and "cases 20: pass 20" in more.output
        assert len([r for r in server.requests if not r.get("output_config")]) < 20  # the rest only
    finished = _invoke(["evals", "cancel", "1", "--db", workdir["db"]])
    assert finished.exit_code != 0 and "already completed" in str(finished.exception)


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_calls_no_finished_case_again(workdir: dict[str, Any]) -> None:
    cases = Path(workdir["tmp"]) / "many.jsonl"
    cases.write_text("".join(json.dumps({"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"}) + "\n"
                             for i in range(40)))
    _create(workdir, "many", str(cases))
    engine = make_engine(workdir["db"])
    ensure_schema(engine)
    with FakeAnthropicServer(responder, latency_s=0.05) as server:
        env = {**os.environ, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test",
               "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "reviewer.cli", "evals", "run", "many", "--model", "claude-sonnet-4-5",
             "--concurrency", "2", "--db", workdir["db"], "--rubrics", workdir["rubrics"]],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while _done(engine) < 8:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        finished = {row[0] for row in _rows(engine, "SELECT case_id FROM eval_case WHERE state = 'done'")}
        assert 8 <= len(finished) < 40
        assert _rows(engine, "SELECT status FROM eval_run") == [("running",)]
        before = len(server.requests)
        time.sleep(1.1)  # the dead worker's lease (--stale-after 1) runs out
        resumed = _invoke(["evals", "run", "--resume", "1", "--stale-after", "1", "--db", workdir["db"]], server)
        assert resumed.exit_code == 0, resumed.output
        again = [r["messages"][-1]["content"] for r in server.requests[before:] if not r.get("output_config")]
    assert "eval run 1 'many' completed (done)" in resumed.output
    assert "cases 40: pass 40" in resumed.output
    assert not {f"Ticket {int(case_id[1:])}" for case_id in finished} & set(again)
    engine.dispose()


def _rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    import sqlalchemy as sa

    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


def _done(engine: Any) -> int:
    return int(_rows(engine, "SELECT count(*) FROM eval_case WHERE state = 'done'")[0][0])
