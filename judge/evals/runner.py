"""Running an eval run: claim cases, generate on the candidate, judge, store — until done or stopped.

Inside one asyncio loop (:func:`run_eval`): a *feeder* claims cases a chunk at a time
(:func:`judge.evals.store.claim_cases`); ``concurrency`` *workers* each take a case,
generate its output (skipped when a previous worker already stored it), judge it
(:func:`judge.evals.scoring.score_case`) and store the verdict; a *heartbeat* renews the
run's heartbeat and this worker's claims, and notices a cancel made elsewhere. The
database is used through ``asyncio.to_thread``, so calls in flight never wait on it.

The run stops early, keeping what was done, when the next call would exceed the budget
(``cancelled``, stop reason ``budget``), when ``stop`` is set (Ctrl-C: ``cancelled``,
``signal``), when the run is cancelled in the store (``cancelled``), or when an API
refuses the key or model (``failed``, ``error``). Cases claimed and not finished are
released; a killed worker's claims are taken over after ``stale_after_s``. Several
workers can run one run at once; the last to find nothing left completes it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic
from sqlalchemy.engine import Engine

from reviewer.store import EvalRun

from ..claims import rubric_by_version, sync_rubrics
from ..llm import BudgetExhausted, JudgeRejected
from ..pricing import Budget, PriceTable
from ..prompt import DEFAULT_MAX_TOKENS, OutputMode
from ..rubric import Rubric
from ..runner import DEFAULT_JUDGE_MODEL, default_worker_id
from .candidates import CandidateRejected, CandidateSpec, Generation, generate
from .scoring import JudgingStopped, MatchMode, case_targets, score_case
from .store import claim_cases, finish_run, release, renew, spent_usd, start_run, store_generation, store_result

__all__ = ["EvalOptions", "Progress", "run_eval", "run_rubrics"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    """How a worker runs an eval: concurrency, judging options, its lease and its id."""

    concurrency: int = 8
    judge_model: str = DEFAULT_JUDGE_MODEL
    judge_max_tokens: int = DEFAULT_MAX_TOKENS
    output: OutputMode = "json_schema"
    match: MatchMode = "normalized"
    stale_after_s: float = 120.0
    worker_id: str = field(default_factory=default_worker_id)

    @property
    def claim_size(self) -> int:
        return max(2 * self.concurrency, 16)

    def settings(self) -> dict[str, Any]:
        """The judging options stored with the run (``eval_run.settings``)."""
        return {"judge_max_tokens": self.judge_max_tokens, "output": self.output, "match": self.match}


def run_rubrics(engine: Engine, run: EvalRun) -> list[Rubric]:
    """The rubric versions a run was created with, rebuilt from the ``rubric`` table."""
    rubrics = []
    for entry in run.rubrics:
        rubric = rubric_by_version(engine, entry["version"])
        if rubric is None:
            raise JudgeRejected(f"rubric {entry['name']} version {entry['version']} of eval run {run.id} is not in "
                                "the store")
        rubrics.append(rubric)
    return rubrics


@dataclass
class _State:
    done: int
    stop_reason: str | None = None
    fatal: BaseException | None = None
    cancelled_elsewhere: bool = False

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason


def run_eval(
    engine: Engine,
    run_id: int,
    *,
    client: anthropic.AsyncAnthropic | None,
    judge_client: anthropic.AsyncAnthropic | None,
    rubrics: Sequence[Rubric],
    prices: PriceTable,
    options: EvalOptions,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Run (or resume, or join) eval run ``run_id`` until it is done or stopped; returns the run as stored.

    Blocks. ``client`` calls the candidate, ``judge_client`` the judge (None: LLM criteria
    unscored, "no judge configured"). Raises JudgeRejected / CandidateRejected after marking
    the run failed when an API refuses the key or model, ConfigError for a finished run.
    """
    sync_rubrics(engine, rubrics)
    return asyncio.run(_run(engine, run_id, client=client, judge_client=judge_client, rubrics=rubrics,
                            prices=prices, options=options, stop=stop or threading.Event(), progress=progress))


async def _run(
    engine: Engine,
    run_id: int,
    *,
    client: anthropic.AsyncAnthropic | None,
    judge_client: anthropic.AsyncAnthropic | None,
    rubrics: Sequence[Rubric],
    prices: PriceTable,
    options: EvalOptions,
    stop: threading.Event,
    progress: Progress | None,
) -> EvalRun:
    worker_id = options.worker_id
    run = await asyncio.to_thread(start_run, engine, run_id, worker_id=worker_id)
    spec = CandidateSpec.from_run(run.candidate, run.prompt)
    budget = Budget(run.budget_usd, spent_usd=await asyncio.to_thread(spent_usd, engine, run_id))
    generation_price = prices.get(spec.model) if spec.generates else None
    state = _State(done=run.passed_cases + run.failed_cases + run.unscored_cases + run.errored_cases)
    total = run.total_cases
    if progress is not None:
        progress(state.done, total)
    queue: asyncio.Queue[tuple[int, Any, Generation | None] | None] = asyncio.Queue(maxsize=options.claim_size)

    def stopping() -> bool:
        return state.stop_reason is not None or stop.is_set() or state.cancelled_elsewhere

    async def feeder() -> None:
        try:
            while not stopping():
                claimed = await asyncio.to_thread(claim_cases, engine, run_id, worker_id=worker_id,
                                                  limit=options.claim_size, stale_after_s=options.stale_after_s)
                if not claimed:
                    break
                for item in claimed:
                    await queue.put(item)
        finally:
            for _ in range(options.concurrency):
                await queue.put(None)

    async def one(case_row_id: int, case: Any, generation: Generation | None) -> None:
        if generation is None:
            generation = await generate(client, spec, case, price=generation_price, budget=budget)
            if spec.generates and generation.output is not None:
                await asyncio.to_thread(store_generation, engine, case_row_id, worker_id=worker_id,
                                        generation=generation)
        scored = None
        if generation.output is not None:
            targets = case_targets(case, rubrics, judge_model=options.judge_model,
                                   judge_configured=judge_client is not None, match=options.match)
            scored = await score_case(judge_client, case, generation.output, targets, run_id=run_id, prices=prices,
                                      budget=budget, max_tokens=options.judge_max_tokens, output_mode=options.output)
        if await asyncio.to_thread(store_result, engine, run_id, case_row_id, worker_id=worker_id,
                                   generation=generation, scored=scored):
            state.done += 1
            if progress is not None:
                progress(state.done, total)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            if stopping():
                await asyncio.to_thread(release, engine, [item[0]], worker_id=worker_id)
                continue
            try:
                await one(*item)
            except BudgetExhausted as exc:
                state.stop("budget")
                spent = exc.spent_usd if isinstance(exc, JudgingStopped) else 0.0
                await asyncio.to_thread(release, engine, [item[0]], worker_id=worker_id, judge_cost_usd=spent)
            except (JudgeRejected, CandidateRejected) as exc:
                state.fatal = state.fatal or exc
                state.stop("error")
                await asyncio.to_thread(release, engine, [item[0]], worker_id=worker_id)

    async def heartbeat(finished: asyncio.Event) -> None:
        every_s = min(10.0, options.stale_after_s / 4)
        while not finished.is_set():
            try:
                await asyncio.wait_for(finished.wait(), timeout=every_s)
            except asyncio.TimeoutError:
                pass
            if finished.is_set():
                return
            status = await asyncio.to_thread(renew, engine, run_id, worker_id=worker_id)
            if status == "cancelled":
                state.cancelled_elsewhere = True

    finished = asyncio.Event()
    beat = asyncio.create_task(heartbeat(finished))
    try:
        await asyncio.gather(feeder(), *(worker() for _ in range(options.concurrency)))
    except BaseException as exc:
        finished.set()
        await beat
        await asyncio.to_thread(finish_run, engine, run_id, status="failed", stop_reason="error",
                                error=f"{type(exc).__name__}: {exc}")
        raise
    finished.set()
    await beat

    if state.fatal is not None:
        await asyncio.to_thread(finish_run, engine, run_id, status="failed", stop_reason="error", error=str(state.fatal))
        raise state.fatal
    if state.stop_reason == "budget":
        return await asyncio.to_thread(
            finish_run, engine, run_id, status="cancelled", stop_reason="budget",
            error=f"stopped before exceeding the budget of ${run.budget_usd:.4f}; the finished cases are kept")
    if state.cancelled_elsewhere:
        return await asyncio.to_thread(finish_run, engine, run_id, status="cancelled", stop_reason="cancelled")
    if stop.is_set():
        return await asyncio.to_thread(finish_run, engine, run_id, status="cancelled", stop_reason="signal")
    return await asyncio.to_thread(finish_run, engine, run_id, status=None, stop_reason=None)
