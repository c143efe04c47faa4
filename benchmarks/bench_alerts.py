"""Alert false-alarm budget and detection: today's rule (the baseline) against the corrected rule.

    .venv/bin/python benchmarks/bench_alerts.py            # the full run (a few minutes)
    .venv/bin/python benchmarks/bench_alerts.py --quick    # smoke run (seconds)
    .venv/bin/python benchmarks/bench_alerts.py --power    # also KS vs a Wasserstein permutation test

Simulated on the pure functions (``reviewer.alerts.rules.evaluate_aggregates``, the exact
decision code of ``tastevin alert`` without the database), with the defaults: a 24 h
window against the 7 d baseline before it, α = 0.01, Holm, ``min_drop`` 0.05. Traffic:
Poisson arrivals, K categories drawn uniformly, pass rate 90% in every category, 2% of
judgments unscored, five categorical features (category, model, app, finish reason, error
type) and six numeric ones (log-normal, tokens and lengths rounded to integers), each
from one distribution; a window above 20,000 samples is read as a 20,000 subsample, as
the store's drift query does.

"Today's rule" is the rule before issue 14, computed on the same simulated windows: each
key at α = 0.01 on its own, drift by PSI / Jensen–Shannon ≥ 0.1 or (reference > 1,000)
normalised Wasserstein ≥ 0.1 without a test, or KS p < 0.05.

1. A/A, one evaluation: the share of evaluations that raise any alert, per volume (samples
   per 24 h window) and number of categories. Goal: ≤ 1 in 20 (0.05) everywhere.
2. A/A, a stream evaluated every 15 minutes for weeks (overlapping windows), with the
   alert state of ``tastevin alert`` (an open alert does not fire again; a resolved one
   stays quiet for the 1 h cooldown): new false alerts per week. Aim: ≤ 1. Columns: the
   corrected rule at α (as evaluated once), and as ``--every 15m`` runs it, at the
   stricter level α / √(window / every) = α / √96 (``AlertRules.looks``).
3. A/B, one evaluation: an injected drop of 5, 10, 20 points in one category, and a
   latency shift of 0.25 standard deviations: the detection rate, and the share of
   evaluations where a neighbouring category fires.
4. A/B, a stream: the drop starts at t₀; the time until ``score_drop:<category>`` fires
   under ``--every 15m`` (median over runs; "—" when not within 72 h).
5. End to end through the real code path: a generated SQLite store, ``evaluate`` at
   several moments (A/A), and one with a drop.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from scipy.stats import poisson  # noqa: E402

from reviewer.alerts.rules import (  # noqa: E402
    AlertRules,
    WindowAggregates,
    evaluate,
    evaluate_aggregates,
    scheduled_looks,
)
from reviewer.queries import JudgeHealthCounts, TimeWindow  # noqa: E402
from reviewer.stats import (  # noqa: E402
    ALL_CATEGORIES,
    CategoryCounts,
    ChangeVerdict,
    categorical_drift,
    compare_category,
    merge_counts,
    numeric_drift,
    numeric_drift_test,
    wasserstein_permutation_pvalue,
)

console = Console()
END = datetime(2026, 11, 20, tzinfo=timezone.utc)
CURRENT = TimeWindow(END - timedelta(days=1), END)
BASELINE = TimeWindow(END - timedelta(days=8), END - timedelta(days=1))
BINS_PER_DAY = 96  # 15-minute evaluations
WINDOW_BINS, BASELINE_BINS = 96, 7 * 96
MAX_VALUES = 20_000
PASS_RATE = 0.9
UNSCORED = 0.02
CATEGORICAL = {
    "request_model": (("claude-sonnet-4-6", 0.7), ("claude-haiku-4-5", 0.3)),
    "app": (("support-bot", 0.6), ("shop", 0.4)),
    "finish_reason": (("end_turn", 0.95), ("max_tokens", 0.04), ("(none)", 0.01)),
    "error_type": (("(none)", 0.99), ("timeout", 0.01)),
}
NUMERIC = {  # (log mean, log sd, rounded)
    "input_tokens": (6.0, 0.4, True), "output_tokens": (5.0, 0.5, True), "latency_ms": (6.5, 0.5, False),
    "input_chars": (7.4, 0.4, True), "output_chars": (6.4, 0.5, True), "cost_usd": (-6.0, 0.3, False),
}
NEW = AlertRules(state_detectable=False)
NEW_EVERY = AlertRules(state_detectable=False, looks=scheduled_looks(timedelta(days=1), timedelta(minutes=15)))
# statsmodels' Holm branch calls gc.collect() (0.2-0.3 s in this process, thousands of times):
# a no-op here, for speed only; it changes no number.
gc.collect = lambda *args: 0  # type: ignore[assignment]


@dataclass
class Bin:
    """The samples of one stretch of time, aggregated as the store would."""

    passed: np.ndarray  # per category
    failed: np.ndarray
    unscored: np.ndarray
    categorical: dict[str, np.ndarray]  # feature -> counts per value
    numeric: dict[str, np.ndarray]


def simulate(rng: np.random.Generator, mean: float, k: int, *, drop: float = 0.0, shift: float = 0.0) -> Bin:
    """Poisson(mean) samples: category 0's pass rate lowered by ``drop``, latency shifted by ``shift`` sd."""
    n = int(rng.poisson(mean))
    per_cat = rng.multinomial(n, np.full(k, 1 / k))
    unscored = rng.binomial(per_cat, UNSCORED)
    scored = per_cat - unscored
    rates = np.full(k, PASS_RATE)
    rates[0] -= drop
    passed = rng.binomial(scored, rates)
    categorical = {name: rng.multinomial(n, [p for _, p in values]) for name, values in CATEGORICAL.items()}
    numeric = {}
    for name, (mu, sd, rounded) in NUMERIC.items():
        values = rng.lognormal(mu, sd, n)
        if name == "latency_ms" and shift:
            values = values + shift * math.sqrt((math.exp(sd**2) - 1) * math.exp(2 * mu + sd**2))
        numeric[name] = np.round(values) if rounded else values
    return Bin(passed, scored - passed, unscored, categorical, numeric)


def combine(rng: np.random.Generator, bins: list[Bin]) -> Bin:
    numeric = {}
    for name in NUMERIC:
        values = np.concatenate([b.numeric[name] for b in bins])
        if values.size > MAX_VALUES:  # the drift query's uniform subsample
            values = rng.choice(values, MAX_VALUES, replace=False)
        numeric[name] = values
    def total(arrays: list[np.ndarray]) -> np.ndarray:
        return np.sum(arrays, axis=0)

    return Bin(total([b.passed for b in bins]), total([b.failed for b in bins]), total([b.unscored for b in bins]),
               {name: total([b.categorical[name] for b in bins]) for name in CATEGORICAL}, numeric)


def aggregates(window: Bin) -> WindowAggregates:
    k = window.passed.size
    counts = [CategoryCounts(category=f"c{i}", samples=int(window.passed[i] + window.failed[i] + window.unscored[i]),
                             judged=int(window.passed[i] + window.failed[i] + window.unscored[i]),
                             passed=int(window.passed[i]), failed=int(window.failed[i]),
                             unscored=int(window.unscored[i])) for i in range(k)]
    categorical = {"category": {c.category: c.samples for c in counts if c.samples}}
    for name, values in CATEGORICAL.items():
        categorical[name] = {label: int(n) for (label, _), n in zip(values, window.categorical[name], strict=True) if n}
    total = sum(c.samples for c in counts)
    apps = dict(zip([label for label, _ in CATEGORICAL["app"]], window.categorical["app"].tolist(), strict=True))
    return WindowAggregates(categories=counts, categorical=categorical, numeric=window.numeric,
                            volume={app: int(n) for app, n in apps.items()},
                            judge=JudgeHealthCounts(total, int(window.unscored.sum()), 0, 0, 0))


_last: list[object] = [None, None, []]


def new_rule(base: Bin, cur: Bin, rules: AlertRules = NEW) -> set[str]:
    """The corrected rule; the --every variant reuses the same evaluation (only its level differs)."""
    if _last[0] is not base or _last[1] is not cur:
        _last[:] = [base, cur, evaluate_aggregates(aggregates(base), aggregates(cur), current=CURRENT,
                                                   baseline=BASELINE, rules=NEW)]
    checks = _last[2]
    assert isinstance(checks, list)
    return {c.key for c in checks if c.large and c.p_adjusted is not None and c.p_adjusted < rules.level}


def todays_rule(base: Bin, cur: Bin) -> set[str]:
    """The pre-issue-14 rule: every key at α = 0.01 on its own, drift by thresholds (see the docstring)."""
    b, c = aggregates(base), aggregates(cur)
    firing = set()
    before = {x.category: x for x in b.categories}
    now = {x.category: x for x in c.categories}
    pairs = [(name, before[name], now[name]) for name in before]
    pairs.append((ALL_CATEGORIES, merge_counts(before.values()), merge_counts(now.values())))
    for name, x, y in pairs:
        change = compare_category(x, y, alpha=0.01, min_samples=30)
        if change.verdict is ChangeVerdict.DROP and change.change is not None and -change.change >= 0.05:
            firing.add(f"score_drop:{name}")
    for name in ("category", *CATEGORICAL):
        if sum(b.categorical[name].values()) >= 30 and sum(c.categorical[name].values()) >= 30:
            if any(r.drifted for r in categorical_drift(name, b.categorical[name], c.categorical[name])):
                firing.add(f"drift:{name}")
    scale = 1 / 7
    for name in NUMERIC:
        full = int(sum(base.categorical["app"]))  # the full reference size chooses the method
        if numeric_drift(name, b.numeric[name], c.numeric[name], reference_size=full).drifted:
            firing.add(f"drift:{name}")
    keys = [(ALL_CATEGORIES, sum(b.volume.values()), sum(c.volume.values()))]
    keys += [(f"app={a}", b.volume[a], c.volume.get(a, 0)) for a in b.volume]
    for name, base_n, observed in keys:
        expected = base_n * scale
        if expected >= 10 and observed < 0.5 * expected and poisson.cdf(observed, expected) < 0.01:
            firing.add(f"volume:{name}")
    return firing


RULES: dict[str, Callable[[Bin, Bin], set[str]]] = {
    "today's rule": todays_rule,
    "corrected rule": new_rule,
    "--every 15m (α/√96)": lambda b, c: new_rule(b, c, NEW_EVERY),
}


def one_evaluation(rng: np.random.Generator, volume: int, k: int, *, drop: float = 0.0, shift: float = 0.0) -> tuple[Bin, Bin]:
    return simulate(rng, 7 * volume, k), simulate(rng, volume, k, drop=drop, shift=shift)


def aa_per_evaluation(plan: list[tuple[int, int]], ks: list[int], seed: int) -> None:
    table = Table(title="1. A/A, one evaluation: share raising any alert (goal ≤ 0.05)")
    table.add_column("samples / window", justify="right")
    table.add_column("categories", justify="right")
    table.add_column("runs", justify="right")
    for name in RULES:
        table.add_column(name, justify="right")
    table.add_column("most frequent keys: today's [corrected]")
    for volume, reps in plan:
        for k in ks:
            rng = np.random.default_rng(seed + volume * 100 + k)
            hits = {name: 0 for name in RULES}
            keys: dict[str, int] = {}
            new_keys: dict[str, int] = {}
            for _ in range(reps):
                base, cur = one_evaluation(rng, volume, k)
                for name, rule in RULES.items():
                    fired = rule(base, cur)
                    hits[name] += bool(fired)
                    counter = keys if name == "today's rule" else new_keys if name == "corrected rule" else {}
                    for key in fired:
                        counter[key] = counter.get(key, 0) + 1
            def top(counter: dict[str, int]) -> str:
                return ", ".join(f"{key} {n / reps:.0%}" for key, n in sorted(counter.items(), key=lambda kv: -kv[1])[:2])
            tops = f"{top(keys)} [{top(new_keys)}]"
            table.add_row(f"{volume:,}", str(k), str(reps), *(f"{hits[name] / reps:.3f}" for name in RULES), tops)
    console.print(table)


def stream(rng: np.random.Generator, volume: int, k: int, bins: int, *, drop_at: int | None = None,
           drop: float = 0.0) -> list[Bin]:
    return [simulate(rng, volume / BINS_PER_DAY, k, drop=drop if drop_at is not None and i >= drop_at else 0.0)
            for i in range(bins)]


def windows_at(rng: np.random.Generator, bins: list[Bin], end: int) -> tuple[Bin, Bin]:
    return (combine(rng, bins[end - WINDOW_BINS - BASELINE_BINS: end - WINDOW_BINS]),
            combine(rng, bins[end - WINDOW_BINS: end]))


def aa_weekly(plan: list[tuple[int, float]], k: int, seed: int) -> None:
    table = Table(title=f"2. A/A, evaluated every 15 min, {k} categories: new false alerts per week (cooldown 1 h; "
                        "measured over the days shown, scaled to 7); share of evaluations with any key firing")
    table.add_column("samples / window", justify="right")
    table.add_column("days simulated", justify="right")
    for name in RULES:
        table.add_column(f"{name}: alerts/week", justify="right")
        table.add_column("evals firing", justify="right")
    for volume, days in plan:
        weeks = days / 7
        rng = np.random.default_rng(seed + volume)
        span = WINDOW_BINS + BASELINE_BINS
        bins = stream(rng, volume, k, span + round(days * BINS_PER_DAY))
        alerts = {name: 0 for name in RULES}
        firing_evals = {name: 0 for name in RULES}
        state: dict[str, dict[str, int]] = {name: {} for name in RULES}  # key -> bin it resolved (or -1: open)
        for end in range(span, len(bins)):
            base, cur = windows_at(rng, bins, end)
            for name, rule in RULES.items():
                fired = rule(base, cur)
                firing_evals[name] += bool(fired)
                keys = state[name]
                for key in fired:
                    resolved = keys.get(key)
                    if resolved == -1 or (resolved is not None and end - resolved < 4):  # open, or cooling down
                        continue
                    keys[key] = -1
                    alerts[name] += 1
                for key, resolved in list(keys.items()):
                    if resolved == -1 and key not in fired:
                        keys[key] = end
        evals = len(bins) - span
        table.add_row(f"{volume:,}", f"{days:g}", *(cell for name in RULES for cell in
                                       (f"{alerts[name] / weeks:.1f}", f"{firing_evals[name] / evals:.3f}")))
    console.print(table)


def ab_per_evaluation(plan: list[tuple[int, int]], k: int, seed: int) -> None:
    table = Table(title=f"3. A/B, one evaluation, {k} categories: detection rate of the injected "
                        "change [share where a neighbouring category fires]")
    table.add_column("samples / window", justify="right")
    table.add_column("change")
    table.add_column("runs", justify="right")
    for name in RULES:
        table.add_column(name, justify="right")
    changes = [("drop 5 points", 0.05, 0.0), ("drop 10 points", 0.10, 0.0), ("drop 20 points", 0.20, 0.0),
               ("latency +0.25 sd", 0.0, 0.25)]
    for volume, reps in plan:
        for label, drop, shift in changes:
            rng = np.random.default_rng(seed + volume + int(drop * 100) + int(shift * 1000))
            found = {name: 0 for name in RULES}
            neighbours = {name: 0 for name in RULES}
            target = "score_drop:c0" if drop else "drift:latency_ms"
            for _ in range(reps):
                base, cur = one_evaluation(rng, volume, k, drop=drop, shift=shift)
                for name, rule in RULES.items():
                    fired = rule(base, cur)
                    found[name] += target in fired
                    neighbours[name] += any(key.startswith("score_drop:c") and key != "score_drop:c0" for key in fired)
            table.add_row(f"{volume:,}", label, str(reps), *(f"{found[n] / reps:.2f} [{neighbours[n] / reps:.2f}]" for n in RULES))
    console.print(table)


def time_to_detection(volumes: list[int], drops: list[float], k: int, runs: int, seed: int, *,
                      horizon_days: int = 3) -> None:
    horizon = horizon_days * BINS_PER_DAY
    table = Table(title=f"4. A/B stream, {k} categories, evaluated every 15 min: hours from the start of a drop in "
                        f"one category until it fires (median of {runs}; — not within {horizon_days * 24} h)")
    table.add_column("samples / window", justify="right")
    table.add_column("drop")
    for name in RULES:
        table.add_column(name, justify="right")
    for volume in volumes:
        for drop in drops:
            times: dict[str, list[float]] = {name: [] for name in RULES}
            for run in range(runs):
                rng = np.random.default_rng(seed + volume + run * 7 + int(drop * 100))
                span = WINDOW_BINS + BASELINE_BINS
                bins = stream(rng, volume, k, span + horizon, drop_at=span, drop=drop)
                pending = set(RULES)
                for end in range(span + 1, len(bins) + 1):
                    base, cur = windows_at(rng, bins, end)
                    for name in list(pending):
                        if "score_drop:c0" in RULES[name](base, cur):
                            times[name].append((end - span) / 4)
                            pending.discard(name)
                    if not pending:
                        break
                for name in pending:
                    times[name].append(math.inf)
            cells = []
            for name in RULES:
                median = statistics.median(times[name])
                found = sum(math.isfinite(t) for t in times[name])
                cells.append("—" if not math.isfinite(median) else f"{median:.1f} h ({found}/{runs})")
            table.add_row(f"{volume:,}", f"{drop * 100:.0f} points", *cells)
    console.print(table)


def power_comparison(reps: int, seed: int) -> None:
    table = Table(title=f"KS vs permutation test (499 resamples) on the Wasserstein distance: power at α = 0.05, "
                        f"log-normal latency, shift in reference sd ({reps} runs each)")
    for column in ("current n", "shift", "KS", "permutation W", "KS time ms", "perm. time ms"):
        table.add_column(column, justify="right")
    rng = np.random.default_rng(seed)
    for n in (50, 200, 1000):
        for shift in (0.0, 0.1, 0.2, 0.3):
            ks_hits = perm_hits = 0
            ks_t = perm_t = 0.0
            for run in range(reps):
                mu, sd = NUMERIC["latency_ms"][:2]
                ref = rng.lognormal(mu, sd, 7 * n)
                cur = rng.lognormal(mu, sd, n) + shift * ref.std()
                t0 = time.perf_counter()
                p_ks = numeric_drift_test("latency_ms", ref, cur).p_value
                t1 = time.perf_counter()
                p_perm = wasserstein_permutation_pvalue(ref, cur, resamples=499, seed=run)
                t2 = time.perf_counter()
                ks_hits += p_ks is not None and p_ks < 0.05
                perm_hits += p_perm < 0.05
                ks_t += t1 - t0
                perm_t += t2 - t1
            table.add_row(str(n), f"{shift:.1f}", f"{ks_hits / reps:.2f}", f"{perm_hits / reps:.2f}",
                          f"{ks_t / reps * 1000:.1f}", f"{perm_t / reps * 1000:.0f}")
    console.print(table)
    console.print("At the corrected level (α ≈ 0.01 / 17 ≈ 6e-4) a permutation p-value needs ≥ 1,700 resamples "
                  "to be able to fall below it at all, per feature and evaluation.")


def end_to_end(days: int, per_day: int) -> None:
    from reviewer.store import ensure_schema, make_engine
    from tests.reviewer.alert_store import build_store

    table = Table(title=f"5. End to end (SQLite store, {days} days × {per_day} samples a day, 5 categories; "
                        "evaluate() with the defaults)")
    for column in ("store", "evaluations", "evaluations firing", "keys fired", "seconds / evaluation"):
        table.add_column(column)
    start = END - timedelta(days=days)
    with tempfile.TemporaryDirectory() as tmp:
        for label, drop in (("stable", None), ("shipping −30 points, last 2 days", ("shipping", 0.3))):
            engine = make_engine(f"sqlite:///{tmp}/{'ab' if drop else 'aa'}.db")
            ensure_schema(engine)
            build_store(engine, start=start, days=days, per_day=per_day, drop=drop, drop_from=END - timedelta(days=2))
            moments = [END - timedelta(hours=12 * i) for i in range((days - 8) * 2)]
            if drop:
                moments = [END]
            firing, fired = 0, set()
            t0 = time.perf_counter()
            for now in moments:
                current = TimeWindow(now - timedelta(days=1), now)
                baseline = TimeWindow(current.start - timedelta(days=7), current.start)
                keys = {c.key for c in evaluate(engine, current=current, baseline=baseline, rules=AlertRules()) if c.firing}
                firing += bool(keys)
                fired |= keys
            elapsed = (time.perf_counter() - t0) / len(moments)
            engine.dispose()
            table.add_row(label, str(len(moments)), str(firing), ", ".join(sorted(fired)) or "none", f"{elapsed:.2f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small volumes, few repetitions")
    parser.add_argument("--power", action="store_true", help="also compare KS with a Wasserstein permutation test")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.quick:
        aa_per_evaluation([(50, 20), (1000, 20)], [5], args.seed)
        aa_weekly([(200, 1)], 5, args.seed)
        ab_per_evaluation([(1000, 10)], 5, args.seed)
        time_to_detection([1000], [0.2], 5, 1, args.seed, horizon_days=1)
        end_to_end(10, 150)
    else:
        aa_per_evaluation([(50, 100), (200, 100), (1000, 100), (10_000, 30)], [1, 5, 20], args.seed)
        aa_weekly([(50, 14), (200, 14), (1000, 7), (10_000, 1)], 5, args.seed)
        ab_per_evaluation([(200, 40), (1000, 40), (10_000, 20)], 5, args.seed)
        time_to_detection([200, 1000, 10_000], [0.05, 0.10, 0.20], 5, 3, args.seed, horizon_days=2)
        end_to_end(21, 300)
    if args.power:
        power_comparison(5 if args.quick else 20, args.seed)
    console.print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
