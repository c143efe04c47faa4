"""Batch mode: submit a run's judge requests through the Message Batches API, collect later.

A tick of ``tastevin judge --mode batch`` first *collects* every batch run whose provider
batch has ended, then *submits* a new one:

* :func:`submit_batch` claims the candidates (as a sync run would), stores at once the
  judgments that need no call (rules only, no judge, failed calls), and sends the rest
  as **one** ``messages.batches.create`` call (at most ``max_requests``, and no more than
  the budget allows at the batch price). The provider batch id is stored on the run,
  which stays ``running``; its claims keep other workers off those samples meanwhile.
* :func:`collect_batches` takes each ended batch (one worker at a time: a lease on the
  run's heartbeat), streams its JSONL results in chunks, stores the judgments and ends
  the run. Requests that errored transiently, expired or were cancelled are released,
  so the next run judges them; a request the API rejected as invalid is unscored.

Everything between the two ticks is in the store (run, batch id, claims), so a restart
in between loses nothing. If a worker dies after creating the batch but before storing
its id, the run is failed and its claims released by the next worker
(:func:`judge.runs.take_over_stale`); that batch is then orphaned at the provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anthropic
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.store import JudgeClaim, JudgeRun, Sample, utc_now

from .checks import run_checks
from .claims import Cursor, Target, claim_next, release, release_run, rubric_by_version, store_judgments, sync_rubrics
from .llm import JudgeRejected, judgment_row, local_outcome, outcome_from_message, unscored_llm
from .pricing import Budget, PriceTable, estimate_input_tokens
from .prompt import build_request
from .rubric import Rubric
from .runner import RunOptions, make_targets
from .runs import create_run, finish_run, get_run

__all__ = ["BatchTick", "collect_batches", "submit_batch"]

logger = logging.getLogger(__name__)

_RUN = JudgeRun.__table__  # type: ignore[attr-defined]
MAX_BATCH_REQUESTS = 100_000  # the Message Batches API limit per batch
_CHUNK = 500


@dataclass(frozen=True)
class BatchTick:
    """What a tick did: runs collected (finished), the run submitted (if any), batches still in progress."""

    collected: list[JudgeRun]
    submitted: JudgeRun | None
    in_progress: list[str]


def _custom_id(sample_id: str, version: str) -> str:
    return f"{sample_id}-{version}"  # [a-zA-Z0-9_-]{1,64}: 32 + 1 + 16 characters


def submit_batch(
    engine: Engine,
    rubrics: Sequence[Rubric],
    *,
    client: anthropic.Anthropic | None,
    prices: PriceTable,
    options: RunOptions,
    max_requests: int = MAX_BATCH_REQUESTS,
) -> JudgeRun | None:
    """Claim, store local judgments and submit one batch; returns the run (None if nothing to do)."""
    targets = make_targets(rubrics, options=options, judge_configured=client is not None, prices=prices)
    sync_rubrics(engine, [t.rubric for t in targets])
    run_id = create_run(engine, mode="batch", trigger=options.trigger, rubric_names=[t.rubric.name for t in targets],
                        budget_usd=options.budget_usd, worker_id=options.worker_id)
    budget = Budget(options.budget_usd)
    limit = min(max_requests, options.max_samples or max_requests)
    requests: list[dict[str, Any]] = []
    local_rows: list[dict[str, Any]] = []
    stop_reason = "done"
    try:
        for target in targets:
            cursor = Cursor()
            while not cursor.done and stop_reason == "done":
                samples = claim_next(engine, target, cursor, run_id=run_id, limit=_CHUNK)
                for index, sample in enumerate(samples):
                    if len(requests) + len(local_rows) >= limit:
                        stop_reason = "limit"
                    outcome = None if stop_reason != "done" else local_outcome(sample, target, run_id=run_id)
                    if outcome is not None and outcome.row is not None:
                        local_rows.append(outcome.row)
                        continue
                    if stop_reason == "done":
                        params = build_request(target.rubric, sample, model=target.judge_model,
                                               max_tokens=options.max_tokens, output=options.output)
                        price = prices.get(target.judge_model)
                        estimate = 0.0 if price is None else price.cost(
                            input_tokens=estimate_input_tokens(params), output_tokens=options.max_tokens, batch=True)
                        if budget.reserve(estimate):
                            requests.append({"custom_id": _custom_id(sample.sample_id, target.rubric.version),
                                             "params": params})
                            continue
                        stop_reason = "budget"
                    # Over the limit or the budget: give back this and the rest of the chunk.
                    release(engine, run_id, [(s.sample_id, target.rubric.version, target.judge_model)
                                             for s in samples[index:]])
                    break
                if len(local_rows) >= _CHUNK:
                    store_judgments(engine, run_id, local_rows)
                    local_rows = []
        store_judgments(engine, run_id, local_rows)
        if requests:
            assert client is not None
            try:
                batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
            except anthropic.APIStatusError as exc:
                raise JudgeRejected(f"the judge API refused the batch ({exc.status_code}): {exc.message}") from exc
            with engine.begin() as connection:
                # Nobody holds the run while the provider works: any worker may collect it.
                connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id)
                                   .values(provider_batch_id=batch.id, worker_id=None, heartbeat_at=None))
            logger.info("judge run %d: submitted batch %s with %d requests", run_id, batch.id, len(requests))
        else:
            finish_run(engine, run_id, status="completed", stop_reason=stop_reason)
    except BaseException as exc:
        release_run(engine, run_id)
        finish_run(engine, run_id, status="failed", stop_reason="error", error=f"{type(exc).__name__}: {exc}")
        raise
    if stop_reason != "done":
        with engine.begin() as connection:
            connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(stop_reason=stop_reason))
    return get_run(engine, run_id)


def _take_lease(engine: Engine, run_id: int, worker_id: str, lease_s: float) -> bool:
    now = utc_now()
    with engine.begin() as connection:
        return bool(connection.execute(
            sa.update(_RUN)
            .where(_RUN.c.id == run_id, _RUN.c.status == "running",
                   _RUN.c.worker_id.is_(None) | (_RUN.c.worker_id == worker_id)
                   | (_RUN.c.heartbeat_at < now - timedelta(seconds=lease_s)))
            .values(worker_id=worker_id, heartbeat_at=now)
        ).rowcount)


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def collect_batches(
    engine: Engine,
    *,
    client: anthropic.Anthropic,
    prices: PriceTable,
    worker_id: str,
    lease_s: float = 60.0,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[JudgeRun], list[str]]:
    """Collect every ended batch; returns the runs finished and the batch ids still in progress."""
    with Session(engine) as session:
        runs = list(session.exec(
            select(JudgeRun).where(JudgeRun.mode == "batch", JudgeRun.status == "running",
                                   col(JudgeRun.provider_batch_id).is_not(None)).order_by(col(JudgeRun.id))
        ))
    finished: list[JudgeRun] = []
    pending: list[str] = []
    for run in runs:
        assert run.id is not None and run.provider_batch_id is not None
        batch = client.messages.batches.retrieve(run.provider_batch_id)
        if batch.processing_status != "ended":
            pending.append(batch.id)
            continue
        if not _take_lease(engine, run.id, worker_id, lease_s):
            continue  # another worker is collecting it
        _collect_one(engine, client, run.id, run.provider_batch_id, prices, progress,
                     stop_reason=run.stop_reason or "done")
        done = get_run(engine, run.id)
        assert done is not None
        finished.append(done)
    return finished, pending


def _collect_one(
    engine: Engine, client: anthropic.Anthropic, run_id: int, batch_id: str, prices: PriceTable,
    progress: Callable[[int], None] | None,
    *,
    stop_reason: str,
) -> None:
    with Session(engine) as session:
        claims = {(c.sample_id, c.rubric_version): c.judge_model
                  for c in session.exec(select(JudgeClaim).where(JudgeClaim.run_id == run_id))}
    rubrics: dict[str, Rubric | None] = {}
    failures: dict[str, int] = {}
    for chunk in _chunks(iter(client.messages.batches.results(batch_id)), _CHUNK):
        keyed = []
        for result in chunk:
            sample_id, _, version = result.custom_id.partition("-")
            model = claims.get((sample_id, version))
            if model is not None:
                keyed.append((sample_id, version, model, result.result))
        with Session(engine) as session:
            samples = {s.sample_id: s for s in session.exec(
                select(Sample).where(col(Sample.sample_id).in_([k[0] for k in keyed])))}
        rows: list[dict[str, Any]] = []
        give_back: list[tuple[str, str, str]] = []
        for sample_id, version, model, result in keyed:
            if version not in rubrics:
                rubrics[version] = rubric_by_version(engine, version)
            rubric, sample = rubrics[version], samples.get(sample_id)
            if rubric is None or sample is None:
                give_back.append((sample_id, version, model))
                failures["rubric or sample missing"] = failures.get("rubric or sample missing", 0) + 1
                continue
            target = Target(rubric, model)
            if result.type == "succeeded":
                outcome = outcome_from_message(sample, target, result.message.model_dump(mode="json"), run_id=run_id,
                                               price=prices.get(model), latency_ms=None, batch=True)
                assert outcome.row is not None
                rows.append(outcome.row)
            elif result.type == "errored" and result.error.error.type == "invalid_request_error":
                reason = f"the judge API rejected this sample's request ({result.error.error.message})"
                rows.append(judgment_row(sample, target, run_id=run_id, rules=run_checks(rubric, sample),
                                         llm=unscored_llm(target, reason), bad_reply=reason))
            else:
                kind = result.type if result.type != "errored" else f"errored: {result.error.error.type}"
                failures[kind] = failures.get(kind, 0) + 1
                give_back.append((sample_id, version, model))
        release(engine, run_id, give_back)
        store_judgments(engine, run_id, rows, errored=len(give_back))
        if progress is not None:
            progress(len(rows) + len(give_back))
    left = release_run(engine, run_id)
    error = "; ".join(f"{count} {kind}" for kind, count in sorted(failures.items())) or None
    if error:
        error = f"left for a later run: {error}"
    if left:
        error = (error + "; " if error else "") + f"{left} requests had no result"
    finish_run(engine, run_id, status="completed", stop_reason=stop_reason, error=error)
