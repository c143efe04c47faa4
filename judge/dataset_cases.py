"""Dataset cases: the one in-memory shape, read from test-set files and from ``tastevin export`` lines.

A :class:`Case` is what a dataset version holds per case. Two line shapes are read, one
JSON object per line (JSONL) or a JSON array of them:

* the common test-set shape (also what ``tastevin datasets export`` writes)::

    {"id": "c1", "category": "billing", "input": "I was charged twice" | [messages],
     "system_prompt": "…", "expected_output": "…", "expected_intent": "refund",
     "rubric": ["Acknowledges the double charge", …], "reference_output": "…",
     "attributes": {…}, "production": {…}, "source_sample_id": "…"}

  ``id`` and ``input`` are required; ``category`` defaults to ``uncategorized``. Any
  ``expected_*`` field other than ``expected_output`` goes into ``attributes`` (where the
  ``equals_attribute`` check finds it). ``rubric`` items are questions (strings) or
  ``{"id", "question"}``: the case's own LLM criteria. Messages are
  ``{"role", "content": str | [{"type": "text", "text"}]}`` or semconv
  ``{"role", "parts": [{"type": "text", "content"}]}``; they are kept in semconv shape.
* the ``tastevin export`` shape (``"schema": "tastevin.eval/v1"``, see
  :mod:`reviewer.export`): the input messages and system instructions, the sampled output
  as the reference output, ``expected_output`` when known good, the production verdicts
  and the sample id as the source.

Errors name the line (1-based; the item index for a JSON array) and the field, e.g.
``cases.jsonl: line 7: input: required field is missing``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reviewer.errors import ConfigError

from .checks import output_text

__all__ = ["Case", "CaseError", "case_from_line", "content_hash", "criteria_from_rubric", "parse_cases", "text_of"]

EXPORT_SCHEMA = "tastevin.eval/v1"
UNCATEGORIZED = "uncategorized"
_COMMON_FIELDS = ("id", "category", "input", "system_prompt", "expected_output", "reference_output", "rubric",
                  "attributes", "production", "source_sample_id")
_ROLES = ("user", "assistant", "system")
_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_ID_CHARS = 48


class CaseError(ConfigError):
    """A dataset file is invalid; ``problems`` lists each as ``SOURCE: line N: FIELD: what``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Case:
    """One dataset case (module docstring). ``input`` is a string or semconv messages."""

    id: str
    category: str
    input: str | list[dict[str, Any]]
    system_prompt: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    criteria: list[dict[str, str]] = field(default_factory=list)
    expected_output: str | None = None
    reference_output: str | None = None
    production: dict[str, Any] | None = None
    source_sample_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The common-shape line (what ``datasets export`` writes); reading it back gives an equal case."""
        return {
            "id": self.id,
            "category": self.category,
            "input": self.input,
            "system_prompt": self.system_prompt,
            "expected_output": self.expected_output,
            "reference_output": self.reference_output,
            "rubric": [dict(c) for c in self.criteria],
            "attributes": self.attributes,
            "production": self.production,
            "source_sample_id": self.source_sample_id,
        }

    @property
    def input_text(self) -> str:
        """The input as text: the string itself, or the text of the last user message."""
        if isinstance(self.input, str):
            return self.input
        users = [m for m in self.input if m.get("role") == "user"]
        return text_of(users[-1]["parts"]) if users else ""


def text_of(parts: Any) -> str:
    """The text parts of semconv ``parts`` joined with newlines."""
    return output_text([{"parts": parts}])[0]


def content_hash(cases: Sequence[Case]) -> str:
    """SHA-256 (hex) of the cases as canonical JSON, in id order: the dataset version's identity."""
    canonical = json.dumps([c.to_json() for c in sorted(cases, key=lambda c: c.id)], sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- fields ---------------------------------------------------------------------------------


def _string(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise _Bad(name, "required field is missing")
        return None
    if not isinstance(value, str):
        raise _Bad(name, f"must be a string, not {type(value).__name__}")
    if required and not value.strip():
        raise _Bad(name, "must not be empty")
    return value


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, list):
        raise _Bad(where, f"must be a string or a list of content blocks, not {type(content).__name__}")
    parts = []
    for index, block in enumerate(content):
        if isinstance(block, str):
            parts.append({"type": "text", "content": block})
        elif isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
            parts.append({"type": "text", "content": block["text"]})
        elif isinstance(block, Mapping) and isinstance(block.get("type"), str):
            parts.append(dict(block))
        else:
            raise _Bad(f"{where}[{index}]", "a content block needs a type (e.g. {\"type\": \"text\", \"text\": …})")
    return parts


def _messages(value: Any, name: str) -> list[dict[str, Any]]:
    if not value:
        raise _Bad(name, "must not be empty")
    out = []
    for index, message in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(message, Mapping):
            raise _Bad(where, f"a message must be an object with role and content, not {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise _Bad(f"{where}.role", f"must be one of {', '.join(_ROLES)}, not {role!r}")
        if "parts" in message:
            parts = message["parts"]
            if not isinstance(parts, list) or not all(isinstance(p, Mapping) and "type" in p for p in parts):
                raise _Bad(f"{where}.parts", "must be a list of semconv parts ({\"type\": \"text\", \"content\": …})")
            out.append({"role": role, "parts": [dict(p) for p in parts]})
        elif "content" in message:
            out.append({"role": role, "parts": _parts(message["content"], f"{where}.content")})
        else:
            raise _Bad(where, "a message needs content (or semconv parts)")
    return out


def _input(value: Any) -> str | list[dict[str, Any]]:
    if value is None:
        raise _Bad("input", "required field is missing")
    if isinstance(value, str):
        if not value.strip():
            raise _Bad("input", "must not be empty")
        return value
    if isinstance(value, list):
        return _messages(value, "input")
    raise _Bad("input", f"must be a string or a list of messages, not {type(value).__name__}")


def _slug(question: str) -> str:
    slug = _SLUG.sub("_", question.casefold()).strip("_")[:_MAX_ID_CHARS].rstrip("_")
    return slug or "criterion"


def criteria_from_rubric(value: Any, name: str = "rubric") -> list[dict[str, str]]:
    """A case's own criteria from its ``rubric`` list: questions or ``{"id", "question"}``, ids made unique."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(name, f"must be a list of criteria (questions), not {type(value).__name__}")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if isinstance(item, str):
            question, ident = item, _slug(item)
        elif isinstance(item, Mapping) and isinstance(item.get("question"), str):
            question = item["question"]
            ident = item.get("id") or _slug(question)
            if not isinstance(ident, str) or re.fullmatch(r"[a-z0-9_]+", ident) is None:
                raise _Bad(f"{where}.id", f"{ident!r} must match [a-z0-9_]+")
        else:
            raise _Bad(where, "a criterion is a question (string) or {\"id\", \"question\"}")
        if not question.strip():
            raise _Bad(where, "the question must not be empty")
        base, n = ident, 2
        while ident in seen:
            ident, n = f"{base}_{n}", n + 1
        seen.add(ident)
        out.append({"id": ident, "question": question})
    return out


def _attributes(value: Any, name: str = "attributes") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Bad(name, f"must be an object, not {type(value).__name__}")
    return dict(value)


# --- the two line shapes ------------------------------------------------------------------


def _common(data: Mapping[str, Any]) -> Case:
    unknown = [k for k in data if k not in _COMMON_FIELDS and not k.startswith("expected_")]
    if unknown:
        close = difflib.get_close_matches(unknown[0], _COMMON_FIELDS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected {', '.join(_COMMON_FIELDS)} or expected_*"
        raise _Bad(unknown[0], f"unknown field; {hint}")
    attributes = _attributes(data.get("attributes"))
    for key, value in data.items():
        if key.startswith("expected_") and key != "expected_output":
            attributes[key] = value
    production = data.get("production")
    if production is not None and not isinstance(production, Mapping):
        raise _Bad("production", f"must be an object, not {type(production).__name__}")
    expected = data.get("expected_output")
    if isinstance(expected, list):  # messages, as in the export shape
        expected = text_of([p for m in _messages(expected, "expected_output") for p in m["parts"]])
    return Case(
        id=str(_string(data.get("id"), "id", required=True)),
        category=_string(data.get("category"), "category") or UNCATEGORIZED,
        input=_input(data.get("input")),
        system_prompt=_string(data.get("system_prompt"), "system_prompt"),
        attributes=attributes,
        criteria=criteria_from_rubric(data.get("rubric")),
        expected_output=_string(expected, "expected_output"),
        reference_output=_string(data.get("reference_output"), "reference_output"),
        production=None if production is None else dict(production),
        source_sample_id=_string(data.get("source_sample_id"), "source_sample_id"),
    )


def _output_text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Bad(name, f"must be a list of semconv output messages, not {type(value).__name__}")
    text, _ = output_text(value)
    return text


def _exported(data: Mapping[str, Any]) -> Case:
    sample_id = _string(data.get("id"), "id", required=True)
    given = data.get("input")
    if not isinstance(given, Mapping):
        raise _Bad("input", "must be an object with system_instructions and messages (the export shape)")
    system = given.get("system_instructions")
    if system is not None and not isinstance(system, list):
        raise _Bad("input.system_instructions", f"must be a list of parts, not {type(system).__name__}")
    system_text = text_of([p for p in system or () if isinstance(p, Mapping)]) or None  # semconv parts
    messages = given.get("messages")
    if not isinstance(messages, list):
        raise _Bad("input.messages", "required: the list of input messages")
    production = {key: data.get(key) for key in ("verdict", "verdicts", "rubric", "review")}
    production["rubrics"] = production.pop("rubric")
    return Case(
        id=str(sample_id),
        category=_string(data.get("category"), "category") or UNCATEGORIZED,
        input=_messages(messages, "input.messages"),
        system_prompt=system_text,
        attributes=_attributes(data.get("attributes")),
        expected_output=_output_text(data.get("expected_output"), "expected_output"),
        reference_output=_output_text(data.get("output"), "output"),
        production=production if any(v is not None for v in production.values()) else None,
        source_sample_id=sample_id,
    )


def case_from_line(data: Any) -> Case:
    """One case from a parsed line of either shape; raises ``ValueError`` naming the field."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a case must be a JSON object, not {type(data).__name__}")
    try:
        if data.get("schema") == EXPORT_SCHEMA:
            return _exported(data)
        if "schema" in data:
            raise _Bad("schema", f"unknown schema {data['schema']!r}; expected {EXPORT_SCHEMA!r} or none")
        return _common(data)
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def _items(text: str, source: str) -> Iterable[tuple[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CaseError([f"{source}: line {exc.lineno}: invalid JSON: {exc.msg}"]) from None
        for index, item in enumerate(items):
            yield f"item {index + 1}", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}", _Invalid(f"invalid JSON: {exc.msg} (column {exc.colno})")


@dataclass(frozen=True)
class _Invalid:
    message: str


def parse_cases(text: str, *, source: str = "<string>", max_problems: int = 20) -> list[Case]:
    """Every case of a JSON array or JSONL text, sorted by id.

    Raises :class:`CaseError` listing every problem (at most ``max_problems``, then a
    count): a line that is not JSON, a missing or malformed field, a duplicate case id,
    or no case at all. Nothing is returned unless the whole text is valid.
    """
    problems: list[str] = []
    cases: list[Case] = []
    first_line: dict[str, str] = {}
    for where, data in _items(text, source):
        if isinstance(data, _Invalid):
            problems.append(f"{source}: {where}: {data.message}")
            continue
        try:
            case = case_from_line(data)
        except ValueError as exc:
            problems.append(f"{source}: {where}: {exc}")
            continue
        if case.id in first_line:
            problems.append(f"{source}: {where}: id: duplicate case id {case.id!r} (first on {first_line[case.id]})")
            continue
        first_line[case.id] = where
        cases.append(case)
    if not problems and not cases:
        problems.append(f"{source}: no cases (expected JSON lines or a JSON array of case objects)")
    if problems:
        shown = problems[:max_problems]
        if len(problems) > max_problems:
            shown.append(f"… and {len(problems) - max_problems} more problems")
        raise CaseError(shown)
    return sorted(cases, key=lambda c: c.id)
