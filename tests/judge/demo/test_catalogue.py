"""What the app asks and what the model answers, without the network: pure functions.

Thousands of planned calls are answered by ``compose_reply`` and checked with the
example rubrics' rule checks, so a template that trips a check is found here.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from judge.checks import run_checks
from judge.results import combine
from judge.rubric import Rubric
from judge.demo import CATEGORIES, INTENTS, plan_call
from judge.demo.replies import classify, compose_reply

from .conftest import rubric_for

N_CALLS = 1500


def _answer(seed: int, index: int, *, regressed: bool, flawed: bool = False) -> tuple[dict, str, str]:
    call = plan_call(seed, index, regressed=regressed)
    body = call.request_kwargs("claude-x")
    text, kind = compose_reply(body, random.Random(index), flawed=flawed)
    sample = {
        "category": call.category,
        "attributes": call.attributes,
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": text}]}],
    }
    return sample, text, kind


@pytest.mark.parametrize("regressed", [False, True], ids=["normal", "regressed"])
def test_every_reply_passes_its_rubric_except_regressed_shipping(rubrics: list[Rubric], regressed: bool) -> None:
    verdicts: Counter[tuple[str, str]] = Counter()
    for index in range(N_CALLS):
        sample, text, kind = _answer(11, index, regressed=regressed)
        rubric = rubric_for(rubrics, sample["category"])
        results = run_checks(rubric, sample)
        verdict, reason = combine(results, rubric.pass_rule)
        verdicts[(sample["category"], verdict)] += 1
        if regressed and sample["category"] == "shipping":
            assert kind == "regressed" and verdict == "fail", text
            assert {r.id for r in results if r.verdict == "fail"} >= {"mentions_order"}
        else:
            failed = [(r.id, r.explanation) for r in results if r.verdict != "pass"]
            assert failed == [] and reason is None, (sample["category"], text, failed)
            assert kind == "ok"
    assert {category for category, _ in verdicts} == {spec.name for spec in CATEGORIES}


def test_support_replies_are_200_to_1200_characters() -> None:
    lengths = []
    for index in range(N_CALLS):
        sample, text, _ = _answer(5, index, regressed=False)
        if sample["category"] != "classify-intent":
            lengths.append(len(text))
    assert 200 <= min(lengths) and max(lengths) <= 1200


@pytest.mark.parametrize("category", ["billing", "account", "password-reset", "classify-intent"])
def test_a_flawed_reply_fails_its_rubric(rubrics: list[Rubric], category: str) -> None:
    rubric = rubric_for(rubrics, category)
    seen = 0
    for index in range(400):
        sample, text, kind = _answer(3, index, regressed=False, flawed=True)
        if sample["category"] != category:
            continue
        seen += 1
        assert kind == "flawed"
        assert combine(run_checks(rubric, sample), rubric.pass_rule)[0] == "fail", text
    assert seen > 10


def test_a_flawed_shipping_reply_forgets_the_order_but_still_passes_the_fraction_rule(rubrics: list[Rubric]) -> None:
    rubric = rubric_for(rubrics, "shipping")
    for index in range(300):
        sample, text, _ = _answer(3, index, regressed=False, flawed=True)
        if sample["category"] == "shipping":
            results = run_checks(rubric, sample)
            assert [r.id for r in results if r.verdict == "fail"] == ["mentions_order"], text
            assert combine(results, rubric.pass_rule)[0] == "pass"


def test_regressed_shipping_replies_that_do_not_fail_still_name_the_order(rubrics: list[Rubric]) -> None:
    rubric = rubric_for(rubrics, "shipping")
    for index in range(300):
        call = plan_call(2, index, regressed=True)
        if call.category != "shipping":
            continue
        text, kind = compose_reply(call.request_kwargs("m"), random.Random(index), regressed_fails=False)
        sample = {"attributes": call.attributes, "output_messages": [{"parts": [{"type": "text", "content": text}]}]}
        assert kind == "ok" and str(call.attributes["order_id"]) in text
        assert all(r.verdict == "pass" for r in run_checks(rubric, sample)), text


def test_the_router_recovers_every_intent() -> None:
    expected: Counter[str] = Counter()
    for index in range(N_CALLS):
        call = plan_call(9, index)
        if call.category == "classify-intent":
            intent = call.attributes["expected_intent"]
            assert classify(call.messages[0]["content"], INTENTS) == intent, call.messages
            expected[str(intent)] += 1
    assert set(expected) == set(INTENTS)


def test_conversations_have_one_to_four_customer_turns_and_get_longer_after_the_regression() -> None:
    def shape(regressed: bool) -> tuple[set[int], float]:
        turns, chars = set(), []
        for index in range(600):
            call = plan_call(4, index, regressed=regressed)
            if call.category == "classify-intent":
                assert len(call.messages) == 1
                continue
            roles = [m["role"] for m in call.messages]
            assert roles[0] == roles[-1] == "user" and all(a != b for a, b in zip(roles, roles[1:]))
            turns.add(roles.count("user"))
            chars.append(sum(len(m["content"]) for m in call.messages if m["role"] == "user"))
        return turns, sum(chars) / len(chars)

    turns_before, chars_before = shape(False)
    turns_after, chars_after = shape(True)
    assert turns_before == {1, 2, 3} and turns_after == {2, 3, 4}
    assert chars_after > 2 * chars_before


def test_plan_call_is_a_pure_function_of_seed_index_and_phase() -> None:
    assert plan_call(1, 17) == plan_call(1, 17)
    assert plan_call(1, 17) != plan_call(2, 17)
    assert plan_call(1, 17).attributes["ticket_id"] == "TCK-0000018"


def test_only_shipping_changes_its_prompt_version_after_the_regression() -> None:
    before = {plan_call(6, i).category: plan_call(6, i).attributes["prompt_version"] for i in range(200)}
    after = {plan_call(6, i, regressed=True).category: plan_call(6, i, regressed=True).attributes["prompt_version"]
             for i in range(200)}
    changed = {c for c in before if before[c] != after[c]}
    assert changed == {"shipping"} and after["shipping"] == "shipping-v8"
