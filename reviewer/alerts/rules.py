"""What is alert-worthy: evaluations of score drop, drift and volume, current window vs baseline.

Each evaluation is a :class:`Check`: a stable ``key`` (``score_drop:billing``,
``drift:request_model``, ``volume:(all)``), whether it is ``firing`` now (``None`` when it
cannot tell — too few samples — so an open alert stays as it is), the observed and
expected values, the test's statistics and p-value, and a message a person on call can
act on. Pure functions of the store's aggregates; no side effects.

* **Score drop** (per category and overall): the pass rate in the current window against
  the baseline, two-proportion z-test; fires on a significant drop (``p < alpha``) of at
  least ``min_drop`` (absolute, e.g. 0.05 = 5 points), with ``min_samples`` scored samples
  in both windows.
* **Drift**: the drift report of the current window against the baseline; a feature
  fires when one of its methods flags drift (PSI, Jensen–Shannon, KS or normalised
  Wasserstein — see :mod:`reviewer.stats`). ``observed`` is the distance of the method
  that decided (``expected`` its threshold); for KS it is the statistic D and the test's
  p-value is ``p_value``.
* **Volume** (overall and per app): the samples that arrived against the count the
  baseline rate predicts for the current window's length; fires when fewer than
  ``volume_min_ratio`` of the expected arrived and a Poisson test says it is no chance
  (``P(X ≤ observed | expected) < alpha``) — samples stopped arriving.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from scipy.stats import poisson
from sqlalchemy.engine import Engine

from ..queries import TimeWindow, drift_report, load_category_counts
from ..stats import ALL_CATEGORIES, ChangeVerdict, DriftMethod, compare_category, merge_counts
from ..store import Sample

__all__ = ["AlertRules", "Check", "evaluate", "score_drop_checks", "volume_checks", "drift_checks"]

KINDS = ("score_drop", "drift", "volume")


@dataclass(frozen=True, kw_only=True)
class AlertRules:
    """The thresholds; every one is a ``tastevin alert`` flag."""

    min_samples: int = 30
    alpha: float = 0.01
    min_drop: float = 0.05
    volume_min_ratio: float = 0.5
    min_expected_volume: float = 10.0
    kinds: tuple[str, ...] = KINDS

    def __post_init__(self) -> None:
        if self.min_samples < 1:
            raise ValueError("min_samples must be at least 1")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be within (0, 1)")
        if not 0 <= self.min_drop < 1:
            raise ValueError("min_drop must be within [0, 1)")
        if not 0 < self.volume_min_ratio <= 1:
            raise ValueError("volume_min_ratio must be within (0, 1]")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown alert kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")


@dataclass(frozen=True)
class Check:
    """One evaluated alert condition. ``firing`` is None when there is too little data to tell."""

    kind: str
    key: str
    firing: bool | None
    message: str
    observed: float | None = None
    expected: float | None = None
    p_value: float | None = None
    statistic: dict[str, Any] = field(default_factory=dict)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def score_drop_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """One check per category seen in either window, and one for all categories together."""
    base = {c.category: c for c in load_category_counts(engine, baseline)}
    cur = {c.category: c for c in load_category_counts(engine, current)}
    names = sorted(base.keys() | cur.keys())
    pairs = [(name, base.get(name), cur.get(name)) for name in names]
    pairs.append((ALL_CATEGORIES, merge_counts(base.values()), merge_counts(cur.values())))
    checks = []
    for name, before, now in pairs:
        before = before or merge_counts([], name)
        now = now or merge_counts([], name)
        change = compare_category(before, now, alpha=rules.alpha, min_samples=rules.min_samples)
        key = f"score_drop:{name}"
        statistic = {
            "test": "two-proportion z-test (pooled)",
            "z": change.z,
            "alpha": rules.alpha,
            "min_drop": rules.min_drop,
            "baseline": {"passed": before.passed, "scored": before.passed + before.failed,
                         "rate": change.baseline.rate, "low": change.baseline.low, "high": change.baseline.high},
            "current": {"passed": now.passed, "scored": now.passed + now.failed,
                        "rate": change.current.rate, "low": change.current.low, "high": change.current.high},
            "min_samples": rules.min_samples,
            "window": str(current),
            "baseline_window": str(baseline),
        }
        if change.verdict is ChangeVerdict.TOO_FEW_SAMPLES:
            checks.append(Check("score_drop", key, None,
                                f"{name}: too few samples (need {rules.min_samples} scored in each window; "
                                f"baseline {before.passed + before.failed}, current {now.passed + now.failed})",
                                statistic=statistic))
            continue
        assert change.change is not None and change.p_value is not None
        firing = change.verdict is ChangeVerdict.DROP and -change.change >= rules.min_drop
        message = (
            f"{name}: pass rate {_pct(change.current.rate)} [{_pct(change.current.low)}–{_pct(change.current.high)}] "
            f"vs baseline {_pct(change.baseline.rate)} ({change.change * 100:+.1f} points, p={change.p_value:.2g}, "
            f"n={now.passed + now.failed} vs {before.passed + before.failed})"
        )
        checks.append(Check("score_drop", key, firing, message, observed=change.current.rate,
                            expected=change.baseline.rate, p_value=change.p_value, statistic=statistic))
    return checks


def _drift_detail(result: Any) -> str:
    if result.method is DriftMethod.KS:
        d = "" if result.statistic is None else f"D {result.statistic:.3g}, "
        return f"ks {d}p={result.value:.2g} (drift below {result.threshold:g})"
    return f"{result.method} {result.value:.3g} (threshold {result.threshold:g})"


def drift_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """One check per feature of the drift report; firing when any of its methods flags drift."""
    report = drift_report(engine, reference=baseline, current=current, min_samples=rules.min_samples)
    by_feature: dict[str, list[Any]] = {}
    for result in report.results:
        by_feature.setdefault(result.feature, []).append(result)
    checks = []
    for feature, results in by_feature.items():
        decided = [r for r in results if r.drifted is not None]
        statistic = {
            "results": [{"method": str(r.method), "value": r.value, "threshold": r.threshold,
                         "statistic": r.statistic, "drifted": r.drifted, "verdict": str(r.verdict),
                         "reference_n": r.reference_n, "current_n": r.current_n}
                        for r in results],
            "min_samples": rules.min_samples,
            "window": str(current),
            "baseline_window": str(baseline),
        }
        if not decided:
            checks.append(Check("drift", f"drift:{feature}", None, f"{feature}: {results[0].verdict}",
                                statistic=statistic))
            continue
        drifted = [r for r in decided if r.drifted]
        worst = drifted[0] if drifted else decided[0]
        detail = ", ".join(_drift_detail(r) for r in decided if r.value is not None)
        message = f"{feature}: {'drift' if drifted else 'no drift'} — {detail}"
        if worst.method is DriftMethod.KS:  # its value is the test's p-value, its threshold the level
            observed, expected, p_value = worst.statistic, None, worst.value
        else:
            observed, expected, p_value = worst.value, worst.threshold, None
        checks.append(Check("drift", f"drift:{feature}", bool(drifted), message, observed=observed,
                            expected=expected, p_value=p_value, statistic=statistic))
    return checks


def volume_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """Arrivals overall and per app against what the baseline rate predicts."""
    def counts(window: TimeWindow) -> Counter[str]:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(Sample.app, sa.func.count())  # type: ignore[call-overload]
                .where(Sample.ts >= window.start, Sample.ts < window.end)
                .group_by(Sample.app)
            ).all()
        return Counter({app: int(n) for app, n in rows})

    before, now = counts(baseline), counts(current)
    scale = current.duration / baseline.duration
    keys = [(ALL_CATEGORIES, sum(before.values()), sum(now.values()))]
    keys += [(f"app={app}", before[app], now.get(app, 0)) for app in sorted(before)]
    checks = []
    for name, base_n, observed in keys:
        expected = base_n * scale
        key = f"volume:{name}"
        statistic = {"test": "Poisson lower tail", "baseline_count": base_n, "ratio": rules.volume_min_ratio,
                     "alpha": rules.alpha, "window": str(current), "baseline_window": str(baseline)}
        if expected < rules.min_expected_volume:
            checks.append(Check("volume", key, None,
                                f"{name}: too few samples expected ({expected:.1f}) to judge the volume",
                                observed=float(observed), expected=expected, statistic=statistic))
            continue
        p_value = float(poisson.cdf(observed, expected))
        firing = observed < rules.volume_min_ratio * expected and p_value < rules.alpha
        message = f"{name}: {observed} samples vs {expected:.0f} expected from the baseline rate (p={p_value:.2g})"
        checks.append(Check("volume", key, firing, message, observed=float(observed), expected=expected,
                            p_value=p_value, statistic=statistic))
    return checks


def evaluate(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """Every check of the enabled kinds (``rules.kinds``), in a stable order."""
    checks: list[Check] = []
    if "score_drop" in rules.kinds:
        checks += score_drop_checks(engine, current=current, baseline=baseline, rules=rules)
    if "drift" in rules.kinds:
        checks += drift_checks(engine, current=current, baseline=baseline, rules=rules)
    if "volume" in rules.kinds:
        checks += volume_checks(engine, current=current, baseline=baseline, rules=rules)
    return checks
