"""Verdicts made on rule checks alone: how many, in a time window or in judge runs.

Without ``ANTHROPIC_API_KEY`` (or ``ANTHROPIC_BASE_URL``) the judge still judges: rule
checks score, the rubric's LLM criteria are skipped (unscored, ``no judge configured``)
and the judgment — judge_model ``none`` — passes or fails on the rules alone. Such a pass
is not the pass the rubric describes, so every reader that shows pass rates says when
its verdicts are rules-only (:data:`RULES_ONLY_LABEL`): the review app, ``tastevin alert``,
``tastevin runs``. A rubric without LLM criteria is judged without an LLM by design; its
judgments are not counted here (``reviewer.store.verdicts.rules_only``).

Functions take an ``Engine``, block on the database (one aggregate each) and return
:class:`RulesOnly` counts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .browse import JUDGMENT, SAMPLE
from .store import verdicts
from .store.verdicts import RULES_ONLY_LABEL

if TYPE_CHECKING:  # only its type: `tastevin runs` should not load the statistics stack
    from .queries import TimeWindow

__all__ = ["RULES_ONLY_LABEL", "RulesOnly", "runs_rules_only", "window_rules_only"]


@dataclass(frozen=True, slots=True)
class RulesOnly:
    """Of ``judgments`` (judgments of rubrics that have LLM criteria), ``rules_only`` were made without an LLM."""

    judgments: int = 0
    rules_only: int = 0

    @property
    def any(self) -> bool:
        return self.rules_only > 0

    @property
    def all(self) -> bool:
        return self.rules_only > 0 and self.rules_only == self.judgments

    @property
    def judge_label(self) -> str:
        """How a run judged its rubrics' LLM criteria, for a runs table: ``LLM``, ``rules only``,
        ``LLM; 3 rules only``, or ``rules`` when it judged only rubrics without LLM criteria."""
        if not self.judgments:
            return "rules"
        if self.all:
            return "rules only"
        return f"LLM; {self.rules_only:,} rules only" if self.any else "LLM"

    def note(self, where: str) -> str | None:
        """One plain sentence for people, led by :data:`RULES_ONLY_LABEL`; None when no verdict is rules-only.

        ``where`` names the verdicts, e.g. ``"in the current window"`` or ``"of run 7"``.
        """
        share = self.share(where)
        return None if share is None else f"{RULES_ONLY_LABEL}: {share}"

    def share(self, where: str) -> str | None:
        """:meth:`note` without the label (for a view that shows the label as a badge)."""
        if not self.any:
            return None
        if self.all:
            share = "the one verdict" if self.judgments == 1 else f"all {self.judgments:,} verdicts"
        else:
            share = f"{self.rules_only:,} of {self.judgments:,} verdicts"
        verb = "rests" if self.judgments == 1 else "rest"
        return (f"{share} {where} {verb} on rule checks alone "
                f"(judge_model none: judged without ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)")


def _counts(rules: sa.ColumnElement[bool]) -> tuple[sa.ColumnElement[int], ...]:
    return (sa.func.count().label("judgments"), sa.func.sum(sa.case((rules, 1), else_=0)).label("rules_only"))


def window_rules_only(engine: Engine, window: TimeWindow) -> RulesOnly:
    """Among the judgments that count (``reviewer.store.verdicts.counts``) of the samples in ``window``
    (by ``sample.ts``) whose rubric has LLM criteria, how many were made without an LLM.

    What decides the verdicts, pass rates and alerts of the window: a rules-only judgment
    superseded by a later LLM judgment of the same rubric no longer counts.
    """
    j = JUDGMENT.alias("j")
    statement = (
        sa.select(*_counts(verdicts.rules_only(j)))
        .select_from(SAMPLE.join(j, j.c.sample_id == SAMPLE.c.sample_id))
        .where(SAMPLE.c.ts >= window.start, SAMPLE.c.ts < window.end, verdicts.asks_llm(j), verdicts.counts(j))
    )
    with engine.connect() as connection:
        row = connection.execute(statement).one()
    return RulesOnly(int(row.judgments or 0), int(row.rules_only or 0))


def runs_rules_only(engine: Engine, run_ids: Collection[int]) -> dict[int, RulesOnly]:
    """Per run of ``run_ids``: of its judgments whose rubric has LLM criteria, how many were made without an LLM.

    Runs without such judgments map to ``RulesOnly()`` (0 of 0). One grouped query over
    the ``judgment.run_id`` index.
    """
    ids = sorted(set(run_ids))
    found = {run_id: RulesOnly() for run_id in ids}
    if not ids:
        return found
    j = JUDGMENT.alias("j")
    statement = (
        sa.select(j.c.run_id, *_counts(verdicts.rules_only(j)))
        .where(j.c.run_id.in_(ids), verdicts.asks_llm(j))
        .group_by(j.c.run_id)
    )
    with engine.connect() as connection:
        for row in connection.execute(statement):
            found[int(row.run_id)] = RulesOnly(int(row.judgments), int(row.rules_only or 0))
    return found
