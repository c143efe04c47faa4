"""Coverage and width of corrected pass-rate intervals: a fake judge over samples with known truth.

Each replication draws ``N`` judged samples whose true verdict is pass with probability
``θ``; a fake judge passes a truly passing sample with probability ``Se`` and a truly
failing one with probability ``1 − Sp``; a uniform random ``m`` of them are audited (the
person's verdict is the truth). Each method's 95% interval is checked for covering ``θ``.

Methods: the judge's raw rate (Wilson: what the pages showed before), the audits alone
(Wilson over the people's verdicts: no judge), Rogan–Gladen with the delta method, and
prediction-powered inference (the default: see ``reviewer.stats._trust``).

    python benchmarks/bench_judge_trust.py            # the full grid, 2,000 replications each
    python benchmarks/bench_judge_trust.py --quick    # a smoke run (tests/test_benchmarks_smoke.py)
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reviewer.stats import (  # noqa: E402
    AuditCounts,
    CorrectionMethod,
    TrustStatus,
    audit_only_interval,
    corrected_rate,
    rate_estimate,
)

METHODS = ("raw judge rate", "audits only", "rogan_gladen", "ppi")


@dataclass
class Tally:
    covered: int = 0
    width: float = 0.0
    computed: int = 0

    def add(self, low: float, high: float, truth: float) -> None:
        self.computed += 1
        self.width += high - low
        self.covered += int(low <= truth <= high)


def simulate(
    *, theta: float, se: float, sp: float, n: int, m: int, reps: int, seed: int
) -> dict[str, Tally]:
    """One grid point: ``reps`` replications; returns per method its coverage tally."""
    rng = np.random.default_rng(seed)
    tallies = {name: Tally() for name in METHODS}
    for _ in range(reps):
        truth = rng.random(n) < theta
        judge = np.where(truth, rng.random(n) < se, rng.random(n) < 1 - sp)
        audited = rng.choice(n, size=m, replace=False)
        t, j = truth[audited], judge[audited]
        audits = AuditCounts(int(np.sum(j & t)), int(np.sum(j & ~t)), int(np.sum(~j & t)), int(np.sum(~j & ~t)))
        # The target is the rate of the population the samples stand for, not of this draw.
        raw = rate_estimate(int(judge.sum()), n, min_samples=1)
        assert raw.low is not None and raw.high is not None
        tallies["raw judge rate"].add(raw.low, raw.high, theta)
        _, low, high = audit_only_interval(audits)
        tallies["audits only"].add(low, high, theta)
        for method in (CorrectionMethod.ROGAN_GLADEN, CorrectionMethod.PPI):
            result = corrected_rate(raw, audits, method=method, min_audits=1)
            if result.status is TrustStatus.OK and result.low is not None and result.high is not None:
                tallies[method.value].add(result.low, result.high, theta)
    return tallies


GRID = [  # (θ, Se, Sp): judges from good to weak, rates from middling to high
    (0.80, 0.95, 0.90), (0.80, 0.97, 0.60), (0.90, 0.98, 0.50), (0.95, 0.99, 0.70),
    (0.60, 0.85, 0.80), (0.70, 0.70, 0.45),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few replications of two grid points (smoke run)")
    parser.add_argument("--reps", type=int, default=2000, help="replications per grid point (default 2000)")
    args = parser.parse_args()
    reps = 40 if args.quick else args.reps
    grid = GRID[:2] if args.quick else GRID
    audit_sizes = (50,) if args.quick else (30, 50, 100, 200)
    n = 2000
    started = time.perf_counter()
    print(f"Corrected pass rates: coverage of 95% intervals, N={n:,} judged, {reps:,} replications per point")
    header = f"{'θ':>5} {'Se':>5} {'Sp':>5} {'audits':>6}  " + "  ".join(f"{name:>24}" for name in METHODS)
    print(header)
    totals = {name: Tally() for name in METHODS}
    seed = 20260108
    for theta, se, sp in grid:
        for m in audit_sizes:
            seed += 1
            tallies = simulate(theta=theta, se=se, sp=sp, n=n, m=m, reps=reps, seed=seed)
            cells = []
            for name in METHODS:
                t = tallies[name]
                total = totals[name]
                total.covered += t.covered
                total.width += t.width
                total.computed += t.computed
                cells.append(f"{t.covered / t.computed:6.1%} ±{t.width / t.computed / 2:5.3f} ({t.computed:>4})"
                             if t.computed else f"{'n/a':>24}")
            print(f"{theta:5.2f} {se:5.2f} {sp:5.2f} {m:6d}  " + "  ".join(f"{c:>24}" for c in cells))
    print()
    print(f"{'method':<16} {'coverage':>9} {'mean width':>11} {'computed':>9}")
    for name in METHODS:
        t = totals[name]
        print(f"{name:<16} {t.covered / t.computed:9.1%} {t.width / t.computed:11.3f} {t.computed:9,}")
    print(f"({time.perf_counter() - started:.1f} s; cells: coverage ±mean half-width (intervals computed))")


if __name__ == "__main__":
    main()
