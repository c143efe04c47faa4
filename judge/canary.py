"""The judge's canary: re-judge each rubric's golden set with the current judge and rubric version.

``tastevin judge --canary`` calls :func:`run_canary`. Each golden sample is judged again
exactly as a run would (``judge.llm.judge_sample``: rule checks, one judge call), but the
judgment is **not stored** — the judgment table keeps one verdict per (sample, rubric
version, judge model) and the canary must not replace or duplicate them. What is stored
is the agreement with the golden verdicts, one ``golden_check`` row per (rubric version,
judge model) and run (``reviewer.golden.record_check``); a drop between two checks shows
the judge (model or rubric edit) drifted.

Blocks on the judge calls (at most ``concurrency`` at a time) and the database. Raises
``ConfigError`` without an LLM judge (a rules-only canary would say nothing about the
judge) and ``JudgeRejected`` when the API refuses the key or model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import anthropic
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.errors import ConfigError
from reviewer.golden import golden_items, record_check
from reviewer.store import Sample
from reviewer.store.models import GoldenCheck

from .llm import judge_sample
from .pricing import Budget, PriceTable
from .rubric import Rubric
from .runner import RunOptions, make_targets

__all__ = ["run_canary"]

_NO_RUN = 0  # the rows built are never stored, so they belong to no run


def run_canary(
    engine: Engine,
    rubrics: Sequence[Rubric],
    *,
    client: anthropic.AsyncAnthropic | None,
    prices: PriceTable,
    options: RunOptions,
) -> list[GoldenCheck]:
    """Re-judge the golden set of every rubric in ``rubrics`` that has one; one stored check per rubric.

    Rubrics without golden samples are skipped. A call that fails after the SDK's retries
    counts as ``errored`` in its check.
    """
    if client is None:
        raise ConfigError("the canary re-judges the golden set with the LLM judge: set ANTHROPIC_API_KEY "
                          "(or ANTHROPIC_BASE_URL)")
    targets = {t.rubric.name: t for t in make_targets(rubrics, options=options, judge_configured=True, prices=prices)}
    golden = golden_items(engine)
    checks = []
    for name in sorted({item.rubric_name for item in golden} & set(targets)):
        target = targets[name]
        items = [item for item in golden if item.rubric_name == name]
        with Session(engine) as session:
            samples = {s.sample_id: s for s in session.exec(
                select(Sample).where(col(Sample.sample_id).in_([i.sample_id for i in items])))}
        verdicts = asyncio.run(_judge_all(client, [samples[i.sample_id] for i in items], target, prices, options))
        checks.append(record_check(engine, rubric_name=name, rubric_version=target.rubric.version,
                                   judge_model=target.judge_model,
                                   pairs=[(i.verdict, v) for i, v in zip(items, verdicts, strict=True)]))
    return checks


async def _judge_all(
    client: anthropic.AsyncAnthropic, samples: list[Any], target: Any, prices: PriceTable, options: RunOptions
) -> list[str | None]:
    gate = asyncio.Semaphore(options.concurrency)
    budget = Budget(options.budget_usd)
    price = prices.get(target.judge_model) if target.uses_llm else None

    async def one(sample: Any) -> str | None:
        async with gate:
            outcome = await judge_sample(client, sample, target, run_id=_NO_RUN, max_tokens=options.max_tokens,
                                         price=price, budget=budget, output=options.output)
        return None if outcome.row is None else str(outcome.row["verdict"])

    return list(await asyncio.gather(*(one(sample) for sample in samples)))
