"""The simulated app against the simulated model, through the real SDK and the real sampler."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import pytest

from judge.checks import output_text, run_checks
from judge.results import combine
from judge.rubric import Rubric
from reviewer.errors import ConfigError
from judge.demo import (
    CATEGORIES,
    REGRESSED_CATEGORY,
    CallOutcome,
    LatencyModel,
    ModelBehaviour,
    SimulatedModel,
    SupportTraffic,
    TrafficError,
    TrafficSettings,
    estimate_tokens,
    plan_call,
)

from .conftest import CLEAN, DemoRun, Outcomes, call_index, rubric_for, run_demo

SEED = 7
CALLS = 300
SWITCH = 150


@pytest.fixture(scope="module")
def regression_run() -> DemoRun:
    """300 calls, regressed from call 150 on."""
    settings = TrafficSettings(
        calls_per_s=500, max_calls=CALLS, regression_after_calls=SWITCH, seed=SEED, concurrency=4, timeout_s=10
    )
    return run_demo(settings)


def _phase(records: list[dict[str, Any]], *, after: bool) -> list[dict[str, Any]]:
    return [r for r in records if (call_index(r) >= SWITCH) == after]


def _input_chars(record: dict[str, Any]) -> int:
    return sum(len(p["content"]) for m in record["input_messages"] for p in m["parts"] if m["role"] == "user")


def test_every_call_is_one_record_counted_in_its_category(regression_run: DemoRun) -> None:
    progress, records = regression_run.progress, regression_run.records
    assert progress.done and progress.started == progress.finished_calls == len(records) == CALLS
    assert sorted(call_index(r) for r in records) == list(range(CALLS))
    assert progress.regression_from_call == SWITCH and progress.errors == {} and progress.failure is None
    for after in (False, True):
        counted = Counter(r["category"] for r in _phase(records, after=after))
        expected = {name: (c.after if after else c.before) for name, c in progress.by_category.items()}
        assert counted == Counter({k: v for k, v in expected.items() if v})
        assert set(counted) == {spec.name for spec in CATEGORIES}
    assert sum(c.before for c in progress.by_category.values()) == SWITCH
    assert len(regression_run.outcomes) == CALLS and all(o.outcome == "ok" for o in regression_run.outcomes)
    assert all(r["app"] == "larkspur-support" and r["error"] is None for r in records)


def test_normal_traffic_passes_every_rule_check(regression_run: DemoRun, rubrics: list[Rubric]) -> None:
    for record in _phase(regression_run.records, after=False):
        results = run_checks(rubric_for(rubrics, record["category"]), record)
        assert [r for r in results if r.verdict != "pass"] == [], (record["category"], output_text(
            record["output_messages"])[0])


def test_after_the_switch_shipping_fails_its_rubric_and_the_rest_still_pass(
    regression_run: DemoRun, rubrics: list[Rubric]
) -> None:
    after = _phase(regression_run.records, after=True)
    shipping = [r for r in after if r["category"] == REGRESSED_CATEGORY]
    assert len(shipping) >= 10
    rubric = rubric_for(rubrics, REGRESSED_CATEGORY)
    for record in shipping:
        assert combine(run_checks(rubric, record), rubric.pass_rule)[0] == "fail"
        assert record["attributes"]["prompt_version"] == "shipping-v8"
    for record in after:
        if record["category"] != REGRESSED_CATEGORY:
            results = run_checks(rubric_for(rubrics, record["category"]), record)
            assert all(r.verdict == "pass" for r in results)
    assert regression_run.replies == {"ok": CALLS - len(shipping), "regressed": len(shipping)}


def test_the_mix_shifts_to_billing_and_conversations_get_longer(regression_run: DemoRun) -> None:
    before, after = regression_run.progress.mix(after=False), regression_run.progress.mix(after=True)
    assert after["billing"] + after["refund"] > before["billing"] + before["refund"] + 0.15
    assert after["shipping"] < before["shipping"]

    def mean_chars(records: list[dict[str, Any]]) -> float:
        support = [_input_chars(r) for r in records if r["category"] != "classify-intent"]
        return sum(support) / len(support)

    assert mean_chars(_phase(regression_run.records, after=True)) > 2 * mean_chars(
        _phase(regression_run.records, after=False)
    )


def test_personal_data_in_customer_messages_is_redacted(regression_run: DemoRun) -> None:
    total = 0
    for record in regression_run.records:
        index = call_index(record)
        planned = plan_call(SEED, index, regressed=index >= SWITCH)
        text = json.dumps(record)
        assert [p for p in planned.pii if p in text] == []
        expected = Counter("email" if "@" in p else "phone" for p in planned.pii)
        assert record["redactions"] == dict(expected)
        total += len(planned.pii)
    assert total >= 30


def test_shipping_records_carry_the_order_and_router_records_the_expected_intent(regression_run: DemoRun) -> None:
    for record in regression_run.records:
        attributes = record["attributes"]
        assert set(attributes) >= {"ticket_id", "prompt_version", "locale", "tier", "channel"}
        if record["category"] == "shipping":
            assert attributes["order_id"].startswith("ORD-")
        if record["category"] == "classify-intent":
            assert json.loads(output_text(record["output_messages"])[0]) == {"intent": attributes["expected_intent"]}


def test_usage_follows_the_text_and_each_desk_uses_its_model(regression_run: DemoRun) -> None:
    for record in regression_run.records:
        index = call_index(record)
        planned = plan_call(SEED, index, regressed=index >= SWITCH)
        text = output_text(record["output_messages"])[0]
        turns = sum(estimate_tokens(m["content"]) + 4 for m in planned.messages)
        assert record["usage"]["output_tokens"] == estimate_tokens(text)
        assert record["usage"]["input_tokens"] == estimate_tokens(planned.system) + turns
        router = record["category"] == "classify-intent"
        assert record["request_model"] == ("claude-haiku-4-5" if router else "claude-sonnet-4-6")
        assert record["latency_ms"] > 0 and record["finish_reason"] == "stop"


def _projection(run: DemoRun) -> list[tuple[Any, ...]]:
    keys = ("category", "attributes", "system_instructions", "input_messages", "output_messages", "usage",
            "redactions", "params")
    rows = [tuple(json.dumps(r[k], sort_keys=True) for k in keys) for r in run.records]
    return sorted(rows, key=lambda row: row[1])


def test_a_seed_makes_a_run_reproducible() -> None:
    def settings(seed: int) -> TrafficSettings:
        return TrafficSettings(calls_per_s=400, max_calls=60, regression_after_calls=30, seed=seed, concurrency=6)

    first, again, other = run_demo(settings(3)), run_demo(settings(3)), run_demo(settings(4))
    assert len(first.records) == 60
    assert _projection(first) == _projection(again)
    assert first.progress.by_category == again.progress.by_category
    assert _projection(first) != _projection(other)


def test_inject_regression_switches_a_running_app(rubrics: list[Rubric]) -> None:
    switched: list[int] = []

    def during(traffic: SupportTraffic, outcomes: Outcomes) -> None:
        outcomes.wait_for(40)
        switched.append(traffic.inject_regression())
        assert traffic.inject_regression() == switched[0]  # idempotent

    run = run_demo(TrafficSettings(calls_per_s=300, max_calls=120, seed=12, concurrency=4), during=during)
    (first,) = switched
    assert 40 <= first < 120 and run.progress.regression_from_call == first
    assert sum(c.before for c in run.progress.by_category.values()) == first
    rubric = rubric_for(rubrics, "shipping")
    for record in run.records:
        if record["category"] == "shipping":
            verdict, _ = combine(run_checks(rubric, record), rubric.pass_rule)
            assert verdict == ("fail" if call_index(record) >= first else "pass")


def test_a_time_offset_regresses_the_calls_planned_after_it() -> None:
    run = run_demo(TrafficSettings(calls_per_s=200, duration_s=0.6, regression_after_s=0.3, seed=5, concurrency=8))
    started, switch = run.progress.started, run.progress.regression_from_call
    assert 60 <= started <= 180 and switch is not None and 0.25 * started <= switch <= 0.75 * started
    assert all(o.regressed == (o.index >= switch) for o in run.outcomes)
    assert len(run.records) == started


def test_stop_ends_an_open_ended_run() -> None:
    def during(traffic: SupportTraffic, outcomes: Outcomes) -> None:
        outcomes.wait_for(10)
        traffic.stop()
        assert traffic.wait(0)

    run = run_demo(TrafficSettings(calls_per_s=100, duration_s=None, seed=1), during=during)
    assert run.progress.done and run.progress.in_flight == 0
    assert 10 <= run.progress.started == run.progress.finished_calls == len(run.records) < 500


def test_errors_and_timeouts_are_counted_and_sampled(rubrics: list[Rubric]) -> None:
    behaviour = ModelBehaviour(
        latency=LatencyModel(scale=0.002), flaw_rate=0.0, error_rate=0.15, hang_rate=0.1, hang_s=1.0
    )
    run = run_demo(TrafficSettings(calls_per_s=400, max_calls=80, seed=2, concurrency=8, timeout_s=0.5), behaviour)
    errors = run.progress.errors
    assert set(errors) <= {"timeout", "status_529", "status_500"} and errors["timeout"] == run.replies["hang"]
    assert errors.get("status_529", 0) + errors.get("status_500", 0) == run.replies["error"] > 0
    failed = [r for r in run.records if r["error"] is not None]
    assert len(run.records) == 80 and len(failed) == sum(errors.values())
    assert Counter(r["error"]["type"] for r in failed) == Counter(
        {"APITimeoutError": errors["timeout"], "OverloadedError": errors.get("status_529", 0),
         "InternalServerError": errors.get("status_500", 0)}
    ) - Counter()
    assert sum(c.errors for c in run.progress.by_category.values()) == len(failed)
    for record in failed:
        results = run_checks(rubric_for(rubrics, record["category"]), record)
        assert {r.verdict for r in results} == {"unscored"}


def test_a_bug_in_the_app_stops_the_run_and_is_raised() -> None:
    def explode(outcome: CallOutcome) -> None:
        raise RuntimeError("boom")

    with SimulatedModel(CLEAN) as model:
        traffic = SupportTraffic(model.url, TrafficSettings(calls_per_s=100, max_calls=50), on_call=explode)
        with pytest.raises(TrafficError, match="boom"):
            traffic.run()
        assert traffic.progress().started < 50 and traffic.progress().failure is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"calls_per_s": 0},
        {"duration_s": -1},
        {"max_calls": -1},
        {"concurrency": 0},
        {"timeout_s": 0},
        {"max_retries": -1},
        {"regression_after_s": -0.5},
        {"regression_after_calls": -2},
    ],
    ids=lambda bad: next(iter(bad)),
)
def test_bad_settings_fail_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        TrafficSettings(**bad)


def test_nothing_is_left_running() -> None:
    before = set(threading.enumerate())
    with SimulatedModel(CLEAN) as model:
        url = model.url
        with SupportTraffic(url, TrafficSettings(calls_per_s=200, max_calls=30, concurrency=4)) as traffic:
            assert traffic.wait(30)
    assert set(threading.enumerate()) - before == set()
    import socket
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=1).close()
