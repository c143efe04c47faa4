"""One judge run in sync mode: claim, judge concurrently, store, until done or stopped.

Pipeline inside one asyncio loop (:func:`run_sync`):

* a *feeder* claims samples a chunk at a time (``claim_size``), cycling over the run's
  targets (rubric versions) so several rubrics share a run and a budget fairly;
* ``concurrency`` *workers* judge them (:func:`judge.llm.judge_sample`), each holding at
  most one call, so at most ``concurrency`` requests are in flight;
* a *writer* stores finished judgments every ``flush_s`` or ``flush_size`` (one
  transaction each, which also drops their claims, adds to the run totals and beats the
  heartbeat).

Memory is bounded by the chunk queue and the write buffer, whatever the backlog. The
database is used through ``asyncio.to_thread`` so calls in flight never wait on it.

The run stops early when the budget would be exceeded (``stop_reason="budget"``), the
sample limit is reached (``"limit"``), ``stop`` is set (``"signal"``, status
``cancelled``) or the judge API rejects the configuration (``failed``). Claims not
judged are released, so a later run picks them up. A crash (kill -9) loses the calls in
flight and the results of the last flush window; their claims are released when the
next worker takes the run over, and they are judged again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic

from reviewer.errors import TastevinError
from reviewer.store import JudgeRun, Sample

from .claims import NO_JUDGE_MODEL, Cursor, Target, claim_next, count_candidates, release, store_judgments, sync_rubrics
from .llm import BudgetExhausted, JudgeRejected, judge_sample
from .pricing import Budget, PriceTable
from .prompt import DEFAULT_MAX_TOKENS, OutputMode
from .rubric import Rubric
from .runs import create_run, finish_run, get_run, heartbeat, take_over_stale

__all__ = ["DEFAULT_JUDGE_MODEL", "RunOptions", "RunResult", "default_worker_id", "make_targets", "run_sync"]

logger = logging.getLogger(__name__)

DEFAULT_JUDGE_MODEL = "claude-sonnet-5-5"
Progress = Callable[[int, int | None], None]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How a run judges. ``budget_usd=None``: no cap; ``max_samples=None``: no limit."""

    trigger: str = "manual"
    default_model: str = DEFAULT_JUDGE_MODEL
    max_tokens: int = DEFAULT_MAX_TOKENS
    output: OutputMode = "json_schema"
    concurrency: int = 16
    budget_usd: float | None = None
    max_samples: int | None = None
    stale_after_s: float = 120.0
    flush_s: float = 0.5
    flush_size: int = 64
    worker_id: str = field(default_factory=default_worker_id)

    @property
    def claim_size(self) -> int:
        return max(2 * self.concurrency, 32)


@dataclass(frozen=True)
class RunResult:
    run: JudgeRun

    @property
    def status(self) -> str:
        return self.run.status


def make_targets(
    rubrics: Sequence[Rubric], *, options: RunOptions, judge_configured: bool, prices: PriceTable
) -> list[Target]:
    """One target per rubric: its judge model, or ``none`` when it makes no LLM call.

    Raises ConfigError, before anything is judged, when a budget is set and a judge model
    has no price.
    """
    targets = [
        Target(rubric, (rubric.judge_model or options.default_model)
               if rubric.criteria and judge_configured else NO_JUDGE_MODEL)
        for rubric in rubrics
    ]
    if options.budget_usd is not None:
        for target in targets:
            if target.uses_llm:
                prices.require(target.judge_model)
    return targets


@dataclass
class _State:
    run_id: int
    claimed: int = 0
    limited: bool = False
    done: int = 0
    stop_reason: str | None = None
    fatal: BaseException | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    errored: list[tuple[str, str, str]] = field(default_factory=list)
    last_error: str | None = None

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason


def run_sync(
    engine: Any,
    rubrics: Sequence[Rubric],
    *,
    client: anthropic.AsyncAnthropic | None,
    prices: PriceTable,
    options: RunOptions,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run (or resume a dead worker's) sync judge run to its end; returns the finished run.

    Blocks. Raises ConfigError before starting when a budget is set and a judge model has
    no price; JudgeRejected after marking the run failed when the API refuses the key or
    model; StoreError/SQLAlchemy errors when the database fails.
    """
    targets = make_targets(rubrics, options=options, judge_configured=client is not None, prices=prices)
    return asyncio.run(_run(engine, targets, client=client, prices=prices, options=options,
                            stop=stop or threading.Event(), progress=progress))


async def _run(
    engine: Any,
    targets: list[Target],
    *,
    client: anthropic.AsyncAnthropic | None,
    prices: PriceTable,
    options: RunOptions,
    stop: threading.Event,
    progress: Progress | None,
) -> RunResult:
    await asyncio.to_thread(sync_rubrics, engine, [t.rubric for t in targets])
    run_id = await asyncio.to_thread(
        take_over_stale, engine, worker_id=options.worker_id, stale_after_s=options.stale_after_s
    )
    if run_id is not None:
        logger.warning("resuming judge run %d: its worker stopped without finishing it", run_id)
    else:
        run_id = await asyncio.to_thread(
            create_run, engine, mode="sync", trigger=options.trigger, rubric_names=[t.rubric.name for t in targets],
            budget_usd=options.budget_usd, worker_id=options.worker_id,
        )
    run = await asyncio.to_thread(get_run, engine, run_id)
    assert run is not None
    budget = Budget(options.budget_usd, spent_usd=run.cost_usd)
    total: int | None = sum([await asyncio.to_thread(count_candidates, engine, t) for t in targets])
    if options.max_samples is not None and total is not None:
        total = min(total, options.max_samples)
    state = _State(run_id)
    if progress is not None:
        progress(0, total)

    queue: asyncio.Queue[tuple[Sample, Target] | None] = asyncio.Queue(maxsize=options.claim_size)
    wake = asyncio.Event()

    async def feeder() -> None:
        cursors = {t.rubric.version + t.judge_model: Cursor() for t in targets}
        try:
            while not state.stop_reason and not state.limited and not stop.is_set():
                live = [t for t in targets if not cursors[t.rubric.version + t.judge_model].done]
                if not live:
                    break
                for target in live:
                    room = options.claim_size
                    if options.max_samples is not None:
                        room = min(room, options.max_samples - state.claimed)
                        if room <= 0:
                            state.limited = True  # stop claiming; what is claimed is still judged
                            break
                    samples = await asyncio.to_thread(
                        claim_next, engine, target, cursors[target.rubric.version + target.judge_model],
                        run_id=run_id, limit=room,
                    )
                    state.claimed += len(samples)
                    for sample in samples:
                        await queue.put((sample, target))
        finally:
            for _ in range(options.concurrency):
                await queue.put(None)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            sample, target = item
            key = (sample.sample_id, target.rubric.version, target.judge_model)
            if state.stop_reason or stop.is_set():
                await asyncio.to_thread(release, engine, run_id, [key])
                continue
            try:
                outcome = await judge_sample(
                    client, sample, target, run_id=run_id, max_tokens=options.max_tokens, output=options.output,
                    price=prices.get(target.judge_model) if target.uses_llm else None, budget=budget,
                )
            except BudgetExhausted:
                state.stop("budget")
                await asyncio.to_thread(release, engine, run_id, [key])
                continue
            except JudgeRejected as exc:
                state.fatal = state.fatal or exc
                state.stop("error")
                await asyncio.to_thread(release, engine, run_id, [key])
                continue
            if outcome.row is None:
                state.errored.append(key)
                state.last_error = outcome.error
            else:
                state.buffer.append(outcome.row)
            if len(state.buffer) >= options.flush_size:
                wake.set()

    async def flush() -> None:
        rows, state.buffer = state.buffer, []
        errored, state.errored = state.errored, []
        if errored:
            await asyncio.to_thread(release, engine, run_id, errored)
        await asyncio.to_thread(store_judgments, engine, run_id, rows, errored=len(errored))
        state.done += len(rows) + len(errored)
        if progress is not None and (rows or errored):
            progress(state.done, total)

    async def writer(finished: asyncio.Event) -> None:
        # Storing beats the heartbeat; beat anyway while calls are slow (retries, backoff),
        # so no other worker takes a live run for a dead one.
        beat_every_s = min(10.0, options.stale_after_s / 4)
        last_beat = loop.time()
        while not finished.is_set():
            try:
                await asyncio.wait_for(wake.wait(), timeout=options.flush_s)
            except asyncio.TimeoutError:
                pass
            wake.clear()
            if state.buffer or state.errored:
                await flush()
                last_beat = loop.time()
            elif loop.time() - last_beat >= beat_every_s:
                await asyncio.to_thread(heartbeat, engine, run_id)
                last_beat = loop.time()

    loop = asyncio.get_running_loop()
    finished = asyncio.Event()
    writer_task = asyncio.create_task(writer(finished))
    try:
        await asyncio.gather(feeder(), *(worker() for _ in range(options.concurrency)))
    except BaseException as exc:
        finished.set()
        await writer_task
        await flush()
        await asyncio.to_thread(finish_run, engine, run_id, status="failed", stop_reason="error",
                                error=f"{type(exc).__name__}: {exc}")
        raise
    finished.set()
    await writer_task
    await flush()

    if state.fatal is not None:
        await asyncio.to_thread(finish_run, engine, run_id, status="failed", stop_reason="error", error=str(state.fatal))
        raise state.fatal
    if stop.is_set() and state.stop_reason is None:
        status, reason = "cancelled", "signal"
    else:
        status, reason = "completed", state.stop_reason or ("limit" if state.limited else "done")
    error = None
    if state.last_error is not None:
        error = f"some judgments could not be made and were left for a later run; last error: {state.last_error}"
    if reason == "budget":
        error = f"stopped before exceeding the budget of ${options.budget_usd:.4f}" + (f"; {error}" if error else "")
    await asyncio.to_thread(finish_run, engine, run_id, status=status, stop_reason=reason, error=error)
    final = await asyncio.to_thread(get_run, engine, run_id)
    if final is None:  # pragma: no cover - the row was just written
        raise TastevinError(f"judge run {run_id} vanished from the store")
    return RunResult(final)
