"""Scoring one eval case with the judge's machinery, unchanged.

A case is judged, like a sampled call, against *targets* (:class:`judge.claims.Target`):

* every rubric whose categories select the case's category (its rule checks and LLM
  criteria; a rubric's ``judge_fraction`` does not apply: every case is judged);
* the case's own rubric, ``case``: its per-case criteria (``rubric: [questions]`` in the
  file) and, when it has an ``expected_output``, the rule check ``exact_match`` —
  case- and whitespace-insensitive by default, exact with ``match="strict"``.

Each target is one :func:`judge.llm.judge_sample` call with the candidate's output in the
place of the sampled output. The case's verdict combines the targets' verdicts as
everywhere in Tastevin: ``fail`` if one fails, else ``pass`` if one passes, else
``unscored`` (with the reasons). A judgment the judge could not make (API unreachable
after retries) is an unscored target with that reason; a case whose generation failed is
``errored`` and is not judged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anthropic

from ..claims import NO_JUDGE_MODEL, Target
from ..dataset_cases import Case
from ..llm import BudgetExhausted, judge_sample
from ..pricing import Budget, PriceTable
from ..prompt import OutputMode
from ..rubric import Rubric, RubricSpec

__all__ = ["CASE_RUBRIC", "CaseSample", "JudgingStopped", "MatchMode", "Scored", "case_rubric", "case_targets",
           "score_case"]

CASE_RUBRIC = "case"
MatchMode = Literal["normalized", "strict"]


@dataclass(frozen=True)
class CaseSample:
    """A case with a candidate's output, shaped like the store's ``Sample`` for checks and the judge."""

    sample_id: str
    category: str
    system_instructions: list[dict[str, Any]] | None
    input_messages: list[dict[str, Any]]
    output_messages: list[dict[str, Any]]
    attributes: dict[str, Any]
    error_type: str | None = None
    truncated: bool = False

    @classmethod
    def of(cls, case: Case, output: str) -> CaseSample:
        messages = ([{"role": "user", "parts": [{"type": "text", "content": case.input}]}]
                    if isinstance(case.input, str) else list(case.input))
        system = None if case.system_prompt is None else [{"type": "text", "content": case.system_prompt}]
        attributes = dict(case.attributes)
        if case.expected_output is not None:
            attributes["expected_output"] = case.expected_output
        return cls(sample_id=case.id, category=case.category, system_instructions=system, input_messages=messages,
                   output_messages=[{"role": "assistant", "parts": [{"type": "text", "content": output}]}],
                   attributes=attributes)


class JudgingStopped(BudgetExhausted):
    """The budget ran out part way through a case's judging; ``spent_usd`` is what its judge calls cost so far."""

    def __init__(self, spent_usd: float) -> None:
        super().__init__(f"budget exhausted after ${spent_usd:.6f} of judging")
        self.spent_usd = spent_usd


_CASE_RUBRICS: dict[str, Rubric] = {}


def case_rubric(case: Case, match: MatchMode = "normalized") -> Rubric | None:
    """The case's own rubric (module docstring), or None when it has no criteria and no expected output."""
    checks = []
    if case.expected_output is not None:
        checks.append({"id": "exact_match", "type": "equals_attribute", "attribute": "expected_output",
                       "normalize": match == "normalized"})
    if not case.criteria and not checks:
        return None
    spec = {"name": CASE_RUBRIC, "description": "The case's own criteria and expected output.",
            "categories": ["*"], "criteria": [dict(c) for c in case.criteria], "checks": checks}
    key = json.dumps(spec, sort_keys=True)
    rubric = _CASE_RUBRICS.get(key)
    if rubric is None:
        rubric = Rubric.from_spec(RubricSpec.model_validate(spec))
        if len(_CASE_RUBRICS) < 10_000:
            _CASE_RUBRICS[key] = rubric
    return rubric


def case_targets(
    case: Case, rubrics: Sequence[Rubric], *, judge_model: str, judge_configured: bool, match: MatchMode = "normalized"
) -> list[Target]:
    """The targets that judge ``case``: rubrics selecting its category, then its own rubric."""
    chosen = [r for r in rubrics if r.applies_to(case.category)]
    own = case_rubric(case, match)
    if own is not None:
        chosen.append(own)
    return [Target(r, (r.judge_model or judge_model) if r.criteria and judge_configured else NO_JUDGE_MODEL)
            for r in chosen]


@dataclass(frozen=True)
class Scored:
    """A case's verdict with its per-criterion results, per-rubric judgments, raw replies and cost."""

    verdict: str
    reason: str | None
    criteria: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    judgments: list[dict[str, Any]] = field(default_factory=list)
    raw_reply: str | None = None
    judge_cost_usd: float = 0.0
    judge_ms: float | None = None
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0


def _combined(judgments: Sequence[dict[str, Any]]) -> tuple[str, str | None]:
    verdicts = [j["verdict"] for j in judgments]
    if "fail" in verdicts:
        return "fail", None
    if "pass" in verdicts:
        return "pass", None
    return "unscored", "; ".join(f"{j['rubric']}: {j['reason']}" for j in judgments)


async def score_case(
    client: anthropic.AsyncAnthropic | None,
    case: Case,
    output: str,
    targets: Sequence[Target],
    *,
    run_id: int,
    prices: PriceTable,
    budget: Budget,
    max_tokens: int,
    output_mode: OutputMode = "json_schema",
) -> Scored:
    """Judge ``output`` for ``case`` against ``targets``; see the module docstring.

    Raises :class:`JudgingStopped` (a ``BudgetExhausted``, with what the case's earlier
    judge calls cost) before a judge call that would not fit the budget and :class:`judge.llm.JudgeRejected` on 401/403/404 from the judge API.
    """
    if not targets:
        return Scored("unscored", f"no rubric applies to category {case.category!r} and the case has no "
                                  "criteria or expected output")
    sample = CaseSample.of(case, output)
    criteria: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    judgments: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    cost, latency, tokens_in, tokens_out = 0.0, 0.0, 0, 0
    timed = False
    for target in targets:
        try:
            outcome = await judge_sample(client, sample, target, run_id=run_id, max_tokens=max_tokens,
                                         price=prices.get(target.judge_model) if target.uses_llm else None,
                                         budget=budget, output=output_mode)
        except BudgetExhausted:
            raise JudgingStopped(cost) from None
        name = target.rubric.name
        row = outcome.row
        if row is None:
            judgments.append({"rubric": name, "rubric_version": target.rubric.version,
                              "judge_model": target.judge_model, "verdict": "unscored",
                              "reason": f"the judge call failed: {outcome.error}", "cost_usd": None})
            continue
        criteria += [{**c, "rubric": name} for c in row["criteria"]]
        checks += [{**c, "rubric": name} for c in row["checks"]]
        judgments.append({"rubric": name, "rubric_version": target.rubric.version, "judge_model": target.judge_model,
                          "verdict": row["verdict"], "reason": row["unscored_reason"], "cost_usd": row["cost_usd"]})
        if row["raw_reply"] is not None:
            raw[name] = row["raw_reply"]
        cost += row["cost_usd"] or 0.0
        tokens_in += row["input_tokens"] or 0
        tokens_out += row["output_tokens"] or 0
        if row["latency_ms"] is not None:
            latency += row["latency_ms"]
            timed = True
    verdict, reason = _combined(judgments)
    return Scored(verdict, reason, criteria=criteria, checks=checks, judgments=judgments,
                  raw_reply=json.dumps(raw, ensure_ascii=False) if raw else None, judge_cost_usd=cost,
                  judge_ms=latency if timed else None, judge_input_tokens=tokens_in, judge_output_tokens=tokens_out)
