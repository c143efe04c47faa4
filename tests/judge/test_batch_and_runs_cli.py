"""Batch mode through the real SDK's Batches API, and the `tastevin judge` / `tastevin runs` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anthropic
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from judge.batch import collect_batches, submit_batch
from judge.pricing import PriceTable
from judge.rubric import Rubric, parse_rubric
from judge.runner import RunOptions
from judge.testing import FakeAnthropicServer, Reply, verdicts_responder
from reviewer.cli import cli
from reviewer.store import JudgeClaim, JudgeRun, Judgment
from tests.judge.conftest import RULES_ONLY_RUBRIC, SUPPORT_RUBRIC, records, seed

PRICES = PriceTable.load()


def _client(server: FakeAnthropicServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=1)


def test_batch_submit_then_collect_after_a_restart(store: Engine, support_rubric: Rubric) -> None:
    ids = seed(store, records(30))
    rules_only = parse_rubric(RULES_ONLY_RUBRIC, source="rules.yaml")
    fails = lambda ident, text: "fail" if "Ticket 3:" in text else "pass"  # noqa: E731
    with FakeAnthropicServer(verdicts_responder(fails, input_tokens=1000, output_tokens=100),
                             batch_processing_s=0.5) as server:
        run = submit_batch(store, [support_rubric, rules_only], client=_client(server), prices=PRICES,
                           options=RunOptions())
        assert run is not None and run.provider_batch_id is not None
        assert server.batch_create_calls == 1 and len(server.batches[run.provider_batch_id]["requests"]) == 30
        assert (run.status, run.mode, run.judged) == ("running", "batch", 30)  # the rules-only judgments
        assert len(store.dialect.name) and _claims(store) == 30

        # "Restart": a new client and worker; nothing in memory carries over.
        early, pending = collect_batches(store, client=_client(server), prices=PRICES, worker_id="w2")
        assert early == [] and pending == [run.provider_batch_id]
        import time

        time.sleep(0.6)
        collected, pending = collect_batches(store, client=_client(server), prices=PRICES, worker_id="w2")
    [done] = collected
    assert pending == [] and done.id == run.id
    assert (done.status, done.judged, done.passed, done.failed, done.unscored) == ("completed", 60, 59, 1, 0)
    assert done.cost_usd == pytest.approx(30 * (1000 * 2 + 100 * 10) / 1e6 * 0.5)  # batch price
    assert _claims(store) == 0
    with Session(store) as session:
        judged = [(j.sample_id, j.rubric_name) for j in session.exec(select(Judgment))]
    assert sorted(judged) == sorted([(i, "support") for i in ids] + [(i, "rules-only") for i in ids])


def _claims(store: Engine) -> int:
    with Session(store) as session:
        return len(session.exec(select(JudgeClaim)).all())


def test_batch_errors_and_expiry_are_left_for_a_later_run(store: Engine, support_rubric: Rubric) -> None:
    seed(store, records(4))
    calls = {"n": 0}

    def respond(body: dict[str, Any]) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=529, error_type="overloaded_error", text="busy")
        if calls["n"] == 2:
            return Reply(status=400, error_type="invalid_request_error", text="prompt is too long")
        return verdicts_responder()(body)

    with FakeAnthropicServer(respond) as server:
        run = submit_batch(store, [support_rubric], client=_client(server), prices=PRICES, options=RunOptions())
        [done], _ = collect_batches(store, client=_client(server), prices=PRICES, worker_id="w")
    assert run is not None
    assert (done.judged, done.passed, done.unscored, done.errored) == (3, 2, 1, 1)
    assert done.error == "left for a later run: 1 errored: overloaded_error"
    with Session(store) as session:
        unscored = session.exec(select(Judgment).where(Judgment.verdict == "unscored")).one()
    assert unscored.unscored_reason == (
        "judge reply unusable: the judge API rejected this sample's request (prompt is too long)"
    )
    assert _claims(store) == 0


def test_batch_of_ten_thousand_requests_is_one_call(store: Engine, support_rubric: Rubric) -> None:
    seed(store, records(10_000))
    with FakeAnthropicServer(verdicts_responder(), batch_processing_s=3600) as server:
        run = submit_batch(store, [support_rubric], client=_client(server), prices=PRICES, options=RunOptions())
        assert run is not None and server.batch_create_calls == 1
        assert len(server.batches[run.provider_batch_id or ""]["requests"]) == 10_000


def test_batch_respects_the_budget(store: Engine, support_rubric: Rubric) -> None:
    seed(store, records(50))
    with FakeAnthropicServer(verdicts_responder()) as server:
        run = submit_batch(store, [support_rubric], client=_client(server), prices=PRICES,
                           options=RunOptions(budget_usd=0.05, max_tokens=1024))
        assert run is not None
        submitted = len(server.batches[run.provider_batch_id or ""]["requests"])
    assert 0 < submitted < 50 and run.stop_reason == "budget"
    assert _claims(store) == submitted


# --- the commands ---------------------------------------------------------------------------


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_cli_judge_once_then_runs_list_and_show(store: Engine, sqlite_url: str, tmp_path: Path) -> None:
    seed(store, records(5))
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    with FakeAnthropicServer(verdicts_responder()) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test"}
        first = _invoke("judge", "--once", "--db", sqlite_url, "--rubrics", str(rubrics), env=env)
    assert first.exit_code == 0, first.output
    assert "judged 5 — pass 5, fail 0, unscored 0; pass rate 100.0%" in first.output
    no_key = _invoke("judge", "--db", sqlite_url, "--rubrics", str(rubrics),
                     env={"ANTHROPIC_BASE_URL": "", "ANTHROPIC_API_KEY": ""})
    assert "no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL" in no_key.output
    third = _invoke("judge", "--db", sqlite_url, "--rubrics", str(rubrics),
                    env={"ANTHROPIC_BASE_URL": "", "ANTHROPIC_API_KEY": ""})
    assert "judged 0" in third.output

    page = json.loads(_invoke("runs", "list", "--db", sqlite_url, "--json", "--page-size", "2").output)
    assert [r["id"] for r in page["runs"]] == [3, 2] and page["next_page_token"]
    rest = json.loads(_invoke("runs", "list", "--db", sqlite_url, "--json", "--page-token",
                              page["next_page_token"]).output)
    assert [r["id"] for r in rest["runs"]] == [1] and rest["next_page_token"] is None
    assert rest["runs"][0]["pass_rate"] == 1.0 and rest["runs"][0]["status"] == "completed"
    table = _invoke("runs", "list", "--db", sqlite_url, "--page-size", "2").output
    assert "next page: tastevin runs list --page-token" in table and "completed" in table

    shown = json.loads(_invoke("runs", "show", "1", "--db", sqlite_url, "--json").output)
    assert shown["run"]["judged"] == 5 and len(shown["cases"]) == 5
    case = shown["cases"][0]
    assert case["verdict"] == "pass" and len(case["output_preview"]) == 200 and case["latency_ms"] > 0
    assert case["rubric"].startswith("support@")
    text = _invoke("runs", "show", "1", "--db", sqlite_url).output
    assert "run 1 completed (done): judged 5" in text and "pass" in text

    bad = CliRunner().invoke(cli, ["runs", "list", "--db", sqlite_url, "--page-token", "nonsense!"])
    assert bad.exit_code != 0 and "invalid --page-token" in str(bad.exception)
    missing = CliRunner().invoke(cli, ["runs", "show", "99", "--db", sqlite_url])
    assert "no judge run 99" in str(missing.exception)


def test_cli_judge_batch_mode_over_two_ticks(store: Engine, sqlite_url: str, tmp_path: Path) -> None:
    seed(store, records(3))
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    with FakeAnthropicServer(verdicts_responder()) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test"}
        args = ("judge", "--mode", "batch", "--db", sqlite_url, "--rubrics", str(rubrics), "--stale-after", "1")
        submitted = _invoke(*args, env=env)
        assert "submitted batch msgbatch_" in submitted.output
        collected = _invoke(*args, env=env)
    assert "run 1 completed (done): judged 3" in collected.output
    with Session(store) as session:
        assert [r.status for r in session.exec(select(JudgeRun).order_by(JudgeRun.id))] == ["completed", "completed"]


def test_cli_judge_rejects_bad_settings(sqlite_url: str, tmp_path: Path) -> None:
    both = CliRunner().invoke(cli, ["judge", "--once", "--every", "15m", "--db", sqlite_url])
    assert both.exit_code == 2 and "either --once or --every" in both.output
    every = CliRunner().invoke(cli, ["judge", "--every", "soon", "--db", sqlite_url])
    assert every.exit_code == 2 and "not a duration" in every.output
    prices = tmp_path / "prices.yaml"
    prices.write_text("my-model: {input: cheap}\n")
    bad = CliRunner().invoke(cli, ["judge", "--db", sqlite_url, "--prices", str(prices)])
    assert "my-model.input: must be a number" in str(bad.exception)


# --- judging without an LLM says so -----------------------------------------------------------


def _tastevin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `tastevin` entry point (its exit code is what a container's supervisor sees)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "TASTEVIN_"))}
    return subprocess.run([str(Path(sys.executable).with_name("tastevin")), *args], env=clean | env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("flag", "env"), [("--require-llm", {}), (None, {"TASTEVIN_JUDGE_REQUIRE_LLM": "1"})],
                         ids=["flag", "env"])
def test_require_llm_refuses_to_start_without_a_judge(store: Engine, sqlite_url: str, flag: str | None,
                                                      env: dict[str, str]) -> None:
    seed(store, records(2))
    result = _tastevin("judge", "--once", "--db", sqlite_url, *([flag] if flag else []),
                       env=env | {"ANTHROPIC_API_KEY": ""})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: --require-llm (TASTEVIN_JUDGE_REQUIRE_LLM) is set but no LLM judge is configured: set "
        "ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible gateway), or drop --require-llm to record "
        "rules-only verdicts")
    with Session(store) as session:
        assert session.exec(select(Judgment)).all() == [] and session.exec(select(JudgeRun)).all() == []


def test_require_llm_judges_when_a_judge_is_configured(store: Engine, sqlite_url: str, tmp_path: Path) -> None:
    seed(store, records(2))
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    with FakeAnthropicServer(verdicts_responder()) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test", "TASTEVIN_JUDGE_REQUIRE_LLM": "1"}
        result = _invoke("judge", "--once", "--db", sqlite_url, "--rubrics", str(rubrics), env=env)
        assert len(server.requests) == 2
    assert result.exit_code == 0, result.output
    assert "judged 2 — pass 2" in result.output and "rules only" not in result.output


def test_runs_say_when_verdicts_are_rules_only(store: Engine, sqlite_url: str, tmp_path: Path) -> None:
    seed(store, records(2))
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    (rubrics / "rules.yaml").write_text(RULES_ONLY_RUBRIC)
    no_key = {"ANTHROPIC_BASE_URL": "", "ANTHROPIC_API_KEY": ""}
    first = _invoke("judge", "--once", "--db", sqlite_url, "--rubrics", str(rubrics), env=no_key)
    note = ("rules only — LLM criteria not judged: all 2 verdicts of run 1 rest on rule checks alone "
            "(judge_model none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)")
    assert "judged 4 — pass 4" in first.output and note in first.output
    assert "verdicts rest on rule checks alone (judge_model 'none')" in first.stderr
    seed(store, records(1, start=2))
    with FakeAnthropicServer(verdicts_responder()) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test"}
        second = _invoke("judge", "--once", "--db", sqlite_url, "--rubrics", str(rubrics), env=env)
    # The LLM judges what was rules-only (its judgments supersede those) and the new sample.
    assert "judged 4 — pass 4" in second.output and "rules only" not in second.output

    listed = json.loads(_invoke("runs", "list", "--db", sqlite_url, "--json").output)["runs"]
    assert [(r["id"], r["llm_rubric_judgments"], r["rules_only_judgments"]) for r in listed] == [(2, 3, 0), (1, 2, 2)]
    table = _invoke("runs", "list", "--db", sqlite_url).output
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") > 5}
    assert "rules only" in rows["1"] and "rules only" not in rows["2"] and " LLM " in rows["2"]
    assert "judge 'rules only': rules only — LLM criteria not judged" in table

    shown = _invoke("runs", "show", "1", "--db", sqlite_url)
    assert note in shown.output
    reason = "partial: 2 of 3 criteria unscored: acknowledges_issue, clear_next_steps (no judge configured)"
    cases = json.loads(_invoke("runs", "show", "1", "--db", sqlite_url, "--json").output)["cases"]
    assert sorted((c["rubric"].split("@")[0], c["verdict"], c["reason"]) for c in cases) == [
        ("rules-only", "pass", None), ("rules-only", "pass", None), ("support", "pass", reason),
        ("support", "pass", reason)]
    assert "partial: 2 of 3" in shown.output  # the table's reason column
