"""Judging one sample against one rubric: rule checks, then one Anthropic call for the LLM criteria.

:func:`judge_sample` never stores anything; it returns a :class:`Outcome` whose ``row`` is
the ``judgment`` row to store, or ``row=None`` when the judgment could not be made and
the sample should be left for a later run (the judge was unreachable after the SDK's
retries). A configuration the judge rejects (401, 403, 404: bad key, unknown model)
raises :class:`JudgeRejected`, which ends the run.

Verdicts: rule checks always run. LLM criteria are ``unscored`` without a call when no
judge is configured (``no judge configured``; the judgment's judge_model is then
``none`` and its verdict rests on rule checks alone) or the sampled call failed (no
output). A reply that cannot be read makes the whole judgment ``unscored`` with the
reason and the raw reply (never a pass or a fail); otherwise
:func:`judge.results.combine` decides, and its reason — which criteria were skipped —
is kept on the judgment whatever the verdict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic

from reviewer.errors import ConfigError, TastevinError
from reviewer.store import utc_now

from .checks import call_error, run_checks
from .claims import Target
from .pricing import Budget, ModelPrice, estimate_input_tokens
from .prompt import BadReply, OutputMode, build_request, read_reply
from .results import CriterionResult, combine

__all__ = [
    "NO_JUDGE_REASON",
    "BudgetExhausted",
    "JudgeRejected",
    "Outcome",
    "judge_sample",
    "judgment_row",
    "local_outcome",
    "make_client",
    "outcome_from_message",
    "unscored_llm",
]

NO_JUDGE_REASON = "no judge configured"
# Rejections that no retry and no other sample can fix: the run stops.
_FATAL_STATUSES = (401, 403, 404)


class JudgeRejected(TastevinError):
    """The judge API refused the configuration (key, permissions, model): stop the run."""


class BudgetExhausted(TastevinError):
    """The next call would not fit the run's budget."""


@dataclass(frozen=True)
class Outcome:
    """The judgment row to store, or ``row=None`` with ``error`` when it could not be made."""

    row: dict[str, Any] | None
    error: str | None = None


def make_client(
    *, api_key: str | None, base_url: str | None, timeout_s: float, max_retries: int
) -> anthropic.AsyncAnthropic | None:
    """The async Anthropic client, or None when no judge is configured (no key, no base URL).

    A compatible gateway given by ``base_url`` alone gets a placeholder key. The SDK does
    the retrying: ``max_retries`` attempts with exponential backoff on 408, 409, 429, 5xx
    and 529 and on timeouts, honouring ``retry-after``.
    """
    if not api_key and not base_url:
        return None
    try:
        return anthropic.AsyncAnthropic(
            api_key=api_key or "not-needed", base_url=base_url or None, timeout=timeout_s, max_retries=max_retries
        )
    except anthropic.AnthropicError as exc:  # pragma: no cover - constructor validation
        raise ConfigError(f"cannot configure the judge client: {exc}") from exc


def judgment_row(
    sample: Any,
    target: Target,
    *,
    run_id: int | None,
    rules: Sequence[CriterionResult],
    llm: Sequence[CriterionResult],
    bad_reply: str | None = None,
    raw_reply: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cost_usd: float | None = None,
    latency_ms: float | None = None,
) -> dict[str, Any]:
    """The ``judgment`` row for a sample; ``bad_reply`` makes it unscored whatever the rules say.

    ``unscored_reason`` is :func:`judge.results.combine`'s reason: why the judgment is
    unscored, or which criteria a pass or a fail skipped (``partial: …``); None when every
    criterion was scored.
    """
    reason: str | None
    if bad_reply is not None:
        verdict, reason = "unscored", f"judge reply unusable: {bad_reply}"
    else:
        verdict, reason = combine([*rules, *llm], target.rubric.pass_rule)
    return {
        "sample_id": sample.sample_id,
        "rubric_name": target.rubric.name,
        "rubric_version": target.rubric.version,
        "judge_model": target.judge_model,
        "verdict": verdict,
        # Also beside a pass or a fail: which criteria were skipped ("partial: …").
        "unscored_reason": reason,
        "criteria": [r.to_json() for r in llm],
        "checks": [r.to_json() for r in rules],
        "raw_reply": raw_reply,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost_usd": cost_usd,
        "latency_ms": latency_ms,
        "run_id": run_id,
        "created_at": utc_now(),
    }


def unscored_llm(target: Target, reason: str) -> list[CriterionResult]:
    """Every LLM criterion of the target's rubric, unscored with ``reason``."""
    return [CriterionResult.unscored(c.id, "llm", reason) for c in target.rubric.criteria]


def local_outcome(sample: Any, target: Target, *, run_id: int | None) -> Outcome | None:
    """The judgment when no LLM call is needed (rules only, no judge, failed call), else None."""
    rules = run_checks(target.rubric, sample)
    if not target.rubric.criteria:
        return Outcome(judgment_row(sample, target, run_id=run_id, rules=rules, llm=[]))
    if not target.uses_llm:
        return Outcome(judgment_row(sample, target, run_id=run_id, rules=rules, llm=unscored_llm(target, NO_JUDGE_REASON)))
    error = call_error(sample)
    if error is not None:
        llm = unscored_llm(target, f"the call failed ({error}): no output to judge")
        return Outcome(judgment_row(sample, target, run_id=run_id, rules=rules, llm=llm))
    return None


def outcome_from_message(
    sample: Any,
    target: Target,
    message: dict[str, Any],
    *,
    run_id: int | None,
    price: ModelPrice | None,
    latency_ms: float | None,
    batch: bool = False,
) -> Outcome:
    """The judgment from the judge's reply (a Messages API message as a dict)."""
    rules = run_checks(target.rubric, sample)
    usage = message.get("usage") or {}
    input_tokens = int(usage.get("input_tokens") or 0)
    output_tokens = int(usage.get("output_tokens") or 0)
    cost = None
    if price is not None:
        cost = price.cost(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
            batch=batch,
        )
    raw = json.dumps(message.get("content"), ensure_ascii=False)
    common: dict[str, Any] = dict(
        run_id=run_id, raw_reply=raw, input_tokens=input_tokens, output_tokens=output_tokens,
        cost_usd=cost, latency_ms=latency_ms,
    )
    try:
        llm = read_reply(message, target.rubric)
    except BadReply as exc:
        return Outcome(judgment_row(sample, target, rules=rules, llm=unscored_llm(target, exc.reason),
                                    bad_reply=exc.reason, **common))
    return Outcome(judgment_row(sample, target, rules=rules, llm=llm, **common))


def status_message(exc: anthropic.APIStatusError) -> str:
    """``STATUS TYPE: MESSAGE`` of an API error, from its body when the body says."""
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    return f"{exc.status_code} {error.get('type', '')}: {error.get('message', exc.message)}".strip()


async def judge_sample(
    client: anthropic.AsyncAnthropic | None,
    sample: Any,
    target: Target,
    *,
    run_id: int,
    max_tokens: int,
    price: ModelPrice | None,
    budget: Budget,
    output: OutputMode = "json_schema",
) -> Outcome:
    """Judge ``sample`` for ``target``: local results, or one judge call. See the module docstring.

    Raises BudgetExhausted before a call that would not fit the budget, JudgeRejected on
    401/403/404. Other API errors (after the SDK's retries) give ``Outcome(row=None)``;
    a 400 on this sample's request stores an unscored judgment (retrying cannot help).
    """
    local = local_outcome(sample, target, run_id=run_id)
    if local is not None:
        return local
    assert client is not None, "a target that uses the LLM needs a client"
    request = build_request(target.rubric, sample, model=target.judge_model, max_tokens=max_tokens, output=output)
    estimate = 0.0 if price is None else price.cost(input_tokens=estimate_input_tokens(request), output_tokens=max_tokens)
    if not budget.reserve(estimate):
        raise BudgetExhausted
    actual = 0.0
    started = time.perf_counter()
    try:
        message = await client.messages.create(**request)
        latency_ms = (time.perf_counter() - started) * 1000.0
        outcome = outcome_from_message(
            sample, target, message.model_dump(mode="json"), run_id=run_id, price=price, latency_ms=latency_ms
        )
        assert outcome.row is not None
        actual = outcome.row["cost_usd"] or 0.0
        return outcome
    except anthropic.APIStatusError as exc:
        if exc.status_code in _FATAL_STATUSES:
            raise JudgeRejected(
                f"the judge API rejected the request ({status_message(exc)}): check ANTHROPIC_API_KEY, "
                f"ANTHROPIC_BASE_URL and the judge model {target.judge_model!r}"
            ) from exc
        if exc.status_code in (400, 413, 422):
            reason = f"the judge API rejected this sample's request ({status_message(exc)})"
            rules = run_checks(target.rubric, sample)
            return Outcome(judgment_row(sample, target, run_id=run_id, rules=rules,
                                        llm=unscored_llm(target, reason), bad_reply=reason))
        return Outcome(None, error=status_message(exc))
    except (anthropic.APIConnectionError, anthropic.APITimeoutError) as exc:
        return Outcome(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        budget.settle(estimate, actual)
