"""The CI gate: did the pass rate drop against a baseline run, by more than allowed, and significantly?

A run fails the gate when its pass rate is lower than the baseline's by more than
``max_drop`` *and* the exact McNemar test on the cases both runs scored is significant at
``alpha``. With fewer than ``min_paired`` such cases the test has little power, so the
drop alone decides, and the result says so. Without a baseline (the first run of a name)
the gate passes and says there was nothing to compare with.

The baseline is ``latest`` — the newest *completed* run with the same name created before
this one — or a run id. The result is stored with the run (``eval_run.gate``) and printed
as JSON for CI logs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.errors import ConfigError
from reviewer.store import EvalRun

from .compare import PairedTest, compare_outcomes, load_outcomes

__all__ = ["DEFAULT_ALPHA", "DEFAULT_MAX_DROP", "DEFAULT_MIN_PAIRED", "GateResult", "evaluate_gate", "find_baseline",
           "gate_run"]

DEFAULT_MAX_DROP = 0.05
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_PAIRED = 30


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict (``pass`` / ``fail``) with everything it was decided from."""

    verdict: str
    reason: str
    baseline_id: int | None
    baseline_pass_rate: float | None
    pass_rate: float | None
    drop: float | None
    max_drop: float
    alpha: float
    min_paired: int
    test: str
    paired: int = 0
    pass_to_fail: int = 0
    fail_to_pass: int = 0
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_baseline(engine: Engine, run: EvalRun, against: str) -> EvalRun | None:
    """The baseline run: ``latest`` (None when there is none) or a run id (ConfigError when unusable)."""
    with Session(engine) as session:
        if against == "latest":
            return session.exec(
                select(EvalRun).where(EvalRun.name == run.name, EvalRun.status == "completed",
                                      col(EvalRun.id) < (run.id or 0)).order_by(col(EvalRun.id).desc()).limit(1)
            ).first()
        try:
            baseline_id = int(against)
        except ValueError:
            raise ConfigError(f"--gate-against must be 'latest' or a run id, not {against!r}") from None
        baseline = session.get(EvalRun, baseline_id)
    if baseline is None or baseline.id == run.id:
        raise ConfigError(f"no eval run {against} to gate against: see `tastevin evals list`")
    if baseline.status != "completed":
        raise ConfigError(f"eval run {baseline.id} is {baseline.status}: gate against a completed run")
    return baseline


def evaluate_gate(
    run: EvalRun, baseline: EvalRun | None, paired: PairedTest | None, *, max_drop: float, alpha: float,
    min_paired: int,
) -> GateResult:
    """The verdict from the two runs and their paired test (module docstring). Pure."""
    common: dict[str, Any] = {"max_drop": max_drop, "alpha": alpha, "min_paired": min_paired,
                              "pass_rate": run.pass_rate}
    if baseline is None:
        return GateResult("pass", f"no earlier completed run named {run.name!r}: nothing to compare with (this run "
                                  "is the next one's baseline)", None, None, test="none", drop=None, **common)
    if run.pass_rate is None or baseline.pass_rate is None:
        which = run if run.pass_rate is None else baseline
        raise ConfigError(f"eval run {which.id} scored no case (all unscored or errored): nothing to gate on")
    drop = baseline.pass_rate - run.pass_rate
    counts: dict[str, Any] = {"baseline_id": baseline.id, "baseline_pass_rate": baseline.pass_rate, "drop": drop}
    if paired is not None:
        counts |= {"paired": paired.paired, "pass_to_fail": paired.pass_to_fail, "fail_to_pass": paired.fail_to_pass,
                   "p_value": paired.p_value}
    n = paired.paired if paired is not None else 0
    dropped = drop > max_drop + 1e-12
    summary = f"pass rate {run.pass_rate:.1%} vs {baseline.pass_rate:.1%} in run {baseline.id} (drop {drop:+.1%}, " \
              f"max {max_drop:.1%})"
    if n >= min_paired and paired is not None:
        significant = paired.p_value < alpha
        verdict = "fail" if dropped and significant else "pass"
        why = (f"{summary}; exact McNemar on {n} paired cases: {paired.pass_to_fail} pass→fail, "
               f"{paired.fail_to_pass} fail→pass, p = {paired.p_value:.4g} "
               f"({'<' if significant else '≥'} alpha {alpha})")
        return GateResult(verdict, why, test="mcnemar_exact", **counts, **common)
    verdict = "fail" if dropped else "pass"
    why = f"{summary}; only {n} paired cases (< {min_paired}): decided on the drop alone, without a test"
    return GateResult(verdict, why, test="drop_only", **counts, **common)


def gate_run(
    engine: Engine, run: EvalRun, *, against: str = "latest", max_drop: float = DEFAULT_MAX_DROP,
    alpha: float = DEFAULT_ALPHA, min_paired: int = DEFAULT_MIN_PAIRED,
) -> GateResult:
    """Gate ``run`` against its baseline and store the result in ``eval_run.gate``.

    Raises ConfigError when the run did not complete, the baseline is unusable or either
    run scored nothing (a CI job then exits 2: the gate could not decide).
    """
    if run.status != "completed":
        raise ConfigError(f"eval run {run.id} is {run.status} ({run.stop_reason}): only a completed run can be gated")
    baseline = find_baseline(engine, run, against)
    paired = None
    if baseline is not None:
        comparison = compare_outcomes([baseline, run], [load_outcomes(engine, int(baseline.id or 0)),
                                                        load_outcomes(engine, int(run.id or 0))])
        paired = comparison.paired[0]
    result = evaluate_gate(run, baseline, paired, max_drop=max_drop, alpha=alpha, min_paired=min_paired)
    table = EvalRun.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id == run.id).values(gate=result.to_json()))
    return result
