"""Comparing eval runs: pass rates with Wilson intervals, paired McNemar tests, flips, cost and latency.

The first run given is the baseline; every other run is compared with it:

* overall and per category, each run's pass rate (passed / scored) with its 95% Wilson
  interval and the counts;
* on the cases both runs share (same dataset, same case id) and both scored (pass or fail),
  the exact McNemar test (``statsmodels``; the binomial test on the discordant pairs) with
  the counts of pass→fail and fail→pass flips, and the flipped cases with their previews;
* per run: model, cost for the dataset (generation plus judging), cost per 1,000 requests,
  inference latency p50/p95 and tokens — the cost/quality table.

:func:`compare_outcomes` is pure (plain data in, frozen dataclasses out);
:func:`load_outcomes` reads a run's cases with one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reviewer.stats import wilson_interval
from reviewer.store import EvalCase, EvalRun

__all__ = ["CaseOutcome", "Comparison", "Flip", "PairedTest", "RateCell", "compare_outcomes", "load_outcomes",
           "mcnemar_exact"]

ALL = "(all)"
_CASE = EvalCase.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """One case of one run, as a comparison needs it."""

    category: str
    verdict: str | None
    output_preview: str | None = None


@dataclass(frozen=True, slots=True)
class RateCell:
    """A pass rate with its 95% Wilson interval; ``rate`` is None when nothing was scored."""

    passed: int
    scored: int
    cases: int
    rate: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, verdicts: Sequence[str | None]) -> RateCell:
        passed = sum(1 for v in verdicts if v == "pass")
        scored = passed + sum(1 for v in verdicts if v == "fail")
        if not scored:
            return cls(0, 0, len(verdicts), None, None, None)
        low, high = wilson_interval(passed, scored)
        return cls(passed, scored, len(verdicts), passed / scored, low, high)


@dataclass(frozen=True, slots=True)
class Flip:
    """A shared case whose verdict changed between the baseline and a run."""

    dataset: str
    case_id: str
    category: str
    before: str
    after: str
    before_preview: str | None
    after_preview: str | None


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """The exact McNemar p-value (two-sided) for the discordant counts; 1.0 when there is none."""
    if pass_to_fail + fail_to_pass == 0:
        return 1.0
    from statsmodels.stats.contingency_tables import mcnemar

    # Only the off-diagonal cells enter the exact test.
    return float(mcnemar([[0, pass_to_fail], [fail_to_pass, 0]], exact=True).pvalue)


@dataclass(frozen=True, slots=True)
class PairedTest:
    """The baseline against one run on their shared, both-scored cases."""

    run_id: int
    paired: int
    both_pass: int
    both_fail: int
    pass_to_fail: int
    fail_to_pass: int
    p_value: float
    baseline_rate: float | None
    rate: float | None
    flips: list[Flip] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """Runs side by side (module docstring); ``runs[0]`` is the baseline."""

    runs: list[dict[str, Any]]
    categories: dict[str, dict[int, RateCell]]
    paired: list[PairedTest]

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": self.runs[0]["id"],
            "runs": self.runs,
            "categories": {category: {str(run_id): asdict(cell) for run_id, cell in cells.items()}
                           for category, cells in self.categories.items()},
            "paired": [asdict(p) for p in self.paired],
        }


def load_outcomes(engine: Engine, run_id: int) -> dict[tuple[str, str], CaseOutcome]:
    """A run's finished cases keyed by (dataset, case id)."""
    query = sa.select(_CASE.c.dataset, _CASE.c.case_id, _CASE.c.category, _CASE.c.verdict, _CASE.c.output_preview
                      ).where(_CASE.c.run_id == run_id, _CASE.c.state == "done")
    with engine.connect() as connection:
        return {(row.dataset, row.case_id): CaseOutcome(row.category, row.verdict, row.output_preview)
                for row in connection.execute(query)}


def _run_row(run: EvalRun, outcomes: Mapping[tuple[str, str], CaseOutcome]) -> dict[str, Any]:
    cell = RateCell.of([o.verdict for o in outcomes.values()])
    return {"id": run.id, "name": run.name, "status": run.status, "provider": run.candidate_provider,
            "model": run.candidate_model, "cases": len(outcomes), "passed": cell.passed, "scored": cell.scored,
            "pass_rate": cell.rate, "low": cell.low, "high": cell.high, "unscored": run.unscored_cases,
            "errored": run.errored_cases, "cost_usd": run.generation_cost_usd + run.judge_cost_usd,
            "generation_cost_usd": run.generation_cost_usd, "judge_cost_usd": run.judge_cost_usd,
            "cost_per_1k_requests_usd": run.cost_per_1k_requests_usd, "p50_inference_ms": run.p50_inference_ms,
            "p95_inference_ms": run.p95_inference_ms, "input_tokens": run.input_tokens,
            "output_tokens": run.output_tokens}


def _paired(run_id: int, base: Mapping[tuple[str, str], CaseOutcome],
            other: Mapping[tuple[str, str], CaseOutcome]) -> PairedTest:
    counts = {("pass", "pass"): 0, ("fail", "fail"): 0, ("pass", "fail"): 0, ("fail", "pass"): 0}
    flips = []
    for key in sorted(base.keys() & other.keys()):
        before, after = base[key].verdict, other[key].verdict
        if before not in ("pass", "fail") or after not in ("pass", "fail"):
            continue
        counts[(before, after)] += 1
        if before != after:
            flips.append(Flip(key[0], key[1], other[key].category, before, after, base[key].output_preview,
                              other[key].output_preview))
    paired = sum(counts.values())
    both_pass, p2f = counts[("pass", "pass")], counts[("pass", "fail")]
    return PairedTest(
        run_id=run_id, paired=paired, both_pass=both_pass, both_fail=counts[("fail", "fail")], pass_to_fail=p2f,
        fail_to_pass=counts[("fail", "pass")], p_value=mcnemar_exact(p2f, counts[("fail", "pass")]),
        baseline_rate=(both_pass + p2f) / paired if paired else None,
        rate=(both_pass + counts[("fail", "pass")]) / paired if paired else None, flips=flips)


def compare_outcomes(
    runs: Sequence[EvalRun], outcomes: Sequence[Mapping[tuple[str, str], CaseOutcome]]
) -> Comparison:
    """Compare ``runs`` (the first is the baseline) given each one's outcomes; raises ValueError for < 2 runs."""
    if len(runs) < 2 or len(runs) != len(outcomes):
        raise ValueError("compare needs at least two runs, each with its outcomes")
    ids = [int(run.id or 0) for run in runs]
    names = sorted({o.category for each in outcomes for o in each.values()})
    categories: dict[str, dict[int, RateCell]] = {ALL: {}}
    for run_id, each in zip(ids, outcomes):
        categories[ALL][run_id] = RateCell.of([o.verdict for o in each.values()])
    for name in names:
        categories[name] = {run_id: RateCell.of([o.verdict for o in each.values() if o.category == name])
                            for run_id, each in zip(ids, outcomes)}
    paired = [_paired(run_id, outcomes[0], each) for run_id, each in zip(ids[1:], outcomes[1:])]
    return Comparison(runs=[_run_row(run, each) for run, each in zip(runs, outcomes)], categories=categories,
                      paired=paired)
