"""Eval runs through the real anthropic SDK against the local Messages server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from judge.claims import sync_rubrics
from judge.dataset_cases import parse_cases
from judge.datasets import StoredDataset, store_dataset
from judge.evals import CandidateRejected, CandidateSpec, EvalOptions, create_run, get_run, run_cases, run_eval
from judge.evals.store import claim_cases, store_generation, store_result
from judge.pricing import PriceTable
from judge.rubric import Rubric
from judge.testing import FakeAnthropicServer, Reply, verdicts_responder
from reviewer.store import EvalCase, ensure_schema, make_engine
from tests.judge.conftest import judge_client

PRICES = PriceTable.load()
GENERATION_COST = (100 * 3.0 + 20 * 15.0) / 1e6  # claude-sonnet-4-5, the fake server's default usage
JUDGE_COST = (900 * 2.0 + 150 * 10.0) / 1e6  # claude-sonnet-5-5, verdicts_responder's usage

CASES = [
    {"id": "b1", "category": "billing", "input": "I was charged twice", "rubric": ["Acknowledges the double charge"]},
    {"id": "b2", "category": "billing", "input": "Refund please", "expected_output": "Refund issued."},
    {"id": "s1", "category": "shipping", "input": "Where is my parcel", "system_prompt": "You ship things."},
    {"id": "o1", "category": "other", "input": "hello"},
    {"id": "e1", "category": "billing", "input": "BOOM"},
]


def _decide(ident: str, text: str) -> str:
    return "fail" if ident == "clear_next_steps" and "parcel" in text else "pass"


_judge = verdicts_responder(_decide)


def responder(body: dict[str, Any]) -> Reply:
    """The judge's requests get verdicts; the candidate's get an answer made from the input."""
    if body.get("output_config") or body.get("tools"):
        return _judge(body)
    text = body["messages"][-1]["content"]
    if "BOOM" in text:
        return Reply(status=400, error_type="invalid_request_error", text="the input is malformed")
    if "Refund" in text:
        return Reply(text="  refund ISSUED. ")
    return Reply(text=f"Sorry about that: {text}. " + "Next step: we fix it. " * 20)


def _generations(server: FakeAnthropicServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if not r.get("output_config")]


def _judgings(server: FakeAnthropicServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if r.get("output_config")]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Engine]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    made = make_engine(url)
    ensure_schema(made)
    yield made
    made.dispose()


def _dataset(engine: Engine, cases: list[dict[str, Any]] = CASES, name: str = "support") -> StoredDataset:
    return store_dataset(engine, name, parse_cases("\n".join(json.dumps(c) for c in cases)), source={})


def _run(engine: Engine, rubrics: list[Rubric], dataset: StoredDataset, spec: CandidateSpec | None = None,
         **kwargs: Any) -> int:
    sync_rubrics(engine, rubrics)
    return create_run(engine, name="nightly", datasets=[dataset],
                      candidate=spec or CandidateSpec(provider="anthropic", model="claude-sonnet-4-5"),
                      rubrics=[{"name": r.name, "version": r.version} for r in rubrics],
                      judge_model="claude-sonnet-5-5", settings={}, **kwargs)


def _eval(engine: Engine, run_id: int, server: FakeAnthropicServer, rubrics: list[Rubric], **kwargs: Any) -> Any:
    client = judge_client(server.url, max_retries=0)
    options = kwargs.pop("options", EvalOptions(concurrency=4, worker_id="w1"))
    return run_eval(engine, run_id, client=client, judge_client=client, rubrics=rubrics, prices=PRICES,
                    options=options, **kwargs)


def _verdicts(engine: Engine, run_id: int) -> dict[str, str | None]:
    return {c.case_id: c.verdict for c in run_cases(engine, run_id)}


def test_a_run_generates_judges_and_records_every_case(engine: Engine, support_rubric: Rubric) -> None:
    run_id = _run(engine, [support_rubric], _dataset(engine))
    assert get_run(engine, run_id).status == "pending"  # type: ignore[union-attr]
    seen: list[tuple[int, int]] = []
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric], progress=lambda d, t: seen.append((d, t)))
        generations, judgings = _generations(server), _judgings(server)
    assert (run.status, run.stop_reason) == ("completed", "done")
    assert _verdicts(engine, run_id) == {"b1": "pass", "b2": "pass", "e1": "errored", "o1": "unscored",
                                         "s1": "fail"}
    assert (run.total_cases, run.passed_cases, run.failed_cases, run.unscored_cases, run.errored_cases) == (
        5, 2, 1, 1, 1)
    assert run.pass_rate == pytest.approx(2 / 3)
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    # One generation per case; judge calls: b1 support + its own criteria, b2 and s1 support only.
    assert len(generations) == 5 and len(judgings) == 4
    assert "temperature" not in json.dumps(generations) and all("extra_body" not in g for g in generations)
    [s1_request] = [g for g in generations if g["messages"][-1]["content"] == "Where is my parcel"]
    assert s1_request["system"] == "You ship things." and s1_request["model"] == "claude-sonnet-4-5"
    assert run.generation_cost_usd == pytest.approx(4 * GENERATION_COST)
    assert run.judge_cost_usd == pytest.approx(4 * JUDGE_COST)
    assert run.cost_per_1k_requests_usd == pytest.approx(1000 * GENERATION_COST)
    assert (run.input_tokens, run.output_tokens) == (400, 80)
    assert run.avg_inference_ms is not None and run.p50_inference_ms is not None and run.p95_inference_ms is not None
    assert run.p50_inference_ms <= run.p95_inference_ms

    cases = {c.case_id: c for c in run_cases(engine, run_id)}
    b1, b2, s1, o1, e1 = (cases[k] for k in ("b1", "b2", "s1", "o1", "e1"))
    assert b1.output is not None and len(b1.output) > 200
    assert b1.output_preview is not None and len(b1.output_preview) == 200 and b1.output_preview.endswith("…")
    assert [(c["rubric"], c["id"], c["verdict"]) for c in b1.criteria] == [
        ("support", "acknowledges_issue", "pass"), ("support", "clear_next_steps", "pass"),
        ("case", "acknowledges_the_double_charge", "pass")]
    assert [(j["rubric"], j["verdict"]) for j in b1.judgments] == [("support", "pass"), ("case", "pass")]
    assert set(json.loads(b1.raw_reply or "{}")) == {"support", "case"}
    assert b1.cost_usd == pytest.approx(GENERATION_COST + 2 * JUDGE_COST)
    assert [(c["rubric"], c["id"], c["verdict"]) for c in b2.checks] == [
        ("support", "concise", "pass"), ("case", "exact_match", "pass")]
    assert [(c["id"], c["verdict"]) for c in s1.criteria] == [("acknowledges_issue", "pass"),
                                                               ("clear_next_steps", "fail")]
    assert o1.unscored_reason == ("no rubric applies to category 'other' and the case has no criteria or expected "
                                  "output")
    assert o1.judge_cost_usd == 0.0 and o1.generation_cost_usd == pytest.approx(GENERATION_COST)
    assert (e1.output, e1.judgments, e1.cost_usd) == (None, [], 0.0)
    assert e1.error == "400 invalid_request_error: the input is malformed"
    assert {c.state for c in cases.values()} == {"done"}


def test_strict_match_and_the_candidate_prompt_and_params(engine: Engine, support_rubric: Rubric) -> None:
    spec = CandidateSpec(provider="anthropic", model="claude-sonnet-4-5", system_prompt="Be brief.",
                         params={"temperature": 0}, max_tokens=300)
    run_id = _run(engine, [support_rubric], _dataset(engine, CASES[:3]), spec)
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric],
                    options=EvalOptions(concurrency=2, match="strict", worker_id="w1"))
        generations = _generations(server)
    assert _verdicts(engine, run_id) == {"b1": "pass", "b2": "fail", "s1": "fail"}
    assert run.pass_rate == pytest.approx(1 / 3)
    assert {g["system"] for g in generations} == {"Be brief."}  # replaces the recorded "You ship things."
    assert {(g["temperature"], g["max_tokens"]) for g in generations} == {(0, 300)}
    [b2] = [c for c in run_cases(engine, run_id) if c.case_id == "b2"]
    [exact] = [c for c in b2.checks if c["id"] == "exact_match"]
    assert exact["explanation"] == "expected 'Refund issued.', got '  refund ISSUED. '"


def test_a_template_fills_the_user_turn_from_the_case(engine: Engine, support_rubric: Rubric) -> None:
    cases = [{"id": "t1", "category": "billing", "input": "charged twice", "expected_intent": "refund"}]
    spec = CandidateSpec(provider="anthropic", model="claude-sonnet-4-5",
                         template="[{category}/{expected_intent}] Customer: {input} {{literal}}")
    run_id = _run(engine, [support_rubric], _dataset(engine, cases), spec)
    with FakeAnthropicServer(responder) as server:
        _eval(engine, run_id, server, [support_rubric])
        [generation] = _generations(server)
    assert generation["messages"] == [{"role": "user", "content": "[billing/refund] Customer: charged twice {literal}"}]
    assert get_run(engine, run_id).candidate["template_hash"] is not None  # type: ignore[union-attr]


def test_the_reference_candidate_judges_recorded_outputs_without_generating(
    engine: Engine, support_rubric: Rubric
) -> None:
    cases = [{"id": "r1", "category": "billing", "input": "charged twice", "reference_output": "Refunded, sorry!"},
             {"id": "r2", "category": "billing", "input": "no reference here"}]
    run_id = _run(engine, [support_rubric], _dataset(engine, cases),
                  CandidateSpec(provider="reference", model="reference"))
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric])
        assert _generations(server) == [] and len(_judgings(server)) == 1
    assert _verdicts(engine, run_id) == {"r1": "pass", "r2": "errored"}
    cases_by_id = {c.case_id: c for c in run_cases(engine, run_id)}
    assert cases_by_id["r1"].output == "Refunded, sorry!" and cases_by_id["r1"].inference_ms is None
    assert cases_by_id["r2"].error == "the case has no reference output"
    assert (run.generation_cost_usd, run.cost_per_1k_requests_usd) == (0.0, None)


def test_without_a_judge_llm_criteria_stay_unscored_and_rules_still_score(
    engine: Engine, support_rubric: Rubric
) -> None:
    run_id = _run(engine, [support_rubric], _dataset(engine, CASES[:2]))
    with FakeAnthropicServer(responder) as server:
        client = judge_client(server.url, max_retries=0)
        run = run_eval(engine, run_id, client=client, judge_client=None, rubrics=[support_rubric], prices=PRICES,
                       options=EvalOptions(worker_id="w1"))
        assert _judgings(server) == []
    # b1: concise passes, its criteria unscored; b2 also passes its exact match.
    assert _verdicts(engine, run_id) == {"b1": "pass", "b2": "pass"}
    [b1] = [c for c in run_cases(engine, run_id) if c.case_id == "b1"]
    assert {c["verdict"] for c in b1.criteria} == {"unscored"} and run.judge_cost_usd == 0.0


def test_a_judge_reply_that_does_not_parse_leaves_the_case_unscored(engine: Engine, support_rubric: Rubric) -> None:
    def garbage(body: dict[str, Any]) -> Reply:
        return Reply(text="I think it is fine") if body.get("output_config") else responder(body)

    run_id = _run(engine, [support_rubric], _dataset(engine, CASES[2:3]))
    with FakeAnthropicServer(garbage) as server:
        run = _eval(engine, run_id, server, [support_rubric])
    [s1] = run_cases(engine, run_id)
    assert s1.verdict == "unscored" and run.unscored_cases == 1 and run.failed_cases == 0
    assert s1.unscored_reason is not None and "judge reply unusable" in s1.unscored_reason
    assert s1.raw_reply is not None and "I think it is fine" in s1.raw_reply


def test_a_rejected_candidate_key_fails_the_run(engine: Engine, support_rubric: Rubric) -> None:
    def refuse(body: dict[str, Any]) -> Reply:
        return Reply(status=401, error_type="authentication_error", text="invalid x-api-key")

    run_id = _run(engine, [support_rubric], _dataset(engine))
    with FakeAnthropicServer(refuse) as server, pytest.raises(CandidateRejected, match="401 authentication_error"):
        _eval(engine, run_id, server, [support_rubric])
    run = get_run(engine, run_id)
    assert run is not None and (run.status, run.stop_reason) == ("failed", "error")
    assert {c.state for c in run_cases(engine, run_id)} == {"pending"}  # released for a later attempt


def test_the_budget_stops_the_run_before_it_is_exceeded(engine: Engine, support_rubric: Rubric) -> None:
    cases = [{"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"} for i in range(20)]
    budget = 0.07  # a judge call reserves ~$0.045 (4,096 output tokens at $10/M) until it is settled
    run_id = _run(engine, [support_rubric], _dataset(engine, cases), budget_usd=budget)
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric], options=EvalOptions(concurrency=1, worker_id="w1"))
    assert (run.status, run.stop_reason) == ("cancelled", "budget")
    spent = run.generation_cost_usd + run.judge_cost_usd
    assert 0 < spent <= budget
    done = [c for c in run_cases(engine, run_id) if c.state == "done"]
    assert 3 <= len(done) < 20 and run.passed_cases == len(done)
    # What was spent is on the cases: the finished ones, and those generated but not judged.
    generated = [c for c in run_cases(engine, run_id) if c.state == "generated"]
    assert spent == pytest.approx(len(done) * (GENERATION_COST + JUDGE_COST) + len(generated) * GENERATION_COST)
    assert "budget of $0.0700" in (run.error or "")


def test_ctrl_c_cancels_cleanly_and_the_run_resumes_where_it_stopped(engine: Engine, support_rubric: Rubric) -> None:
    cases = [{"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"} for i in range(12)]
    run_id = _run(engine, [support_rubric], _dataset(engine, cases))
    stop = threading.Event()
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric], stop=stop,
                    options=EvalOptions(concurrency=1, worker_id="w1"),
                    progress=lambda done, total: stop.set() if done >= 3 else None)
        assert (run.status, run.stop_reason) == ("cancelled", "signal")
        first = {c.case_id for c in run_cases(engine, run_id) if c.state == "done"}
        assert 3 <= len(first) < 12
        assert {c.state for c in run_cases(engine, run_id)} <= {"done", "pending", "generated"}
        before = len(_generations(server))
        resumed = _eval(engine, run_id, server, [support_rubric], options=EvalOptions(concurrency=3, worker_id="w2"))
        regenerated = [g["messages"][-1]["content"] for g in _generations(server)[before:]]
    assert (resumed.status, resumed.total_cases, resumed.passed_cases + resumed.failed_cases) == ("completed", 12, 12)
    assert not {f"Ticket {int(c[1:])}" for c in first} & set(regenerated)
    assert len(_generations(server)) == 12 + sum(1 for c in run_cases(engine, run_id) if c.state == "generated")


def test_a_crashed_worker_is_taken_over_without_calling_finished_cases_again(
    engine: Engine, support_rubric: Rubric
) -> None:
    cases = [{"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"} for i in range(8)]
    run_id = _run(engine, [support_rubric], _dataset(engine, cases))
    from judge.evals.candidates import Generation
    from judge.evals.scoring import Scored
    from judge.evals.store import start_run

    # The dead worker: claimed four cases, stored the output of two, finished one, then vanished.
    start_run(engine, run_id, worker_id="dead")
    claimed = claim_cases(engine, run_id, worker_id="dead", limit=4, stale_after_s=60)
    assert [case.id for _, case, _ in claimed] == ["c00", "c01", "c02", "c03"]
    for row_id, case, _ in claimed[:2]:
        store_generation(engine, row_id, worker_id="dead", generation=Generation(f"stored answer {case.id}",
                                                                                 inference_ms=5.0, cost_usd=0.001))
    store_result(engine, run_id, claimed[0][0], worker_id="dead",
                 generation=Generation("stored answer c00", inference_ms=5.0, cost_usd=0.001),
                 scored=Scored("pass", None))
    # A live worker does not take claims that are still fresh...
    assert claim_cases(engine, run_id, worker_id="w2", limit=10, stale_after_s=60)[0][1].id == "c04"
    with engine.begin() as connection:  # give c04.. back, and let the dead worker's lease expire
        connection.execute(sa.update(EvalCase.__table__).where(  # type: ignore[attr-defined]
            EvalCase.__table__.c.worker_id == "w2").values(state="pending", worker_id=None))  # type: ignore[attr-defined]
        connection.execute(sa.update(EvalCase.__table__).where(  # type: ignore[attr-defined]
            EvalCase.__table__.c.worker_id == "dead").values(  # type: ignore[attr-defined]
            claimed_at=sa.func.current_timestamp() - sa.text("INTERVAL '1 hour'") if engine.dialect.name ==
            "postgresql" else sa.text("'2000-01-01 00:00:00.000000'")))
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric], options=EvalOptions(stale_after_s=60, worker_id="w3"))
        generated = sorted(g["messages"][-1]["content"] for g in _generations(server))
        judged = len(_judgings(server))
    assert (run.status, run.total_cases) == ("completed", 8)
    assert generated == [f"Ticket {i}" for i in range(2, 8)]  # c00 finished, c01 generated: not called again
    assert judged == 7
    cases_by_id = {c.case_id: c for c in run_cases(engine, run_id)}
    assert cases_by_id["c01"].output == "stored answer c01" and cases_by_id["c01"].inference_ms == 5.0
    assert run.generation_cost_usd == pytest.approx(0.002 + 6 * GENERATION_COST)


def test_two_workers_split_one_run(engine: Engine, support_rubric: Rubric) -> None:
    cases = [{"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"} for i in range(30)]
    run_id = _run(engine, [support_rubric], _dataset(engine, cases))
    with FakeAnthropicServer(responder, latency_s=0.01) as server:
        results: dict[str, Any] = {}

        def work(worker: str) -> None:
            results[worker] = _eval(engine, run_id, server, [support_rubric],
                                    options=EvalOptions(concurrency=3, worker_id=worker))

        threads = [threading.Thread(target=work, args=(w,)) for w in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        generated = [g["messages"][-1]["content"] for g in _generations(server)]
    assert sorted(generated) == sorted(f"Ticket {i}" for i in range(30))  # each case generated once
    run = get_run(engine, run_id)
    assert run is not None and (run.status, run.passed_cases + run.failed_cases) == ("completed", 30)
    workers = {c.worker_id for c in run_cases(engine, run_id)}
    assert workers <= {"a", "b"}


def test_everything_spent_is_recorded_even_when_the_budget_stops_a_case_mid_judging(
    engine: Engine, support_rubric: Rubric
) -> None:
    # Billing cases with their own criterion take two judge calls each; a sweep of budgets
    # stops runs at every point of a case: before its generation, between its two judge calls...
    cases = [{"id": f"c{i:02d}", "category": "billing", "input": f"Ticket {i}", "rubric": ["Is polite"]}
             for i in range(12)]
    dataset = _dataset(engine, cases)
    interrupted = 0
    with FakeAnthropicServer(responder) as server:
        for step in range(9):
            before = (len(_generations(server)), len(_judgings(server)))
            run_id = _run(engine, [support_rubric], dataset, budget_usd=0.0605 + step * 0.0009)
            run = _eval(engine, run_id, server, [support_rubric], options=EvalOptions(concurrency=1, worker_id="w"))
            assert (run.status, run.stop_reason) == ("cancelled", "budget")
            calls = (len(_generations(server)) - before[0]) * GENERATION_COST + \
                    (len(_judgings(server)) - before[1]) * JUDGE_COST
            recorded = sum((c.generation_cost_usd or 0) + (c.judge_cost_usd or 0) for c in run_cases(engine, run_id))
            assert recorded == pytest.approx(calls)
            assert run.generation_cost_usd + run.judge_cost_usd == pytest.approx(calls)
            interrupted += sum(1 for c in run_cases(engine, run_id) if c.state == "generated" and c.judge_cost_usd)
    assert interrupted > 0


def test_a_cancel_from_another_process_stops_the_workers(engine: Engine, support_rubric: Rubric) -> None:
    from judge.evals.store import cancel_run

    cases = [{"id": f"c{i:02d}", "category": "shipping", "input": f"Ticket {i}"} for i in range(30)]
    run_id = _run(engine, [support_rubric], _dataset(engine, cases))
    two_done = threading.Event()
    with FakeAnthropicServer(responder, latency_s=0.05) as server:
        result: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: result.update(run=_eval(
            engine, run_id, server, [support_rubric], options=EvalOptions(concurrency=1, stale_after_s=2,
                                                                          worker_id="w"),
            progress=lambda done, total: two_done.set() if done >= 2 else None)))
        worker.start()
        assert two_done.wait(30)
        assert cancel_run(engine, run_id).status == "cancelled"
        worker.join(30)
    run = result["run"]
    assert (run.status, run.stop_reason) == ("cancelled", "cancelled")
    done = sum(1 for c in run_cases(engine, run_id) if c.state == "done")
    assert 2 <= done < 30 and run.passed_cases + run.failed_cases == done
    from reviewer.errors import ConfigError

    with pytest.raises(ConfigError, match="already cancelled"):
        cancel_run(engine, run_id)


def test_one_run_over_several_datasets_records_each_case_with_its_dataset(
    engine: Engine, support_rubric: Rubric
) -> None:
    first = _dataset(engine, CASES[:2], name="billing")
    # The same case id in another dataset is another case.
    second = _dataset(engine, [{"id": "b1", "category": "shipping", "input": "Where is my parcel"}], name="shipping")
    sync_rubrics(engine, [support_rubric])
    run_id = create_run(engine, name="both", datasets=[first, second],
                        candidate=CandidateSpec(provider="anthropic", model="claude-sonnet-4-5"),
                        rubrics=[{"name": "support", "version": support_rubric.version}], judge_model="claude-sonnet-5-5",
                        settings={})
    with FakeAnthropicServer(responder) as server:
        run = _eval(engine, run_id, server, [support_rubric])
    assert [(d["name"], d["cases"]) for d in run.datasets] == [("billing", 2), ("shipping", 1)]
    assert [(c.dataset, c.case_id, c.verdict) for c in run_cases(engine, run_id)] == [
        ("billing", "b1", "pass"), ("billing", "b2", "pass"), ("shipping", "b1", "fail")]
    assert (run.total_cases, run.passed_cases, run.failed_cases) == (3, 2, 1)
