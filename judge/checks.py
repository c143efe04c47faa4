"""Rule checks: deterministic criteria run locally on a sample's output, no LLM involved.

Each check type is a small frozen model built from (and validated with) its entry in a
rubric's ``checks:`` list, and implements one protocol, :class:`Check`:
``run(text, sample) -> CriterionResult``. ``text`` is the sample's output text (the text
parts of its output messages, joined with newlines), ``sample`` the whole sample (a
mapping such as a wire record, or an object with the same attributes such as a store
``Sample`` row) for checks that need more, like an expected value in ``attributes``.

A check that cannot apply returns ``unscored`` with a reason, never a pass or a fail:

* the call failed (``error_type`` set) — there is no output to check;
* the output holds no text at all, only other parts (tool calls …);
* an attribute-based check whose attribute is missing from the sample;
* the sampler truncated the output and the answer depends on the part that was cut.

Check types (``type:`` in YAML): ``regex``, ``min_length``, ``max_length``,
``valid_json``, ``equals_attribute``, ``contains_attribute``, ``no_refusal``, ``no_pii``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Protocol, Union

import jsonschema
from jsonschema.exceptions import best_match
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from sampler.redact import Redactor
from sampler.record import TRUNCATION_MARK

from .results import CriterionResult

__all__ = [
    "CHECK_TYPES",
    "Check",
    "CheckSpec",
    "ContainsAttributeCheck",
    "EqualsAttributeCheck",
    "HasChecks",
    "MaxLengthCheck",
    "MinLengthCheck",
    "NoPiiCheck",
    "NoRefusalCheck",
    "RegexCheck",
    "ValidJsonCheck",
    "call_error",
    "output_text",
    "run_checks",
    "sample_field",
]

ID_PATTERN = re.compile(r"[a-z0-9_]+")
_PREVIEW_CHARS = 60


class Check(Protocol):
    """A rule check. ``run`` is pure, thread-safe, never blocks and never raises."""

    @property
    def id(self) -> str: ...

    @property
    def type(self) -> str: ...

    def run(self, text: str, sample: Any) -> CriterionResult: ...


def validate_id(value: str) -> str:
    """Criterion and check ids: ``[a-z0-9_]+``; raises ValueError otherwise."""
    if ID_PATTERN.fullmatch(value) is None:
        raise ValueError(f"{value!r} must match [a-z0-9_]+")
    return value


def sample_field(sample: Any, name: str) -> Any:
    """``name`` of a sample given as a mapping (wire record) or an object (store row); None if absent."""
    if isinstance(sample, Mapping):
        return sample.get(name)
    return getattr(sample, name, None)


def _preview(value: str) -> str:
    return repr(value if len(value) <= _PREVIEW_CHARS else value[: _PREVIEW_CHARS - 1] + "…")


def _was_cut(text: str, sample: Any) -> bool:
    return bool(sample_field(sample, "truncated")) and TRUNCATION_MARK in text


def _json_error(exc: json.JSONDecodeError) -> str:
    return f"output is not JSON: {exc.msg}: line {exc.lineno} column {exc.colno}"


class _CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kind: ClassVar[Literal["rule"]] = "rule"
    id: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return validate_id(value)

    def _result(self, passed: bool, explanation: str) -> CriterionResult:
        return CriterionResult(id=self.id, kind="rule", verdict="pass" if passed else "fail", explanation=explanation)

    def _unscored(self, reason: str) -> CriterionResult:
        return CriterionResult.unscored(self.id, "rule", reason)

    def _parse_json(self, text: str, sample: Any) -> Any:
        """The output parsed as JSON, or the result to return instead (cut → unscored, invalid → fail)."""
        if _was_cut(text, sample):
            return self._unscored("output truncated by the sampler: cannot parse it as JSON")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            return self._result(False, _json_error(exc))


class RegexCheck(_CheckBase):
    """``pattern`` must (``must_match: true``, the default) or must not be found anywhere."""

    type: Literal["regex"]
    pattern: str
    must_match: bool = True
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL", "ASCII"]] = Field(default_factory=list)
    _compiled: re.Pattern[str] = PrivateAttr()

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:  # none of the allowed flags changes what compiles
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regex: {exc}") from exc
        return value

    def model_post_init(self, context: Any) -> None:
        flags = 0
        for name in self.flags:
            flags |= getattr(re, name)
        self._compiled = re.compile(self.pattern, flags)

    def run(self, text: str, sample: Any) -> CriterionResult:
        found = self._compiled.search(text)
        if found is not None:
            where = f"matched {_preview(found.group(0))} at {found.start()}"
            return self._result(self.must_match, where if self.must_match else f"{where}, which must not match")
        if self.must_match and _was_cut(text, sample):
            return self._unscored(f"no match for {self.pattern!r} in the part the sampler kept (output truncated)")
        return self._result(not self.must_match, f"no match for {self.pattern!r}")


class MaxLengthCheck(_CheckBase):
    """The output has at most ``chars`` characters."""

    type: Literal["max_length"]
    chars: int = Field(ge=1)

    def run(self, text: str, sample: Any) -> CriterionResult:
        if len(text) > self.chars:
            return self._result(False, f"length {len(text)} > {self.chars}")
        if _was_cut(text, sample):
            return self._unscored("output truncated by the sampler: its full length is unknown")
        return self._result(True, f"length {len(text)} ≤ {self.chars}")


class MinLengthCheck(_CheckBase):
    """The output has at least ``chars`` characters."""

    type: Literal["min_length"]
    chars: int = Field(ge=1)

    def run(self, text: str, sample: Any) -> CriterionResult:
        if len(text) < self.chars:
            return self._result(False, f"length {len(text)} < {self.chars}")
        return self._result(True, f"length {len(text)} ≥ {self.chars}")


class ValidJsonCheck(_CheckBase):
    """The whole output parses as JSON and, when ``schema`` is given, validates against it."""

    type: Literal["valid_json"]
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    _validator: Any = PrivateAttr(default=None)

    @field_validator("json_schema")
    @classmethod
    def _schema_ok(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                where = "".join(f"/{p}" for p in exc.path)
                raise ValueError(f"invalid JSON Schema{f' at {where}' if where else ''}: {exc.message}") from exc
        return value

    def model_post_init(self, context: Any) -> None:
        if self.json_schema is not None:
            self._validator = jsonschema.validators.validator_for(self.json_schema)(self.json_schema)

    def run(self, text: str, sample: Any) -> CriterionResult:
        value = self._parse_json(text, sample)
        if isinstance(value, CriterionResult):
            return value
        if self._validator is None:
            return self._result(True, f"valid JSON ({type(value).__name__})")
        error = best_match(self._validator.iter_errors(value))
        if error is None:
            return self._result(True, "valid JSON matching the schema")
        where = "".join(f"/{p}" for p in error.absolute_path)
        return self._result(False, f"schema: {f'at {where}: ' if where else ''}{error.message}")


def _normalized(value: str) -> str:
    return " ".join(value.split()).casefold()


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _AttributeCheck(_CheckBase):
    attribute: str = Field(min_length=1)
    normalize: bool = False
    json_field: str | None = Field(default=None, min_length=1)

    def _expected(self, sample: Any) -> str | CriterionResult:
        attributes = sample_field(sample, "attributes")
        if not isinstance(attributes, Mapping) or self.attribute not in attributes or attributes[self.attribute] is None:
            return self._unscored(f"no expected value: attribute {self.attribute!r} not set")
        return _as_text(attributes[self.attribute])

    def _actual(self, text: str, sample: Any) -> str | CriterionResult:
        if self.json_field is None:
            return text
        value = self._parse_json(text, sample)
        if isinstance(value, CriterionResult):
            return value
        if not isinstance(value, dict):
            return self._result(False, f"output is JSON but not an object ({type(value).__name__})")
        if self.json_field not in value:
            return self._result(False, f"output JSON has no field {self.json_field!r}")
        return _as_text(value[self.json_field])


class EqualsAttributeCheck(_AttributeCheck):
    """The output (or its JSON ``json_field``) equals the sample's ``attributes[attribute]``.

    Exact comparison unless ``normalize: true`` (case-folded, whitespace collapsed and
    trimmed). Non-string values compare by their JSON text, so ``3`` equals ``"3"``.
    """

    type: Literal["equals_attribute"]

    def run(self, text: str, sample: Any) -> CriterionResult:
        expected = self._expected(sample)
        if isinstance(expected, CriterionResult):
            return expected
        actual = self._actual(text, sample)
        if isinstance(actual, CriterionResult):
            return actual
        if self.json_field is None and _was_cut(text, sample):
            return self._unscored("output truncated by the sampler: cannot compare it")
        equal = _normalized(actual) == _normalized(expected) if self.normalize else actual == expected
        if equal:
            return self._result(True, f"equals {_preview(expected)}")
        return self._result(False, f"expected {_preview(expected)}, got {_preview(actual)}")


class ContainsAttributeCheck(_AttributeCheck):
    """The output (or its JSON ``json_field``) contains ``attributes[attribute]``.

    ``normalize: true`` compares case-folded with whitespace collapsed.
    """

    type: Literal["contains_attribute"]

    def run(self, text: str, sample: Any) -> CriterionResult:
        expected = self._expected(sample)
        if isinstance(expected, CriterionResult):
            return expected
        if not expected.strip():
            return self._unscored(f"no expected value: attribute {self.attribute!r} is empty")
        actual = self._actual(text, sample)
        if isinstance(actual, CriterionResult):
            return actual
        haystack, needle = (_normalized(actual), _normalized(expected)) if self.normalize else (actual, expected)
        at = haystack.find(needle)
        if at >= 0:
            return self._result(True, f"contains {_preview(expected)} at {at}")
        if _was_cut(text, sample):
            return self._unscored(f"{_preview(expected)} not in the part the sampler kept (output truncated)")
        return self._result(False, f"does not contain {_preview(expected)}")


# A heuristic, English only: common openers of a refusal, looked for near the start of the
# output (a refusal comes first; the same words deep in a helpful answer usually are not
# one). It misses polite or indirect refusals and may flag "I can't help noticing …".
_REFUSAL_WINDOW = 160
_REFUSAL = re.compile(
    r"""
    \b(?:
        i\ (?:can't|cannot|can\ not|won't|will\ not)\ (?:be\ able\ to\ )?
            (?:help|assist|provide|comply|fulfil|fulfill|support|answer|respond|do\ that|share|discuss)
            (?!\ but\b)  # "I can't help but notice" is not a refusal
      | i(?:'m|\ am)\ (?:unable|not\ able|not\ allowed|not\ permitted)\ to\ 
            (?:help|assist|provide|comply|fulfil|fulfill|support|answer|respond|do\ that|share|discuss)
      | i(?:'m|\ am)\ sorry,?\ but\ i\ (?:can't|cannot|won't|am\ unable|'m\ unable)
      | i\ must\ (?:decline|refuse)
      | as\ an\ ai\b
      | as\ a\ language\ model\b
    )
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?\n]")


class NoRefusalCheck(_CheckBase):
    """The output does not open like a refusal ("I can't help with that", "As an AI …").

    A heuristic: a short list of English openers matched case-insensitively within the
    first 160 characters. Use an LLM criterion for anything subtler.
    """

    type: Literal["no_refusal"]

    def run(self, text: str, sample: Any) -> CriterionResult:
        head = text[:_REFUSAL_WINDOW].replace("\u2019", "'")
        found = _REFUSAL.search(head)
        if found is None:
            return self._result(True, "no refusal opener found")
        end = _SENTENCE_END.search(text, found.end())
        quote = text[found.start() : end.start() if end else len(text)].strip()
        if len(quote) > _PREVIEW_CHARS:
            quote = quote[: _PREVIEW_CHARS - 1] + "…"
        return self._result(False, f'looks like a refusal: "{quote}"')


_REDACTOR = Redactor()


class NoPiiCheck(_CheckBase):
    """The output holds no personal data or secret the sampler's :class:`Redactor` detects.

    Samples are redacted before they leave the app, so this mostly catches what the app's
    redaction settings let through; ``[REDACTED:…]`` markers are not counted.
    """

    type: Literal["no_pii"]

    def run(self, text: str, sample: Any) -> CriterionResult:
        counts: dict[str, int] = {}
        _REDACTOR.redact_text(text, counts)
        if not counts:
            return self._result(True, "no PII found")
        found = ", ".join(f"{kind} ×{n}" for kind, n in sorted(counts.items()))
        return self._result(False, f"contains PII: {found}")


CheckSpec = Annotated[
    Union[
        RegexCheck,
        MinLengthCheck,
        MaxLengthCheck,
        ValidJsonCheck,
        EqualsAttributeCheck,
        ContainsAttributeCheck,
        NoRefusalCheck,
        NoPiiCheck,
    ],
    Field(discriminator="type"),
]
"""Any check, validated from its YAML mapping by its ``type``."""

CHECK_TYPES: dict[str, type[_CheckBase]] = {
    "regex": RegexCheck,
    "min_length": MinLengthCheck,
    "max_length": MaxLengthCheck,
    "valid_json": ValidJsonCheck,
    "equals_attribute": EqualsAttributeCheck,
    "contains_attribute": ContainsAttributeCheck,
    "no_refusal": NoRefusalCheck,
    "no_pii": NoPiiCheck,
}


def output_text(output_messages: Sequence[Any] | None) -> tuple[str, list[str]]:
    """The text parts of ``output_messages`` joined with newlines, and the other part types.

    Messages are semconv shaped: ``[{"role": ..., "parts": [{"type": "text", "content": ...}]}]``.
    """
    texts: list[str] = []
    others: list[str] = []
    for message in output_messages or ():
        parts = message.get("parts") if isinstance(message, Mapping) else None
        for part in parts or ():
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
            else:
                others.append(str(part.get("type")))
    return "\n".join(texts), others


def call_error(sample: Any) -> str | None:
    """The error type when the sampled call failed (so there is no output to judge), else None."""
    error_type = sample_field(sample, "error_type")
    if error_type:
        return str(error_type)
    error = sample_field(sample, "error")  # a wire record rather than a store row
    if isinstance(error, Mapping) and error.get("type"):
        return str(error["type"])
    return None


class HasChecks(Protocol):
    """What :func:`run_checks` needs of a rubric (a :class:`judge.rubric.Rubric`): its
    checks. A protocol, so that this module does not import the rubric module, which
    imports it."""

    @property
    def checks(self) -> Sequence[Check]: ...


def run_checks(rubric: HasChecks, sample: Any) -> list[CriterionResult]:
    """Run every rule check of ``rubric`` on ``sample``, in the rubric's order.

    ``sample`` is a mapping (a wire record, a dict) or an object (a store ``Sample``)
    with ``output_messages``, ``attributes`` and ``error_type`` (or a wire ``error``).
    Pure and thread-safe; returns one result per check and raises nothing for bad
    sample data — what cannot be checked is ``unscored`` with its reason.
    """
    if not rubric.checks:
        return []
    error = call_error(sample)
    if error is not None:
        return [CriterionResult.unscored(c.id, "rule", f"the call failed: {error}") for c in rubric.checks]
    text, others = output_text(sample_field(sample, "output_messages"))
    if not text and others:
        reason = f"no text in the output, only {', '.join(sorted(set(others)))} parts"
        return [CriterionResult.unscored(c.id, "rule", reason) for c in rubric.checks]
    return [check.run(text, sample) for check in rubric.checks]
