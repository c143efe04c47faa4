"""`tastevin evals compare` and the CI gate: McNemar by hand, Wilson intervals, flips, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from scipy.stats import binomtest

from judge.evals.compare import CaseOutcome, compare_outcomes, mcnemar_exact
from judge.evals.gate import evaluate_gate
from judge.testing import FakeAnthropicServer, Reply, verdicts_responder
from reviewer.cli import cli
from reviewer.store import EvalRun
from tests.judge.conftest import SUPPORT_RUBRIC

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("pass_to_fail", "fail_to_pass", "expected"),
    [(1, 7, 2 * (1 + 8) / 256), (0, 5, 2 / 32), (3, 3, 1.0), (0, 0, 1.0), (0, 1, 1.0), (2, 10, 2 * 79 / 4096)],
    ids=["1-7", "0-5", "tie", "none", "one", "2-10"],
)
def test_mcnemar_exact_matches_the_hand_computation(pass_to_fail: int, fail_to_pass: int, expected: float) -> None:
    # Two-sided: twice the binomial(n = b + c, 1/2) tail at min(b, c), capped at 1.
    assert mcnemar_exact(pass_to_fail, fail_to_pass) == pytest.approx(expected)


def _run(run_id: int, *, pass_rate: float | None, name: str = "nightly") -> EvalRun:
    return EvalRun(id=run_id, name=name, status="completed", candidate_provider="anthropic", candidate_model="m",
                   pass_rate=pass_rate)


def test_compare_outcomes_pairs_shared_scored_cases_and_gives_wilson_intervals() -> None:
    base = {("d", f"c{i}"): CaseOutcome("billing" if i < 6 else "shipping", "pass" if i < 8 else "fail", f"a{i}")
            for i in range(10)}
    other = dict(base)
    other[("d", "c0")] = CaseOutcome("billing", "fail", "b0")  # pass -> fail
    other[("d", "c1")] = CaseOutcome("billing", "fail", "b1")  # pass -> fail
    other[("d", "c8")] = CaseOutcome("shipping", "pass", "b8")  # fail -> pass
    other[("d", "c2")] = CaseOutcome("billing", "unscored", None)  # not paired
    del other[("d", "c9")]  # not shared
    other[("d", "new")] = CaseOutcome("shipping", "pass", "n")  # only in the second run
    comparison = compare_outcomes([_run(1, pass_rate=0.8), _run(2, pass_rate=0.625)], [base, other])
    [paired] = comparison.paired
    assert (paired.paired, paired.both_pass, paired.both_fail, paired.pass_to_fail, paired.fail_to_pass) == (
        8, 5, 0, 2, 1)
    assert paired.p_value == pytest.approx(mcnemar_exact(2, 1))
    assert [(f.case_id, f.before, f.after, f.before_preview, f.after_preview) for f in paired.flips] == [
        ("c0", "pass", "fail", "a0", "b0"), ("c1", "pass", "fail", "a1", "b1"), ("c8", "fail", "pass", "a8", "b8")]
    overall = comparison.categories["(all)"]
    assert (overall[1].passed, overall[1].scored) == (8, 10)
    assert (overall[2].passed, overall[2].scored, overall[2].cases) == (7, 9, 10)
    ci = binomtest(8, 10).proportion_ci(method="wilson")
    assert (overall[1].low, overall[1].high) == pytest.approx((ci.low, ci.high))
    assert comparison.categories["billing"][2].rate == pytest.approx(3 / 5)
    assert set(comparison.categories) == {"(all)", "billing", "shipping"}
    assert json.loads(json.dumps(comparison.to_json()))["baseline"] == 1


def test_the_gate_rules() -> None:
    from judge.evals.compare import PairedTest

    def paired(n: int, p2f: int, f2p: int) -> PairedTest:
        return PairedTest(run_id=2, paired=n, both_pass=n - p2f - f2p, both_fail=0, pass_to_fail=p2f,
                          fail_to_pass=f2p, p_value=mcnemar_exact(p2f, f2p), baseline_rate=None, rate=None)

    kwargs: dict[str, Any] = {"max_drop": 0.05, "alpha": 0.05, "min_paired": 30}
    first = evaluate_gate(_run(2, pass_rate=0.5), None, None, **kwargs)
    assert (first.verdict, first.test) == ("pass", "none") and "nothing to compare with" in first.reason
    drop = evaluate_gate(_run(2, pass_rate=0.7), _run(1, pass_rate=0.9), paired(40, 9, 1), **kwargs)
    assert (drop.verdict, drop.test, drop.paired) == ("fail", "mcnemar_exact", 40) and drop.p_value is not None
    assert drop.drop == pytest.approx(0.2) and drop.p_value < 0.05
    noise = evaluate_gate(_run(2, pass_rate=0.84), _run(1, pass_rate=0.9), paired(40, 4, 2), **kwargs)
    assert (noise.verdict, noise.test) == ("pass", "mcnemar_exact") and "≥ alpha" in noise.reason
    small = evaluate_gate(_run(2, pass_rate=0.7), _run(1, pass_rate=0.9), paired(10, 2, 0), **kwargs)
    assert (small.verdict, small.test) == ("fail", "drop_only")
    assert "only 10 paired cases (< 30): decided on the drop alone" in small.reason
    within = evaluate_gate(_run(2, pass_rate=0.86), _run(1, pass_rate=0.9), paired(10, 2, 0), **kwargs)
    assert within.verdict == "pass"


# --- the commands end to end ----------------------------------------------------------------


def responder(body: dict[str, Any]) -> Reply:
    if body.get("output_config"):
        return verdicts_responder(lambda ident, text: "fail" if "broken answer" in text else "pass")(body)
    if body.get("system") == "BROKEN":
        return Reply(text="broken answer")
    return Reply(text=f"Happy to help with {body['messages'][-1]['content']}.")


@pytest.fixture
def workdir(tmp_path: Path, sqlite_url: str) -> dict[str, Any]:
    rubrics = tmp_path / "rubrics"
    rubrics.mkdir()
    (rubrics / "support.yaml").write_text(SUPPORT_RUBRIC)
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps({"id": f"c{i:02d}", "category": "billing" if i % 2 else "shipping",
                                         "input": f"Ticket {i}"}) + "\n" for i in range(40)))
    broken = tmp_path / "broken.txt"
    broken.write_text("BROKEN")
    result = CliRunner().invoke(cli, ["datasets", "create", "support", "--from-file", str(cases), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    return {"db": sqlite_url, "rubrics": str(rubrics), "broken": str(broken)}


def _evals(work: dict[str, Any], server: FakeAnthropicServer, *args: str) -> Result:
    env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test"}
    return CliRunner().invoke(cli, ["evals", *args, "--db", work["db"]], env=env)


def _gate(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout.strip().splitlines()[-1])["gate"]


def test_the_gate_exits_0_then_1_and_compare_shows_the_flips(workdir: dict[str, Any]) -> None:
    run = ["run", "support", "--model", "claude-sonnet-4-5", "--rubrics", workdir["rubrics"], "--name", "nightly"]
    with FakeAnthropicServer(responder) as server:
        first = _evals(workdir, server, *run, "--gate-against", "latest")
        assert first.exit_code == 0, first.output
        assert _gate(first)["test"] == "none" and "gate PASS" in first.output
        same = _evals(workdir, server, *run, "--gate-against", "latest")
        assert same.exit_code == 0, same.output
        assert (_gate(same)["baseline_id"], _gate(same)["drop"], _gate(same)["paired"]) == (1, 0.0, 40)
        broken = _evals(workdir, server, *run, "--system-prompt", workdir["broken"], "--gate-against", "latest")
        assert broken.exit_code == 1, broken.output
        gate = _gate(broken)
        assert (gate["verdict"], gate["test"], gate["baseline_id"], gate["pass_to_fail"], gate["fail_to_pass"]) == (
            "fail", "mcnemar_exact", 2, 40, 0)
        assert gate["drop"] == pytest.approx(1.0) and gate["p_value"] == pytest.approx(2 / 2**40)
        # Below --min-paired the drop alone decides, and says so.
        small = _evals(workdir, server, *run, "--system-prompt", workdir["broken"], "--gate-against", "2",
                       "--min-paired", "100")
        assert small.exit_code == 1 and _gate(small)["test"] == "drop_only"
        assert "decided on the drop alone" in small.output
        shown = json.loads(_evals(workdir, server, "show", "3", "--json").stdout)
        assert shown["run"]["gate"]["verdict"] == "fail"

        compared = _evals(workdir, server, "compare", "1", "3", "--json")
        assert compared.exit_code == 0, compared.output
        data = json.loads(compared.stdout)
        [paired] = data["paired"]
        assert (paired["run_id"], paired["pass_to_fail"], paired["fail_to_pass"], len(paired["flips"])) == (3, 40, 0, 40)
        assert data["categories"]["billing"]["1"]["rate"] == 1.0 and data["categories"]["billing"]["3"]["rate"] == 0.0
        assert [r["cost_per_1k_requests_usd"] for r in data["runs"]] == pytest.approx([0.6, 0.6])
        table = _evals(workdir, server, "compare", "1", "2", "3")
        assert table.exit_code == 0, table.output
        assert "pass rate by category" in table.output and "40 pass→fail" in table.output
        assert "broken answer" in table.output
        one = _evals(workdir, server, "compare", "1")
        assert one.exit_code == 2 and "at least two run ids" in one.output


def test_the_gate_exits_2_when_it_cannot_decide(workdir: dict[str, Any]) -> None:
    with FakeAnthropicServer(responder) as server:
        env = {**os.environ, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-test",
               "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "reviewer.cli", "evals", "run", "support", "--model", "claude-sonnet-4-5",
             "--rubrics", workdir["rubrics"], "--db", workdir["db"], "--gate-against", "99"],
            env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert "error: no eval run 99 to gate against" in result.stderr
