"""Candidates: what an eval run replays its cases on, and the one generation call per case.

* ``anthropic`` — a Claude model through the Messages API. The case's recorded system
  prompt is sent unless the candidate replaces it (``system_prompt``); a ``template``
  (``{field}`` placeholders, ``{{``/``}}`` for braces) replaces the input with one user
  turn filled from the case — the way a new prompt version is tested. No sampling
  parameter is sent unless given in ``params`` (passed through ``extra_body``): current
  Claude models reject ``temperature`` and friends.
* ``reference`` — no generation: the case's reference output (what production answered)
  is judged, at no generation cost.

:func:`generate` makes the call and never raises for a failure of the call itself: the
result carries the error and the case ends ``errored``. It raises
:class:`judge.llm.BudgetExhausted` before a call that would not fit the budget and
:class:`CandidateRejected` when the API refuses the key or model (401/403/404).
"""

from __future__ import annotations

import hashlib
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anthropic

from reviewer.errors import ConfigError, TastevinError

from ..dataset_cases import Case, text_of
from ..llm import BudgetExhausted, status_message
from ..pricing import Budget, ModelPrice, estimate_input_tokens

__all__ = ["REFERENCE", "CandidateRejected", "CandidateSpec", "Generation", "generate", "parse_model",
           "template_fields"]

REFERENCE = "reference"
DEFAULT_MAX_TOKENS = 1024
RESERVED_PARAMS = frozenset({"model", "messages", "system", "max_tokens", "stream"})
_FATAL_STATUSES = (401, 403, 404)


class CandidateRejected(TastevinError):
    """The candidate's API refused the configuration (key, permissions, model): the run fails."""


def _hash(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class CandidateSpec:
    """A candidate: provider, model, an optional system prompt or template, max_tokens and params."""

    provider: str
    model: str
    system_prompt: str | None = None
    template: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.system_prompt is not None and self.template is not None:
            raise ConfigError("give a system prompt or a template, not both")
        reserved = sorted(RESERVED_PARAMS.intersection(self.params))
        if reserved:
            raise ConfigError(f"--param {reserved[0]} cannot be set: the eval runner sets it")
        if self.provider == REFERENCE and (self.system_prompt or self.template or self.params):
            raise ConfigError("the reference candidate generates nothing: it takes no prompt, template or params")

    @property
    def generates(self) -> bool:
        return self.provider != REFERENCE

    @property
    def prompt(self) -> str | None:
        return self.template if self.template is not None else self.system_prompt

    def to_json(self) -> dict[str, Any]:
        """The ``eval_run.candidate`` column: hashes of the prompt, not the text (that is ``eval_run.prompt``)."""
        return {"provider": self.provider, "model": self.model, "system_prompt_hash": _hash(self.system_prompt),
                "template_hash": _hash(self.template), "max_tokens": self.max_tokens, "params": dict(self.params)}

    @classmethod
    def from_run(cls, candidate: Mapping[str, Any], prompt: str | None) -> CandidateSpec:
        """Rebuild the spec of a stored run (``candidate`` column and ``prompt`` text)."""
        is_template = candidate.get("template_hash") is not None
        return cls(provider=candidate["provider"], model=candidate["model"],
                   system_prompt=None if is_template else prompt, template=prompt if is_template else None,
                   max_tokens=int(candidate.get("max_tokens") or DEFAULT_MAX_TOKENS),
                   params=dict(candidate.get("params") or {}))


def parse_model(text: str) -> tuple[str, str]:
    """``(provider, model)`` of a ``--model`` value: ``reference``, ``claude-…`` or ``anthropic:MODEL``."""
    value = text.strip()
    if value == REFERENCE:
        return REFERENCE, REFERENCE
    provider, sep, model = value.partition(":")
    if not sep:
        return "anthropic", value
    if provider == "anthropic" and model:
        return "anthropic", model
    if provider == "openai":
        raise ConfigError("OpenAI-compatible candidates (--model openai:MODEL) are not available in this version; "
                          "use an Anthropic model or --model reference")
    raise ConfigError(f"unknown candidate provider {provider!r} in --model {text!r}: use claude-…, anthropic:MODEL "
                      "or reference")


# --- templates ----------------------------------------------------------------------------


def case_fields(case: Case) -> dict[str, Any]:
    """What a template can name: the case's attributes, then its own fields (which win)."""
    return {**case.attributes, "id": case.id, "category": case.category, "input": case.input_text,
            "system_prompt": case.system_prompt or "", "expected_output": case.expected_output or "",
            "reference_output": case.reference_output or ""}


def template_fields(template: str) -> list[str]:
    """The placeholders of a template; raises ConfigError for a malformed one or ``{a.b}`` / ``{a[0]}``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"invalid template: {exc} (write {{{{ and }}}} for literal braces)") from exc
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ConfigError(f"invalid template placeholder {{{name}}}: use plain {{field}} names "
                              "(write {{ and }} for literal braces)")
        names.append(name)
    return names


def check_template(template: str, cases: list[Case]) -> None:
    """Raise ConfigError, before anything runs, when a placeholder is not a field of some case."""
    names = template_fields(template)
    for case in cases:
        fields = case_fields(case)
        missing = [n for n in names if n not in fields]
        if missing:
            raise ConfigError(f"template placeholder {{{missing[0]}}} is not a field of case {case.id!r} "
                              f"(it has: {', '.join(sorted(fields))})")


# --- the request and the call -------------------------------------------------------------


def _anthropic_messages(case: Case) -> tuple[list[dict[str, Any]], list[str]]:
    if isinstance(case.input, str):
        return [{"role": "user", "content": case.input}], []
    messages: list[dict[str, Any]] = []
    system: list[str] = []
    for message in case.input:
        text = text_of(message.get("parts"))
        if message.get("role") == "system":
            system.append(text)
        else:
            messages.append({"role": message["role"], "content": text})
    return messages, system


def build_request(spec: CandidateSpec, case: Case) -> dict[str, Any]:
    """Keyword arguments of ``messages.create`` for ``case`` (module docstring)."""
    messages, system_parts = _anthropic_messages(case)
    system = spec.system_prompt if spec.system_prompt is not None else (
        "\n".join(p for p in [case.system_prompt or "", *system_parts] if p) or None)
    if spec.template is not None:
        messages = [{"role": "user", "content": spec.template.format_map(case_fields(case))}]
    request: dict[str, Any] = {"model": spec.model, "max_tokens": spec.max_tokens, "messages": messages}
    if system:
        request["system"] = system
    if spec.params:
        request["extra_body"] = dict(spec.params)
    return request


@dataclass(frozen=True)
class Generation:
    """The candidate's answer to one case, or the ``error`` that prevented it."""

    output: str | None
    inference_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None


async def generate(
    client: anthropic.AsyncAnthropic | None,
    spec: CandidateSpec,
    case: Case,
    *,
    price: ModelPrice | None,
    budget: Budget,
) -> Generation:
    """The candidate's output for ``case`` (the reference output for ``reference``). See the module docstring."""
    if not spec.generates:
        if case.reference_output is None:
            return Generation(None, error="the case has no reference output")
        return Generation(case.reference_output, cost_usd=0.0)
    if client is None:
        raise ConfigError("an Anthropic candidate needs ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL")
    request = build_request(spec, case)
    estimate = 0.0 if price is None else price.cost(input_tokens=estimate_input_tokens(request),
                                                    output_tokens=spec.max_tokens)
    if not budget.reserve(estimate):
        raise BudgetExhausted
    actual = 0.0
    started = time.perf_counter()
    try:
        message = await client.messages.create(**request)
        inference_ms = (time.perf_counter() - started) * 1000.0
        usage = message.usage
        input_tokens, output_tokens = usage.input_tokens, usage.output_tokens
        cost = None
        if price is not None:
            cost = price.cost(input_tokens=input_tokens, output_tokens=output_tokens,
                              cache_read_tokens=usage.cache_read_input_tokens or 0,
                              cache_write_tokens=usage.cache_creation_input_tokens or 0)
            actual = cost
        text = "".join(block.text for block in message.content if block.type == "text")
        return Generation(text, inference_ms=inference_ms, input_tokens=input_tokens, output_tokens=output_tokens,
                          cost_usd=cost)
    except anthropic.APIStatusError as exc:
        if exc.status_code in _FATAL_STATUSES:
            raise CandidateRejected(f"the candidate API rejected the request ({status_message(exc)}): check "
                                    f"ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL and the model {spec.model!r}") from exc
        return Generation(None, error=status_message(exc))
    except (anthropic.APIConnectionError, anthropic.APITimeoutError) as exc:
        return Generation(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        budget.settle(estimate, actual)
