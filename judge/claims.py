"""Which samples a run judges, and how two workers never judge the same one.

A *target* is a rubric version with the judge model that scores it. Its candidates are
the samples whose category the rubric applies to, in its judged share
(``Rubric.selects``), with no judgment yet for (sample, rubric version, judge model) —
newest first, so under a budget the recent traffic is judged first.

Claims (table ``judge_claim``) make a worker's selection exclusive. The claim's key is
the judgment's unique key, so ``INSERT … ON CONFLICT DO NOTHING RETURNING`` gives each
key to one worker only; in the same transaction, claims on keys that another worker
has meanwhile *judged* are dropped again (its judgment and the deletion of its claim
commit together, so one of the two statements sees it). The claim is deleted in the
transaction that stores the judgment (:func:`store_judgments`) or released when a
judgment could not be made (:func:`release`).

Every function here takes the engine and does its own short transaction; none holds a
transaction open across a judge call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from reviewer.store import JudgeClaim, JudgeRun, Judgment, Rubric as RubricRow, Sample, refresh_sample_verdicts, utc_now
from reviewer.store import verdicts

from .rubric import Rubric, RubricSpec

__all__ = [
    "NO_JUDGE_MODEL",
    "Cursor",
    "Target",
    "claim_next",
    "count_candidates",
    "release",
    "release_run",
    "rubric_by_version",
    "store_judgments",
    "sync_rubrics",
]

# The judge_model of judgments made without an LLM call (rules only, or no judge configured);
# the reviewer side reads it to say when verdicts rest on rule checks alone.
NO_JUDGE_MODEL = verdicts.NO_JUDGE_MODEL

_CLAIM = JudgeClaim.__table__  # type: ignore[attr-defined]
_JUDGMENT = Judgment.__table__  # type: ignore[attr-defined]
_SAMPLE = Sample.__table__  # type: ignore[attr-defined]
_RUN = JudgeRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Target:
    """A rubric version and the judge model whose judgments it looks for."""

    rubric: Rubric
    judge_model: str

    @property
    def uses_llm(self) -> bool:
        return self.judge_model != NO_JUDGE_MODEL


@dataclass
class Cursor:
    """Keyset position of a target's scan (newest first); ``done`` once it found nothing more."""

    before: tuple[datetime, str] | None = None
    done: bool = False
    categories: list[str] | None = field(default=None, repr=False)


def _insert(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def sync_rubrics(engine: Engine, rubrics: Iterable[Rubric]) -> None:
    """Store each rubric version in the ``rubric`` table once (unique on name and version)."""
    with engine.begin() as connection:
        for rubric in rubrics:
            row = rubric.to_row() | {"spec": rubric.spec.model_dump(mode="json", by_alias=True), "created_at": utc_now()}
            connection.execute(
                _insert(connection)(RubricRow.__table__).values(row).on_conflict_do_nothing()  # type: ignore[attr-defined]
            )


def rubric_by_version(engine: Engine, version: str) -> Rubric | None:
    """Rebuild a stored rubric version (e.g. to collect a batch after its file changed)."""
    with Session(engine) as session:
        row = session.exec(select(RubricRow).where(RubricRow.version == version)).first()
    if row is None or row.spec is None:
        return None
    rubric = Rubric.from_spec(RubricSpec.model_validate(row.spec), source_path=row.source_path)
    return rubric if rubric.version == version else None


def _categories(connection: Connection, rubric: Rubric) -> list[str]:
    # Globs are matched in Python over the (few) distinct categories: the same rule as
    # Rubric.applies_to everywhere, then an indexable `category IN (...)`.
    names = connection.execute(sa.select(_SAMPLE.c.category).distinct()).scalars()
    return sorted(name for name in names if rubric.applies_to(name))


def _unjudged(target: Target, categories: list[str]) -> Any:
    keys = (_JUDGMENT.c.sample_id == _SAMPLE.c.sample_id) & (_JUDGMENT.c.rubric_version == target.rubric.version)
    if target.uses_llm or not target.rubric.criteria:
        keys = keys & (_JUDGMENT.c.judge_model == target.judge_model)
    # else: a judge without an LLM skips what an LLM already judged for this rubric version —
    # a newer rules-only judgment would supersede the LLM's verdict.
    claimed = (
        (_CLAIM.c.sample_id == _SAMPLE.c.sample_id)
        & (_CLAIM.c.rubric_version == target.rubric.version)
        & (_CLAIM.c.judge_model == target.judge_model)
    )
    return (
        _SAMPLE.c.category.in_(categories)
        & ~sa.exists().where(keys)
        & ~sa.exists().where(claimed)
    )


EXACT_COUNT_LIMIT = 50_000


def count_candidates(engine: Engine, target: Target) -> int:
    """How many samples a full run would judge for ``target``: in scope, unjudged, in its share.

    Exact up to ``EXACT_COUNT_LIMIT`` unjudged samples (their ids are read and the share
    applied); beyond that the count times ``judge_fraction``, an estimate.
    """
    with engine.connect() as connection:
        categories = _categories(connection, target.rubric)
        if not categories:
            return 0
        unjudged = _unjudged(target, categories)
        count = int(connection.execute(sa.select(sa.func.count()).select_from(_SAMPLE).where(unjudged)).scalar_one())
        if target.rubric.judge_fraction >= 1 or count > EXACT_COUNT_LIMIT:
            return round(count * target.rubric.judge_fraction)
        ids = connection.execute(sa.select(_SAMPLE.c.sample_id).where(unjudged)).scalars()
        return sum(1 for sample_id in ids if target.rubric.selects(sample_id))


def claim_next(engine: Engine, target: Target, cursor: Cursor, *, run_id: int, limit: int) -> list[Sample]:
    """Claim up to ``limit`` samples for ``target`` for run ``run_id``; advance ``cursor``.

    Returns the claimed samples (detached ``Sample`` rows, newest first). An empty list
    with ``cursor.done`` set means the target has nothing left to judge.
    """
    claimed: list[str] = []
    with engine.begin() as connection:
        if cursor.categories is None:
            cursor.categories = _categories(connection, target.rubric)
        if not cursor.categories:
            cursor.done = True
            return []
        while len(claimed) < limit and not cursor.done:
            query = sa.select(_SAMPLE.c.sample_id, _SAMPLE.c.ts).where(_unjudged(target, cursor.categories))
            if cursor.before is not None:
                query = query.where(sa.tuple_(_SAMPLE.c.ts, _SAMPLE.c.sample_id) < sa.tuple_(*cursor.before))
            page_size = max(limit * 2, 100)
            rows = connection.execute(
                query.order_by(_SAMPLE.c.ts.desc(), _SAMPLE.c.sample_id.desc()).limit(page_size)
            ).all()
            if len(rows) < page_size:
                cursor.done = True
            if rows:
                cursor.before = (rows[-1].ts, rows[-1].sample_id)
            wanted = [row.sample_id for row in rows if target.rubric.selects(row.sample_id)][: limit - len(claimed)]
            if wanted:
                claimed += _claim(connection, target, run_id, wanted)
            if len(claimed) >= limit and rows:
                # Resume right after the last sample taken, not after the whole page.
                last = next(row for row in rows if row.sample_id == wanted[-1])
                cursor.before = (last.ts, last.sample_id)
                cursor.done = False
    if not claimed:
        return []
    with Session(engine, expire_on_commit=False) as session:
        samples = list(session.exec(select(Sample).where(Sample.sample_id.in_(claimed))))  # type: ignore[attr-defined]
        session.expunge_all()
    samples.sort(key=lambda s: (s.ts, s.sample_id), reverse=True)
    return samples


def _claim(connection: Connection, target: Target, run_id: int, sample_ids: list[str]) -> list[str]:
    now = utc_now()
    rows = [
        {"sample_id": sid, "rubric_version": target.rubric.version, "judge_model": target.judge_model,
         "run_id": run_id, "claimed_at": now}
        for sid in sample_ids
    ]
    inserted = set(
        connection.execute(
            _insert(connection)(_CLAIM).values(rows).on_conflict_do_nothing().returning(_CLAIM.c.sample_id)
        ).scalars()
    )
    if not inserted:
        return []
    judged_meanwhile = set(
        connection.execute(
            sa.delete(_CLAIM)
            .where(
                _CLAIM.c.run_id == run_id,
                _CLAIM.c.rubric_version == target.rubric.version,
                _CLAIM.c.judge_model == target.judge_model,
                _CLAIM.c.sample_id.in_(inserted),
                sa.exists().where(
                    (_JUDGMENT.c.sample_id == _CLAIM.c.sample_id)
                    & (_JUDGMENT.c.rubric_version == _CLAIM.c.rubric_version)
                    & (_JUDGMENT.c.judge_model == _CLAIM.c.judge_model)
                ),
            )
            .returning(_CLAIM.c.sample_id)
        ).scalars()
    )
    return [sid for sid in sample_ids if sid in inserted and sid not in judged_meanwhile]


def _claim_filter(run_id: int, keys: Sequence[tuple[str, str, str]]) -> Any:
    return (_CLAIM.c.run_id == run_id) & sa.tuple_(
        _CLAIM.c.sample_id, _CLAIM.c.rubric_version, _CLAIM.c.judge_model
    ).in_(list(keys))


def release(engine: Engine, run_id: int, keys: Sequence[tuple[str, str, str]]) -> None:
    """Give back claims (sample_id, rubric_version, judge_model) that were not judged."""
    if keys:
        with engine.begin() as connection:
            connection.execute(sa.delete(_CLAIM).where(_claim_filter(run_id, keys)))


def release_run(engine: Engine, run_id: int) -> int:
    """Give back every claim of a run; returns how many there were."""
    with engine.begin() as connection:
        return connection.execute(sa.delete(_CLAIM).where(_CLAIM.c.run_id == run_id)).rowcount or 0


def store_judgments(engine: Engine, run_id: int, rows: Sequence[dict[str, Any]], *, errored: int = 0) -> None:
    """Store judgments (``judgment`` column dicts), drop their claims, add them to the run's totals.

    One transaction, which also recomputes the judged samples' verdicts
    (``reviewer.store.refresh_sample_verdicts``), so statistics never see a judgment
    without its sample's new verdict. A judgment whose key is already stored is skipped
    (it cannot be, while the claim is held; this keeps a redo after a lost commit harmless).
    """
    if not rows and not errored:
        return
    totals = {verdict: sum(1 for r in rows if r["verdict"] == verdict) for verdict in ("pass", "fail", "unscored")}
    with engine.begin() as connection:
        if rows:
            connection.execute(_insert(connection)(_JUDGMENT).values(list(rows)).on_conflict_do_nothing())
            keys = [(r["sample_id"], r["rubric_version"], r["judge_model"]) for r in rows]
            connection.execute(sa.delete(_CLAIM).where(_claim_filter(run_id, keys)))
            refresh_sample_verdicts(connection, {r["sample_id"] for r in rows})
        connection.execute(
            sa.update(_RUN)
            .where(_RUN.c.id == run_id)
            .values(
                judged=_RUN.c.judged + len(rows),
                passed=_RUN.c.passed + totals["pass"],
                failed=_RUN.c.failed + totals["fail"],
                unscored=_RUN.c.unscored + totals["unscored"],
                errored=_RUN.c.errored + errored,
                input_tokens=_RUN.c.input_tokens + sum(r.get("input_tokens") or 0 for r in rows),
                output_tokens=_RUN.c.output_tokens + sum(r.get("output_tokens") or 0 for r in rows),
                cost_usd=_RUN.c.cost_usd + sum(r.get("cost_usd") or 0.0 for r in rows),
                heartbeat_at=utc_now(),
            )
        )
