"""How well the judge worked in a window: unscored and rules-only judgments, errored judge calls.

* Judgments count by their sample's ``ts`` (as the score counts do), every judgment of
  the window's samples: how many, how many ``unscored`` (a reply that could not be
  parsed, a refused request), how many made without an LLM (``judge_model = "none"``,
  the rules only).
* Judge calls count by their run's ``started_at`` (an errored call stores no judgment,
  only the run's ``errored`` total): calls = ``judged + errored`` of the runs started in
  the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.engine import Engine

from ..store import JudgeRun
from ._counts import JUDGMENT, SAMPLE, in_window
from ._windows import TimeWindow

RULES_ONLY_MODEL = "none"
JUDGE_RUN: Table = JudgeRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class JudgeHealthCounts:
    """One window's judge health: judgments (unscored, rules only) and judge calls (errored)."""

    judgments: int
    unscored: int
    rules_only: int
    calls: int
    errored: int


def load_judge_health(engine: Engine, window: TimeWindow) -> JudgeHealthCounts:
    """The :class:`JudgeHealthCounts` of ``window`` (two aggregate queries; blocks on the database)."""
    j, s, r = JUDGMENT.c, SAMPLE.c, JUDGE_RUN.c

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    judgments = (
        sa.select(sa.func.count(), count_if(j.verdict == "unscored"), count_if(j.judge_model == RULES_ONLY_MODEL))
        .select_from(JUDGMENT.join(SAMPLE, s.sample_id == j.sample_id))
        .where(in_window(window))
    )
    runs = sa.select(sa.func.coalesce(sa.func.sum(r.judged), 0), sa.func.coalesce(sa.func.sum(r.errored), 0)).where(
        r.started_at >= window.start, r.started_at < window.end
    )
    with engine.connect() as connection:
        total, unscored, rules_only = connection.execute(judgments).one()
        judged, errored = connection.execute(runs).one()
    return JudgeHealthCounts(int(total), int(unscored), int(rules_only), int(judged) + int(errored), int(errored))
