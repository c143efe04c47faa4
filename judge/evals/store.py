"""The eval run's rows: create, claim cases, store results, finish, list — shared by CLI and HTTP API.

A run is created ``pending`` with one ``eval_case`` row per dataset case (``pending``).
Workers *claim* cases a chunk at a time — on PostgreSQL with ``FOR UPDATE SKIP LOCKED``
in the sub-select of one ``UPDATE … RETURNING``, so two workers never take the same
case; on SQLite the same statement runs under the file's write lock. A claim is a lease:
``claimed_at`` is renewed by the worker's heartbeat (:func:`renew`), and a claim older
than ``stale_after_s`` is taken by the next worker that asks (its worker died). The
candidate's output is stored as soon as it is generated (:func:`store_generation`), so a
case released or taken over after generation is judged without being generated again;
its verdict is stored with ``state = 'done'`` only by the worker holding the claim, in
the transaction that adds it to the run's totals (:func:`store_result`).

Every function takes an ``Engine`` and does its own short transaction.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.errors import ConfigError
from reviewer.store import DatasetCase, EvalCase, EvalRun, utc_now

from ..dataset_cases import Case
from ..datasets import StoredDataset, case_of_row
from .candidates import CandidateSpec, Generation
from .scoring import Scored

__all__ = [
    "PREVIEW_CHARS",
    "cancel_run",
    "claim_cases",
    "create_run",
    "finish_run",
    "get_run",
    "list_runs",
    "release",
    "renew",
    "run_cases",
    "set_budget",
    "spent_usd",
    "start_run",
    "store_generation",
    "store_result",
]

PREVIEW_CHARS = 200
_RUN = EvalRun.__table__  # type: ignore[attr-defined]
_CASE = EvalCase.__table__  # type: ignore[attr-defined]
_DCASE = DatasetCase.__table__  # type: ignore[attr-defined]


def preview(text: str | None) -> str | None:
    """The first 200 characters of an output, whitespace collapsed."""
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def create_run(
    engine: Engine,
    *,
    name: str,
    datasets: Sequence[StoredDataset],
    candidate: CandidateSpec,
    rubrics: Sequence[dict[str, str]],
    judge_model: str | None,
    settings: dict[str, Any],
    budget_usd: float | None = None,
    labels: dict[str, Any] | None = None,
    submitted_by: str | None = None,
    group_id: str | None = None,
) -> int:
    """Create a ``pending`` run with one ``pending`` case per case of ``datasets``; returns its id."""
    if not datasets:
        raise ConfigError("an eval run needs at least one dataset")
    with Session(engine) as session:
        run = EvalRun(
            name=name, group_id=group_id, datasets=[{"name": d.name, "version": d.version, "cases": d.case_count}
                                                    for d in datasets],
            candidate_provider=candidate.provider, candidate_model=candidate.model, candidate=candidate.to_json(),
            prompt=candidate.prompt, rubrics=list(rubrics), judge_model=judge_model, settings=settings,
            labels=labels or {}, submitted_by=submitted_by, budget_usd=budget_usd,
            total_cases=sum(d.case_count for d in datasets),
        )
        session.add(run)
        session.flush()
        run_id = run.id
        assert run_id is not None
        for dataset in datasets:
            rows = sa.select(
                sa.literal(run_id), _DCASE.c.id, sa.literal(dataset.name), sa.literal(dataset.version),
                _DCASE.c.case_id, _DCASE.c.category, sa.literal("pending"), sa.literal([], type_=_CASE.c.criteria.type),
                sa.literal([], type_=_CASE.c.checks.type), sa.literal([], type_=_CASE.c.judgments.type),
            ).where(_DCASE.c.dataset_version_id == dataset.id).order_by(_DCASE.c.position)
            session.execute(_CASE.insert().from_select(
                ["run_id", "dataset_case_id", "dataset", "dataset_version", "case_id", "category", "state",
                 "criteria", "checks", "judgments"], rows))
        session.commit()
    return run_id


def start_run(engine: Engine, run_id: int, *, worker_id: str) -> EvalRun:
    """Mark the run ``running`` (a pending, running or cancelled one); raises ConfigError for a finished one."""
    now = utc_now()
    with engine.begin() as connection:
        done = connection.execute(
            sa.update(_RUN).where(_RUN.c.id == run_id, _RUN.c.status.in_(("pending", "running", "cancelled")))
            .values(status="running", stop_reason=None, completed_at=None, worker_id=worker_id, heartbeat_at=now,
                    started_at=sa.func.coalesce(_RUN.c.started_at, now))
        ).rowcount
    run = get_run(engine, run_id)
    if run is None:
        raise ConfigError(f"no eval run {run_id}: see `tastevin evals list`")
    if not done:
        raise ConfigError(f"eval run {run_id} is {run.status}: there is nothing left to run")
    return run


def cancel_run(engine: Engine, run_id: int) -> EvalRun:
    """Cancel a pending or running run (its workers stop after their calls in flight, at their next heartbeat).

    Raises ConfigError for an unknown or finished run. Finished cases are kept; the run
    can be resumed later with ``tastevin evals run --resume``.
    """
    with engine.begin() as connection:
        changed = connection.execute(
            sa.update(_RUN).where(_RUN.c.id == run_id, _RUN.c.status.in_(("pending", "running")))
            .values(status="cancelled", stop_reason="cancelled", completed_at=utc_now())
        ).rowcount
    run = get_run(engine, run_id)
    if run is None:
        raise ConfigError(f"no eval run {run_id}: see `tastevin evals list`")
    if not changed:
        raise ConfigError(f"eval run {run_id} is already {run.status}: nothing to cancel")
    return run


def set_budget(engine: Engine, run_id: int, budget_usd: float | None) -> None:
    """Change a run's budget (e.g. to resume a run stopped by its budget with more)."""
    with engine.begin() as connection:
        connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(budget_usd=budget_usd))


def claim_cases(
    engine: Engine, run_id: int, *, worker_id: str, limit: int, stale_after_s: float
) -> list[tuple[int, Case, Generation | None]]:
    """Claim up to ``limit`` of the run's open cases, in dataset order.

    Returns ``(eval_case id, case, the stored generation or None)`` for each: a case
    generated before a release or a crash comes back with its output, to be judged only.
    """
    now = utc_now()
    cutoff = now - timedelta(seconds=stale_after_s)
    with engine.begin() as connection:
        open_cases = (
            sa.select(_CASE.c.id)
            .where(_CASE.c.run_id == run_id,
                   _CASE.c.state.in_(("pending", "generated"))
                   | ((_CASE.c.state == "claimed") & (_CASE.c.claimed_at < cutoff)))
            .order_by(_CASE.c.id).limit(limit)
        )
        if connection.dialect.name == "postgresql":
            open_cases = open_cases.with_for_update(skip_locked=True)
        claimed = connection.execute(
            sa.update(_CASE).where(_CASE.c.id.in_(open_cases.scalar_subquery()))
            .values(state="claimed", worker_id=worker_id, claimed_at=now)
            .returning(_CASE.c.id, _CASE.c.dataset_case_id, _CASE.c.output, _CASE.c.inference_ms,
                       _CASE.c.input_tokens, _CASE.c.output_tokens, _CASE.c.generation_cost_usd)
        ).all()
    if not claimed:
        return []
    with Session(engine) as session:
        rows = {r.id: r for r in session.exec(
            select(DatasetCase).where(col(DatasetCase.id).in_([c.dataset_case_id for c in claimed])))}
    out = []
    for c in sorted(claimed, key=lambda c: c.id):
        stored = None if c.output is None else Generation(
            c.output, inference_ms=c.inference_ms, input_tokens=c.input_tokens, output_tokens=c.output_tokens,
            cost_usd=c.generation_cost_usd)
        out.append((int(c.id), case_of_row(rows[c.dataset_case_id]), stored))
    return out


def _mine(case_id: int, worker_id: str) -> Any:
    return (_CASE.c.id == case_id) & (_CASE.c.state == "claimed") & (_CASE.c.worker_id == worker_id)


def store_generation(engine: Engine, case_id: int, *, worker_id: str, generation: Generation) -> None:
    """Keep the candidate's output of a claimed case (judged next, or after a take-over)."""
    with engine.begin() as connection:
        connection.execute(sa.update(_CASE).where(_mine(case_id, worker_id)).values(
            output=generation.output, output_preview=preview(generation.output),
            inference_ms=generation.inference_ms, input_tokens=generation.input_tokens,
            output_tokens=generation.output_tokens, generation_cost_usd=generation.cost_usd))


def store_result(
    engine: Engine, run_id: int, case_id: int, *, worker_id: str, generation: Generation, scored: Scored | None
) -> bool:
    """Store a claimed case's verdict (``errored`` when ``generation`` failed) and add it to the run's totals.

    Returns False, storing nothing, when this worker no longer holds the claim.
    """
    verdict = "errored" if scored is None else scored.verdict
    judge_cost = 0.0 if scored is None else scored.judge_cost_usd
    generation_cost = generation.cost_usd or 0.0
    values: dict[str, Any] = {
        "state": "done", "finished_at": utc_now(), "verdict": verdict, "error": generation.error,
        "output": generation.output, "output_preview": preview(generation.output),
        "inference_ms": generation.inference_ms, "input_tokens": generation.input_tokens,
        "output_tokens": generation.output_tokens, "generation_cost_usd": generation.cost_usd,
        # Added to what an interrupted earlier judging of this case spent (see release).
        "judge_cost_usd": sa.func.coalesce(_CASE.c.judge_cost_usd, 0.0) + judge_cost,
        "cost_usd": generation_cost + sa.func.coalesce(_CASE.c.judge_cost_usd, 0.0) + judge_cost,
    }
    if scored is not None:
        values |= {"unscored_reason": scored.reason if verdict == "unscored" else None, "criteria": scored.criteria,
                   "checks": scored.checks, "judgments": scored.judgments, "raw_reply": scored.raw_reply,
                   "judge_ms": scored.judge_ms}
    column = {"pass": "passed_cases", "fail": "failed_cases", "unscored": "unscored_cases",
              "errored": "errored_cases"}[verdict]
    with engine.begin() as connection:
        if not connection.execute(sa.update(_CASE).where(_mine(case_id, worker_id)).values(**values)).rowcount:
            return False
        connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(
            {column: _RUN.c[column] + 1,
             "input_tokens": _RUN.c.input_tokens + (generation.input_tokens or 0),
             "output_tokens": _RUN.c.output_tokens + (generation.output_tokens or 0),
             "generation_cost_usd": _RUN.c.generation_cost_usd + generation_cost,
             "judge_cost_usd": _RUN.c.judge_cost_usd + judge_cost, "heartbeat_at": utc_now()}))
    return True


def release(engine: Engine, case_ids: Sequence[int], *, worker_id: str, judge_cost_usd: float = 0.0) -> None:
    """Give back claimed cases not finished: ``generated`` when their output is stored, else ``pending``.

    ``judge_cost_usd`` (with one case) is what its interrupted judging already spent: kept
    on the case, so the run's cost and a resumed budget count it.
    """
    if not case_ids:
        return
    values: dict[str, Any] = {"state": sa.case((_CASE.c.output.is_(None), "pending"), else_="generated"),
                              "worker_id": None, "claimed_at": None}
    if judge_cost_usd:
        values["judge_cost_usd"] = sa.func.coalesce(_CASE.c.judge_cost_usd, 0.0) + judge_cost_usd
    with engine.begin() as connection:
        connection.execute(
            sa.update(_CASE)
            .where(_CASE.c.id.in_(list(case_ids)), _CASE.c.state == "claimed", _CASE.c.worker_id == worker_id)
            .values(**values))


def renew(engine: Engine, run_id: int, *, worker_id: str) -> str:
    """Beat the run's heartbeat and renew this worker's claims; returns the run's status (a cancel shows here)."""
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(sa.update(_CASE).where(_CASE.c.run_id == run_id, _CASE.c.state == "claimed",
                                                  _CASE.c.worker_id == worker_id).values(claimed_at=now))
        connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(heartbeat_at=now))
        return str(connection.execute(sa.select(_RUN.c.status).where(_RUN.c.id == run_id)).scalar_one())


def spent_usd(engine: Engine, run_id: int) -> float:
    """What the run's cases have cost so far (generation and judging), finished or not."""
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.sum(
            sa.func.coalesce(_CASE.c.generation_cost_usd, 0) + sa.func.coalesce(_CASE.c.judge_cost_usd, 0)))
            .where(_CASE.c.run_id == run_id)).scalar_one()
    return float(total or 0.0)


def _metrics(connection: Any, run_id: int, generates: bool) -> dict[str, Any]:
    counts = dict(connection.execute(sa.select(_CASE.c.verdict, sa.func.count()).where(
        _CASE.c.run_id == run_id, _CASE.c.state == "done").group_by(_CASE.c.verdict)).all())
    sums = connection.execute(sa.select(
        sa.func.coalesce(sa.func.sum(_CASE.c.input_tokens), 0), sa.func.coalesce(sa.func.sum(_CASE.c.output_tokens), 0),
        sa.func.coalesce(sa.func.sum(_CASE.c.generation_cost_usd), 0.0),
        sa.func.coalesce(sa.func.sum(_CASE.c.judge_cost_usd), 0.0),
    ).where(_CASE.c.run_id == run_id)).one()
    latencies = np.array(connection.execute(sa.select(_CASE.c.inference_ms).where(
        _CASE.c.run_id == run_id, _CASE.c.inference_ms.is_not(None))).scalars().all(), dtype=float)
    passed, failed = counts.get("pass", 0), counts.get("fail", 0)
    generated = connection.execute(sa.select(sa.func.count()).where(
        _CASE.c.run_id == run_id, _CASE.c.generation_cost_usd.is_not(None), _CASE.c.inference_ms.is_not(None)
    )).scalar_one()
    generation_cost = float(sums[2])
    return {
        "passed_cases": passed, "failed_cases": failed, "unscored_cases": counts.get("unscored", 0),
        "errored_cases": counts.get("errored", 0),
        "pass_rate": passed / (passed + failed) if passed + failed else None,
        "input_tokens": int(sums[0]), "output_tokens": int(sums[1]), "generation_cost_usd": generation_cost,
        "judge_cost_usd": float(sums[3]),
        "avg_inference_ms": float(latencies.mean()) if latencies.size else None,
        "p50_inference_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
        "p95_inference_ms": float(np.percentile(latencies, 95)) if latencies.size else None,
        "cost_per_1k_requests_usd": generation_cost / generated * 1000 if generates and generated else None,
    }


def finish_run(
    engine: Engine, run_id: int, *, status: str | None, stop_reason: str | None, error: str | None = None
) -> EvalRun:
    """Recompute the run's totals and metrics from its cases, and end it.

    ``status=None`` ends it ``completed`` (``done``) only when no case is left open and
    otherwise leaves it running (another worker still holds claims).
    """
    with engine.begin() as connection:
        run = connection.execute(sa.select(_RUN.c.candidate_provider).where(_RUN.c.id == run_id)).one()
        values = _metrics(connection, run_id, run.candidate_provider != "reference")
        if status is None:
            left = connection.execute(sa.select(sa.func.count()).where(
                _CASE.c.run_id == run_id, _CASE.c.state != "done")).scalar_one()
            if not left:
                status, stop_reason = "completed", "done"
        if status is not None:
            values |= {"status": status, "stop_reason": stop_reason, "error": error, "completed_at": utc_now()}
        connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(**values))
    final = get_run(engine, run_id)
    assert final is not None
    return final


def get_run(engine: Engine, run_id: int) -> EvalRun | None:
    with Session(engine) as session:
        return session.get(EvalRun, run_id)


def _token(run_id: int) -> str:
    return base64.urlsafe_b64encode(f"eval:{run_id}".encode()).decode().rstrip("=")


def _untoken(token: str) -> int:
    try:
        prefix, _, number = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        if prefix != "eval":
            raise ValueError(prefix)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid page token {token!r}: pass the token printed with the previous page") from exc


def list_runs(
    engine: Engine, *, page_size: int = 20, page_token: str | None = None, name: str | None = None,
    status: str | None = None,
) -> tuple[list[EvalRun], str | None, int]:
    """Runs newest first, one page: ``(runs, next page token or None, total count matching)``.

    Keyset pagination on the id: a token stays valid, and no run is skipped or repeated,
    while new runs are created.
    """
    filters = []
    if name is not None:
        filters.append(col(EvalRun.name) == name)
    if status is not None:
        filters.append(col(EvalRun.status) == status)
    query = select(EvalRun).where(*filters).order_by(col(EvalRun.id).desc()).limit(page_size + 1)
    if page_token:
        query = query.where(col(EvalRun.id) < _untoken(page_token))
    with Session(engine) as session:
        runs = list(session.exec(query))
        total = session.exec(select(sa.func.count()).select_from(EvalRun).where(*filters)).one()
    if len(runs) > page_size:
        runs = runs[:page_size]
        assert runs[-1].id is not None
        return runs, _token(runs[-1].id), int(total)
    return runs, None, int(total)


def run_cases(
    engine: Engine, run_id: int, *, limit: int | None = None, after_id: int | None = None
) -> list[EvalCase]:
    """The run's cases in id order (dataset order), ``limit`` at most, after ``after_id`` when given."""
    query = select(EvalCase).where(EvalCase.run_id == run_id).order_by(col(EvalCase.id))
    if after_id is not None:
        query = query.where(col(EvalCase.id) > after_id)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return list(session.exec(query))
