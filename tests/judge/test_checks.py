"""Rule checks one by one, their unscored cases, and how results combine."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from judge.checks import output_text, run_checks
from judge.results import CriterionResult, combine
from judge.rubric import Rubric, parse_rubric
from sampler.record import TRUNCATION_MARK

ATTRS = {"expected_intent": "billing", "order_id": "A-1234", "count": 3, "empty": " "}


def rubric_with(*checks: dict[str, Any]) -> Rubric:
    return parse_rubric(yaml.safe_dump({"name": "t", "categories": ["*"], "checks": list(checks)}))


def sample(text: str | None, *, attributes: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    parts = [] if text is None else [{"type": "text", "content": text}]
    record: dict[str, Any] = {
        "output_messages": [{"role": "assistant", "parts": parts}],
        "attributes": ATTRS if attributes is None else attributes,
        "error_type": None,
    }
    record.update(fields)
    return record


def run_one(check: dict[str, Any], record: dict[str, Any]) -> CriterionResult:
    (result,) = run_checks(rubric_with({"id": "c", **check}), record)
    return result


REGEX = {"type": "regex", "pattern": "refund", "flags": ["IGNORECASE"]}
REGEX_NOT = {"type": "regex", "pattern": r"\bpassword\b", "must_match": False}
JSON_SCHEMA = {"type": "valid_json", "schema": {"type": "object", "required": ["intent"],
                                                "properties": {"intent": {"type": "string"}}}}
EQUALS = {"type": "equals_attribute", "attribute": "expected_intent"}
EQUALS_NORM = {**EQUALS, "normalize": True}
EQUALS_JSON = {**EQUALS, "json_field": "intent"}
CONTAINS = {"type": "contains_attribute", "attribute": "order_id"}

CASES = [
    # id, check, output text, verdict, explanation
    ("regex-match", REGEX, "Your Refund is on its way", "pass", "matched 'Refund' at 5"),
    ("regex-no-match", REGEX, "Your parcel is on its way", "fail", "no match for 'refund'"),
    ("regex-must-not-absent", REGEX_NOT, "Reset it from the sign-in page", "pass", "no match for '\\\\bpassword\\\\b'"),
    ("regex-must-not-present", REGEX_NOT, "Send me your password", "fail",
     "matched 'password' at 13, which must not match"),
    ("max-length-ok", {"type": "max_length", "chars": 10}, "0123456789", "pass", "length 10 ≤ 10"),
    ("max-length-over", {"type": "max_length", "chars": 10}, "x" * 1532, "fail", "length 1532 > 10"),
    ("min-length-ok", {"type": "min_length", "chars": 3}, "abc", "pass", "length 3 ≥ 3"),
    ("min-length-short", {"type": "min_length", "chars": 20}, "ok", "fail", "length 2 < 20"),
    ("min-length-empty", {"type": "min_length", "chars": 1}, "", "fail", "length 0 < 1"),
    ("json-ok", {"type": "valid_json"}, '[1, 2]', "pass", "valid JSON (list)"),
    ("json-bad", {"type": "valid_json"}, "Sure! Here it is", "fail",
     "output is not JSON: Expecting value: line 1 column 1"),
    ("json-schema-ok", JSON_SCHEMA, '{"intent": "billing"}', "pass", "valid JSON matching the schema"),
    ("json-schema-missing", JSON_SCHEMA, '{"label": "billing"}', "fail", "schema: 'intent' is a required property"),
    ("json-schema-type", JSON_SCHEMA, '{"intent": 3}', "fail", "schema: at /intent: 3 is not of type 'string'"),
    ("equals-ok", EQUALS, "billing", "pass", "equals 'billing'"),
    ("equals-other", EQUALS, "shipping", "fail", "expected 'billing', got 'shipping'"),
    ("equals-exact-case", EQUALS, "Billing\n", "fail", "expected 'billing', got 'Billing\\n'"),
    ("equals-normalized", EQUALS_NORM, "  Billing\n", "pass", "equals 'billing'"),
    ("equals-json-ok", EQUALS_JSON, '{"intent": "billing"}', "pass", "equals 'billing'"),
    ("equals-json-other", EQUALS_JSON, '{"intent": "shipping"}', "fail", "expected 'billing', got 'shipping'"),
    ("equals-json-no-field", EQUALS_JSON, '{"label": "billing"}', "fail", "output JSON has no field 'intent'"),
    ("equals-json-not-object", EQUALS_JSON, '["billing"]', "fail", "output is JSON but not an object (list)"),
    ("equals-json-not-json", EQUALS_JSON, "billing", "fail", "output is not JSON: Expecting value: line 1 column 1"),
    ("equals-number", {**EQUALS, "attribute": "count", "json_field": "n"}, '{"n": 3}', "pass", "equals '3'"),
    ("contains-ok", CONTAINS, "Order A-1234 shipped", "pass", "contains 'A-1234' at 6"),
    ("contains-missing", CONTAINS, "Your order shipped", "fail", "does not contain 'A-1234'"),
    ("contains-normalized", {**CONTAINS, "normalize": True}, "order a-1234", "pass", "contains 'A-1234' at 6"),
    ("refusal", {"type": "no_refusal"}, "I can't help with that. Please contact support.", "fail",
     'looks like a refusal: "I can\'t help with that"'),
    ("refusal-sorry", {"type": "no_refusal"}, "I’m sorry, but I cannot share that", "fail",
     'looks like a refusal: "I’m sorry, but I cannot share that"'),
    ("refusal-as-an-ai", {"type": "no_refusal"}, "As an AI, I do not have access to orders.", "fail",
     'looks like a refusal: "As an AI, I do not have access to orders"'),
    ("refusal-won't", {"type": "no_refusal"}, "Sorry, I won't be able to assist here!", "fail",
     'looks like a refusal: "I won\'t be able to assist here"'),
    ("refusal-none", {"type": "no_refusal"}, "Happy to help! Your refund was issued today.", "pass",
     "no refusal opener found"),
    ("refusal-help-but", {"type": "no_refusal"}, "I can't help but notice the double charge: fixed!", "pass",
     "no refusal opener found"),
    ("refusal-late", {"type": "no_refusal"}, "Your refund was issued. " * 8 + "I can't help with taxes.", "pass",
     "no refusal opener found"),
    ("pii", {"type": "no_pii"}, "Write to jane.doe@example.com or +44 20 7946 0958", "fail",
     "contains PII: email ×1, phone ×1"),
    ("pii-twice", {"type": "no_pii"}, "a@example.com, b@example.com", "fail", "contains PII: email ×2"),
    ("pii-none", {"type": "no_pii"}, "Your refund of $12.99 was issued.", "pass", "no PII found"),
    ("pii-markers-only", {"type": "no_pii"}, "We wrote to [REDACTED:email].", "pass", "no PII found"),
]


@pytest.mark.parametrize(("check", "text", "verdict", "explanation"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_check(check: dict[str, Any], text: str, verdict: str, explanation: str) -> None:
    result = run_one(check, sample(text))
    assert result == CriterionResult(id="c", kind="rule", verdict=verdict, explanation=explanation)


UNSCORED = [
    ("equals-no-attribute", EQUALS, sample("billing", attributes={}),
     "no expected value: attribute 'expected_intent' not set"),
    ("equals-null-attribute", EQUALS, sample("billing", attributes={"expected_intent": None}),
     "no expected value: attribute 'expected_intent' not set"),
    ("contains-no-attribute", CONTAINS, sample("x", attributes={"locale": "en"}),
     "no expected value: attribute 'order_id' not set"),
    ("contains-empty-attribute", {**CONTAINS, "attribute": "empty"}, sample("x"),
     "no expected value: attribute 'empty' is empty"),
    ("call-failed", {"type": "min_length", "chars": 1}, sample(None, error_type="RateLimitError"),
     "the call failed: RateLimitError"),
    ("call-failed-wire-record", {"type": "no_pii"}, sample(None, error={"type": "APITimeoutError", "message": "t"}),
     "the call failed: APITimeoutError"),
    ("only-tool-calls", {"type": "valid_json"},
     {"output_messages": [{"role": "assistant", "parts": [{"type": "tool_call", "name": "f"}]}], "attributes": {}},
     "no text in the output, only tool_call parts"),
    ("truncated-json", {"type": "valid_json"}, sample('{"a": "' + "x" * 10 + TRUNCATION_MARK, truncated=True),
     "output truncated by the sampler: cannot parse it as JSON"),
    ("truncated-max-length", {"type": "max_length", "chars": 100}, sample("x" * 10 + TRUNCATION_MARK, truncated=True),
     "output truncated by the sampler: its full length is unknown"),
    ("truncated-regex", REGEX, sample("x" * 10 + TRUNCATION_MARK, truncated=True),
     "no match for 'refund' in the part the sampler kept (output truncated)"),
]


@pytest.mark.parametrize(("check", "record", "reason"), [c[1:] for c in UNSCORED], ids=[c[0] for c in UNSCORED])
def test_check_unscored(check: dict[str, Any], record: dict[str, Any], reason: str) -> None:
    result = run_one(check, record)
    assert result == CriterionResult(id="c", kind="rule", verdict="unscored", explanation=reason, reason=reason)


def test_truncated_output_still_fails_what_is_already_known() -> None:
    record = sample("x" * 200 + TRUNCATION_MARK, truncated=True)
    assert run_one({"type": "max_length", "chars": 100}, record).verdict == "fail"
    assert run_one(REGEX_NOT, sample("your password" + TRUNCATION_MARK, truncated=True)).verdict == "fail"


def test_run_checks_keeps_rubric_order_and_reads_objects() -> None:
    class Row:  # a store Sample row is read by attribute
        output_messages = [{"role": "assistant", "parts": [{"type": "text", "content": "billing"}]}]
        attributes = {"expected_intent": "billing"}
        error_type = None

    rubric = rubric_with({"id": "b", **EQUALS}, {"id": "a", "type": "no_pii"})
    assert [(r.id, r.verdict) for r in run_checks(rubric, Row())] == [("b", "pass"), ("a", "pass")]


def test_output_text_joins_text_parts() -> None:
    messages = [
        {"role": "assistant", "parts": [{"type": "text", "content": "one"}, {"type": "tool_call", "name": "f"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "two"}]},
    ]
    assert output_text(messages) == ("one\ntwo", ["tool_call"])
    assert output_text(None) == ("", [])


# --- results and combine ------------------------------------------------------------------


def r(id: str, verdict: str, kind: str = "rule") -> CriterionResult:
    if verdict == "unscored":
        return CriterionResult.unscored(id, kind, f"why {id}")  # type: ignore[arg-type]
    return CriterionResult(id=id, kind=kind, verdict=verdict, explanation="x")  # type: ignore[arg-type]


ALL = {"mode": "all"}
FRACTION = {"mode": "fraction", "min": 0.8}
COMBINE = [
    ("all-pass", [r("a", "pass"), r("b", "pass", "llm")], ALL, ("pass", None)),
    ("all-one-fail", [r("a", "pass"), r("b", "fail")], ALL, ("fail", None)),
    ("all-skips-unscored", [r("a", "pass"), r("b", "unscored")], ALL,
     ("pass", "partial: 1 of 2 criteria unscored: b (why b)")),
    ("all-fail-with-unscored", [r("a", "fail"), r("b", "unscored"), r("c", "unscored")], ALL,
     ("fail", "partial: 2 of 3 criteria unscored: b (why b); c (why c)")),
    ("fraction-exactly-min", [r("a", "pass")] * 4 + [r("e", "fail")], FRACTION, ("pass", None)),
    ("fraction-below-min", [r("a", "pass")] * 3 + [r("d", "fail")], FRACTION, ("fail", None)),
    ("fraction-unscored-not-a-fail", [r("a", "pass")] * 4 + [r("e", "unscored")], FRACTION,
     ("pass", "partial: 1 of 5 criteria unscored: e (why e)")),
    ("all-unscored", [r("a", "unscored"), r("b", "unscored", "llm")], ALL,
     ("unscored", "all 2 criteria unscored: a (why a); b (why b)")),
    ("one-reason-grouped", [r("a", "pass"), CriterionResult.unscored("b", "llm", "no judge configured"),
                            CriterionResult.unscored("c", "llm", "no judge configured")], ALL,
     ("pass", "partial: 2 of 3 criteria unscored: b, c (no judge configured)")),
    ("nothing", [], FRACTION, ("unscored", "no criteria to score")),
]


@pytest.mark.parametrize(("results", "rule", "expected"), [c[1:] for c in COMBINE], ids=[c[0] for c in COMBINE])
def test_combine(results: list[CriterionResult], rule: dict[str, Any], expected: tuple[str, str | None]) -> None:
    assert combine(results, rule) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"mode": "most"}, "pass rule mode must be 'all' or 'fraction', not 'most'"),
        ({"mode": "fraction"}, "pass rule 'fraction' needs a min in (0, 1], not None"),
        ({"mode": "fraction", "min": 1.5}, "pass rule 'fraction' needs a min in (0, 1], not 1.5"),
    ],
    ids=["unknown-mode", "fraction-no-min", "fraction-min-too-big"],
)
def test_combine_rejects_bad_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        combine([r("a", "pass")], rule)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verdict": "unscored", "reason": None}, "criterion 'a': an unscored result needs a reason"),
        ({"verdict": "pass", "reason": "x"}, "criterion 'a': only an unscored result has a reason"),
        ({"verdict": "maybe"}, "verdict must be one of pass, fail, unscored, not 'maybe'"),
        ({"kind": "human"}, "kind must be one of rule, llm, not 'human'"),
    ],
    ids=["unscored-without-reason", "pass-with-reason", "bad-verdict", "bad-kind"],
)
def test_result_invariants(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"id": "a", "kind": "rule", "verdict": "pass", "explanation": "x", **kwargs}
    with pytest.raises(ValueError) as info:
        CriterionResult(**fields)
    assert str(info.value) == message


def test_result_json_round_trip() -> None:
    result = CriterionResult.unscored("tone", "llm", "reply did not parse")
    assert result.to_json() == {"id": "tone", "kind": "llm", "verdict": "unscored",
                                "explanation": "reply did not parse", "reason": "reply did not parse"}
    assert CriterionResult.from_json(result.to_json()) == result
