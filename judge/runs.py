"""The ``judge_run`` lifecycle and the queries behind ``tastevin runs``.

A run is created ``pending``, becomes ``running`` when a worker starts it and ends
``completed`` (all done, or stopped by its budget or sample limit — ``stop_reason`` says
which), ``failed`` (the judge refused the configuration, the database gave up …) or
``cancelled`` (SIGINT/SIGTERM). A running sync-mode run carries a heartbeat; when it
stops beating for ``stale_after_s`` its worker is taken to be dead and the next worker
takes the run over (:func:`take_over_stale`): it releases the run's claims and carries
on with the same run id and totals, so a crashed run resumes where it stopped. A batch
run waits for its provider batch without a heartbeat; any worker collects it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.errors import ConfigError
from reviewer.store import JudgeRun, Judgment, utc_now

from .claims import release_run

__all__ = [
    "create_run",
    "finish_run",
    "get_run",
    "heartbeat",
    "list_runs",
    "take_over_stale",
]

_RUN = JudgeRun.__table__  # type: ignore[attr-defined]


def create_run(
    engine: Engine,
    *,
    mode: str,
    trigger: str,
    rubric_names: Sequence[str],
    budget_usd: float | None,
    worker_id: str,
) -> int:
    """Create a run and start it at once (``pending`` → ``running``); returns its id."""
    with Session(engine) as session:
        run = JudgeRun(mode=mode, trigger=trigger, rubric_names=list(rubric_names), budget_usd=budget_usd)
        session.add(run)
        session.commit()
        assert run.id is not None
        run_id = run.id
    now = utc_now()
    with engine.begin() as connection:
        connection.execute(
            sa.update(_RUN).where(_RUN.c.id == run_id, _RUN.c.status == "pending")
            .values(status="running", started_at=now, heartbeat_at=now, worker_id=worker_id)
        )
    return run_id


def take_over_stale(engine: Engine, *, worker_id: str, stale_after_s: float) -> int | None:
    """Take over one sync run whose worker died (no heartbeat for ``stale_after_s``).

    Atomic: of several workers trying at once, one wins the run. The run's claims are
    released (its finished judgments stay); returns the run id, or None when no run is
    stale.
    """
    cutoff = utc_now() - timedelta(seconds=stale_after_s)
    stale = (
        (_RUN.c.mode == "sync")
        & _RUN.c.status.in_(("pending", "running"))
        & sa.func.coalesce(_RUN.c.heartbeat_at, _RUN.c.created_at).__lt__(cutoff)
    ) | (
        # A batch run that died between claiming and storing its provider batch id.
        (_RUN.c.mode == "batch") & (_RUN.c.status == "running") & _RUN.c.provider_batch_id.is_(None)
        & sa.func.coalesce(_RUN.c.heartbeat_at, _RUN.c.created_at).__lt__(cutoff)
    )
    with engine.connect() as connection:
        candidates = connection.execute(sa.select(_RUN.c.id, _RUN.c.mode).where(stale).order_by(_RUN.c.id)).all()
    for run_id, mode in candidates:
        now = utc_now()
        with engine.begin() as connection:
            won = connection.execute(
                sa.update(_RUN).where(_RUN.c.id == run_id, stale)
                .values(worker_id=worker_id, heartbeat_at=now, status="running",
                        started_at=sa.func.coalesce(_RUN.c.started_at, now))
            ).rowcount
        if not won:
            continue
        release_run(engine, run_id)
        if mode == "batch":
            finish_run(engine, run_id, status="failed", stop_reason="error",
                       error="the worker died before the provider batch id was stored; its claims were released")
            continue
        return int(run_id)
    return None


def heartbeat(engine: Engine, run_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(_RUN).where(_RUN.c.id == run_id).values(heartbeat_at=utc_now()))


def finish_run(engine: Engine, run_id: int, *, status: str, stop_reason: str, error: str | None = None) -> None:
    """End a run: status, reason, finish time and the average judge latency of its judgments."""
    with engine.begin() as connection:
        average = connection.execute(
            sa.select(sa.func.avg(Judgment.latency_ms)).where(
                col(Judgment.run_id) == run_id, col(Judgment.latency_ms).is_not(None)
            )
        ).scalar_one()
        connection.execute(
            sa.update(_RUN).where(_RUN.c.id == run_id).values(
                status=status, stop_reason=stop_reason, error=error, finished_at=utc_now(),
                heartbeat_at=utc_now(), avg_latency_ms=None if average is None else float(average),
            )
        )


def get_run(engine: Engine, run_id: int) -> JudgeRun | None:
    with Session(engine) as session:
        return session.get(JudgeRun, run_id)


def _token(run_id: int) -> str:
    return base64.urlsafe_b64encode(f"run:{run_id}".encode()).decode().rstrip("=")


def _untoken(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "run":
            raise ValueError(prefix)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid --page-token {token!r}: pass the token printed by the previous page") from exc


def list_runs(engine: Engine, *, page_size: int = 20, page_token: str | None = None) -> tuple[list[JudgeRun], str | None]:
    """Runs newest first, one page; returns the page and the token of the next (None at the end)."""
    query = select(JudgeRun).order_by(col(JudgeRun.id).desc()).limit(page_size + 1)
    if page_token:
        query = query.where(col(JudgeRun.id) < _untoken(page_token))
    with Session(engine) as session:
        runs = list(session.exec(query))
    if len(runs) > page_size:
        runs = runs[:page_size]
        assert runs[-1].id is not None
        return runs, _token(runs[-1].id)
    return runs, None
