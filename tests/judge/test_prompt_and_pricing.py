"""The judge request, the reading of replies, and prices and budgets — small cases, exact values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.pricing import Budget, ModelPrice, PriceTable
from judge.prompt import BadReply, build_request, read_reply, render_conversation
from judge.rubric import Rubric, parse_rubric
from reviewer.errors import ConfigError
from tests.records import make_record


def test_conversation_is_escaped_json_with_every_part(support_rubric: Rubric) -> None:
    record = make_record(1) | {
        "system_instructions": [{"type": "text", "content": "Be <kind> & brief."}],
        "input_messages": [
            {"role": "user", "parts": [{"type": "text", "content": "Hi </conversation>"}]},
            {"role": "assistant", "parts": [{"type": "tool_call", "name": "lookup"}]},
        ],
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "Done & dusted"}]}],
        "truncated": True,
    }
    text = render_conversation(record)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {
        "category": "shipping",
        "system_prompt": "Be <kind> & brief.",
        "messages": [{"role": "user", "content": "Hi </conversation>"}, {"role": "assistant", "content": "[tool_call]"}],
        "final_reply": "Done & dusted",
        "note": "Some fields were cut to a size limit before judging (marked with an ellipsis).",
    }


def test_request_carries_the_rubric_and_merges_extra_body() -> None:
    rubric = parse_rubric(
        "name: r\ndescription: About refunds.\ncategories: ['*']\ncriteria: [{id: polite, question: Is polite.}]\n"
        "extra_body: {output_config: {effort: low}, metadata: {user_id: judge}}\n",
        source="r.yaml",
    )
    request = build_request(rubric, make_record(0), model="m", max_tokens=999)
    assert request["output_config"]["effort"] == "low"
    assert request["output_config"]["format"]["type"] == "json_schema"
    assert request["extra_body"] == {"metadata": {"user_id": "judge"}}
    assert "Rubric: r\nAbout refunds.\nCriteria:\n- polite: Is polite." in request["system"]
    assert (request["model"], request["max_tokens"]) == ("m", 999)
    with pytest.raises(ValueError, match="no LLM criteria"):
        build_request(parse_rubric("name: x\ncategories: ['*']\nchecks: [{id: a, type: no_pii}]\n"), {}, model="m")


@pytest.mark.parametrize(
    ("content", "stop_reason", "expected"),
    [
        pytest.param([{"type": "thinking", "thinking": "hmm"},
                      {"type": "text", "text": json.dumps({"criteria": [
                          {"id": "acknowledges_issue", "explanation": "yes", "verdict": "pass"},
                          {"id": "clear_next_steps", "explanation": "no steps", "verdict": "fail"}]})}],
                     "end_turn", ["pass", "fail"], id="json-after-thinking"),
        pytest.param([{"type": "text", "text": ""}], "end_turn",
                     "the reply has no verdicts (no text and no tool call)", id="empty"),
        pytest.param([{"type": "text", "text": json.dumps({"criteria": [
                          {"id": "acknowledges_issue", "explanation": " ", "verdict": "pass"},
                          {"id": "clear_next_steps", "explanation": "x", "verdict": "pass"}]})}],
                     "end_turn", "criterion 'acknowledges_issue': no explanation", id="no-explanation"),
        pytest.param([{"type": "text", "text": json.dumps({"criteria": [
                          {"id": "tone", "explanation": "x", "verdict": "pass"}]})}],
                     "end_turn", "criteria[0] names an unknown criterion 'tone'", id="unknown-criterion"),
        pytest.param([{"type": "tool_use", "name": "record_verdicts", "input": {}},
                      {"type": "tool_use", "name": "record_verdicts", "input": {}}],
                     "tool_use", "the reply called record_verdicts 2 times", id="two-tool-calls"),
    ],
)
def test_read_reply(support_rubric: Rubric, content: list, stop_reason: str, expected: object) -> None:
    message = {"content": content, "stop_reason": stop_reason}
    if isinstance(expected, str):
        with pytest.raises(BadReply) as caught:
            read_reply(message, support_rubric)
        assert caught.value.reason == expected
    else:
        assert [r.verdict for r in read_reply(message, support_rubric)] == expected


def test_prices_by_longest_prefix_batch_discount_and_overrides(tmp_path: Path) -> None:
    table = PriceTable.load()
    assert table.get("claude-sonnet-5-5-20261015") == ModelPrice(2.0, 10.0, 0.20, 2.50)
    assert table.get("claude-opus-5") == ModelPrice(5.0, 25.0, 0.50, 6.25)
    assert table.get("claude-opus-5-5") == ModelPrice(4.0, 20.0, 0.40, 5.0)
    assert table.get("gpt-7") is None
    price = ModelPrice(2.0, 10.0, 0.20, 2.50)
    assert price.cost(input_tokens=1_000_000, output_tokens=100_000) == pytest.approx(3.0)
    assert price.cost(input_tokens=1_000_000, output_tokens=100_000, batch=True) == pytest.approx(1.5)
    assert price.cost(input_tokens=0, output_tokens=0, cache_read_tokens=1_000_000,
                      cache_write_tokens=1_000_000) == pytest.approx(2.70)
    custom = tmp_path / "prices.yaml"
    custom.write_text("acme-judge: {input: 1, output: 4}\nclaude-sonnet-5-5: {input: 1.5, output: 7.5}\n")
    loaded = PriceTable.load(custom)
    assert loaded.get("acme-judge-2") == ModelPrice(1.0, 4.0)
    assert loaded.get("claude-sonnet-5-5") == ModelPrice(1.5, 7.5)
    with pytest.raises(ConfigError, match="no price for judge model 'x'"):
        loaded.require("x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("m: {input: 1}\n", "m.output: required", id="missing-output"),
        pytest.param("m: {input: -1, output: 1}\n", "m.input: must be a number ≥ 0", id="negative"),
        pytest.param("m: {input: 1, output: 1, batch: 2}\n", "m: unknown field 'batch'", id="unknown-field"),
        pytest.param("- m\n", "must map model names to prices", id="not-a-mapping"),
        pytest.param("m: [\n", "cannot read the price table", id="bad-yaml"),
    ],
)
def test_bad_price_files_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        PriceTable.load(path)


def test_budget_reserves_then_settles() -> None:
    budget = Budget(1.0)
    assert budget.reserve(0.6)
    assert not budget.reserve(0.5)  # 0.6 reserved + 0.5 > 1.0
    budget.settle(0.6, 0.2)
    assert budget.spent_usd == pytest.approx(0.2)
    assert budget.reserve(0.8)
    assert not budget.reserve(0.01)
    assert Budget(None).reserve(1e9)
