"""What is alert-worthy: score drop, drift, volume and judge health, current window vs baseline.

Each evaluation is a :class:`Check`: a stable ``key`` (``score_drop:billing``,
``drift:request_model``, ``volume:(all)``, ``judge_health:unscored``), whether it is
``firing`` now (``None`` when it cannot tell — too few samples — so an open alert stays
as it is), the observed and expected values, the test's raw and adjusted p-values, and a
message a person on call can act on. Pure functions of the store's aggregates.

**One family per evaluation.** Every check with a test (a p-value) is one member of the
evaluation's family: each category's score drop and the overall one, each drift feature,
each volume key, the unscored and errored shares of the judge. Their raw p-values are
adjusted together (``rules.correction``: Holm by default, Benjamini–Hochberg, or none —
see :mod:`reviewer.stats`), and a check fires only when its *adjusted* p-value is below
``alpha`` **and** its effect is large enough:

* **Score drop** (per category and overall): one-sided pooled two-proportion z-test of a
  drop; large enough when the pass rate fell by at least ``min_drop`` (absolute,
  0.05 = 5 points); ``min_samples`` scored samples in both windows. Each states the
  minimum detectable drop at its sample sizes (at ``alpha / family size``, the level one
  test must reach under Holm or BH, and ``power``) and the sampling rate that would
  detect a drop of ``detect_drop`` within the window.
* **Drift** (each feature of the drift report): KS test with the normalised Wasserstein
  distance ≥ 0.1 (numeric), chi-square test with PSI or Jensen–Shannon ≥ 0.1
  (categorical) — :mod:`reviewer.stats._drift_tests`.
* **Volume** (overall and per app): fewer than ``volume_min_ratio`` of the samples the
  baseline rate predicts, and the exact conditional test of two Poisson rates (given
  both windows' total, the current count is binomial) says it is no chance.
* **Judge health**: the share of unscored judgments (``judge_health:unscored``) or of
  errored judge calls (``judge_health:errored_calls``) rose by at least ``min_drop``,
  one-sided two-proportion z-test; and ``judge_health:rules_only`` (no test, not in the
  family) fires when the current window's judgments are all rules-only
  (``judge_model = "none"``) while the baseline had LLM judgments — the judge stopped
  judging, so a change of the pass rate is not a change of quality.

**Repeated evaluation.** Under ``tastevin alert --every 15m`` the windows overlap, so the
same noise is tested many times a week: measured (``benchmarks/bench_alerts.py``), the
fixed-α rule above gave 3.5 new false alerts a week at 200 samples per window although
only 2% of evaluations fired. So a scheduled evaluation tests at a stricter level,
``alpha / √(window / every)`` (``looks`` = √96 ≈ 9.8 for 24 h every 15 min;
:func:`scheduled_looks`): the chance that a sliding-window statistic crosses a boundary
somewhere among ``m`` overlapping looks grows about as √m, not as m (the Bonferroni
bound over all 96 looks, α/96, costs much more detection). Measured: no false alert in
the simulated weeks at every volume, within the budget of one a week.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from scipy.stats import binom, norm
from sqlalchemy.engine import Engine

from ..queries import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    JudgeHealthCounts,
    TimeWindow,
    load_category_counts,
    load_drift_inputs,
    load_judge_health,
)
from ..stats import (
    ALL_CATEGORIES,
    CORRECTIONS,
    DEFAULT_CORRECTION,
    CategoryCounts,
    DriftTest,
    Status,
    adjust_p_values,
    categorical_drift_test,
    compare_category,
    drop_p_value,
    merge_counts,
    minimum_detectable_drop,
    numeric_drift_test,
    per_test_alpha,
    required_scale,
    two_proportion_ztest,
)
from ..store import Sample

__all__ = ["KINDS", "AlertRules", "Check", "WindowAggregates", "evaluate", "evaluate_aggregates", "load_aggregates",
           "scheduled_looks"]

KINDS = ("score_drop", "drift", "volume", "judge_health")


@dataclass(frozen=True, kw_only=True)
class AlertRules:
    """The thresholds; every one but ``looks`` is a ``tastevin alert`` flag (``looks`` follows ``--every``:
    :func:`scheduled_looks`)."""

    min_samples: int = 30
    alpha: float = 0.01
    min_drop: float = 0.05
    volume_min_ratio: float = 0.5
    min_expected_volume: float = 10.0
    kinds: tuple[str, ...] = KINDS
    correction: str = DEFAULT_CORRECTION
    power: float = 0.8
    detect_drop: float = 0.05
    looks: float = 1
    state_detectable: bool = True

    def __post_init__(self) -> None:
        if self.min_samples < 1:
            raise ValueError("min_samples must be at least 1")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be within (0, 1)")
        if not 0 <= self.min_drop < 1:
            raise ValueError("min_drop must be within [0, 1)")
        if not 0 < self.volume_min_ratio <= 1:
            raise ValueError("volume_min_ratio must be within (0, 1]")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"unknown correction {self.correction!r}; expected one of {', '.join(CORRECTIONS)}")
        if not 0 < self.power < 1 or not 0 < self.detect_drop < 1:
            raise ValueError("power and detect_drop must be within (0, 1)")
        if self.looks < 1:
            raise ValueError("looks must be at least 1")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown alert kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}")

    @property
    def level(self) -> float:
        """The α an adjusted p-value is compared with: ``alpha / looks``."""
        return self.alpha / self.looks


def scheduled_looks(window: timedelta, every: timedelta | None) -> float:
    """The divisor of α for evaluations every ``every`` over ``window``: √(window / every), 1 when evaluated once."""
    if every is None or every >= window:
        return 1.0
    return math.sqrt(window / every)


@dataclass(frozen=True)
class Check:
    """One evaluated alert condition. ``firing`` is None when there is too little data to tell.

    ``p_value`` is the raw p-value of the check's test and ``p_adjusted`` the one after the
    evaluation's correction (both ``None`` without a test). ``detectable`` (score drops)
    holds the minimum detectable drop and the sampling rate that would detect
    ``detect_drop``; ``large`` says the effect passes its threshold.
    """

    kind: str
    key: str
    firing: bool | None
    message: str
    observed: float | None = None
    expected: float | None = None
    p_value: float | None = None
    statistic: dict[str, Any] = field(default_factory=dict)
    p_adjusted: float | None = None
    detectable: dict[str, Any] | None = None
    large: bool | None = None


@dataclass(frozen=True)
class WindowAggregates:
    """What the checks read of one window; :func:`load_aggregates` fills it from the store.

    ``categories``: per-category verdict counts; ``categorical`` / ``numeric``: the drift
    features (``{feature: {value: count}}``, ``{feature: values}``); ``volume``: samples
    per app; ``judge``: the judge's health counts.
    """

    categories: list[CategoryCounts]
    categorical: dict[str, dict[str, int]] = field(default_factory=dict)
    numeric: dict[str, Any] = field(default_factory=dict)
    volume: dict[str, int] = field(default_factory=dict)
    judge: JudgeHealthCounts | None = None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _sampling_rate(counts: CategoryCounts) -> float | None:
    """The (harmonic) mean sampling rate of the scored samples: scored / Σ 1/rate."""
    weight = counts.weight_passed + counts.weight_failed
    return counts.scored / weight if weight > 0 and counts.scored else None


def score_drop_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """One check per category seen in either window, and one for all categories together (uncorrected)."""
    base = {c.category: c for c in load_category_counts(engine, baseline)}
    cur = {c.category: c for c in load_category_counts(engine, current)}
    return _score_drop_checks(base, cur, current=current, baseline=baseline, rules=rules)


def _score_drop_checks(base: dict[str, CategoryCounts], cur: dict[str, CategoryCounts], *, current: TimeWindow,
                       baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    names = sorted(base.keys() | cur.keys())
    pairs = [(name, base.get(name), cur.get(name)) for name in names]
    pairs.append((ALL_CATEGORIES, merge_counts(base.values()), merge_counts(cur.values())))
    checks = []
    for name, before, now in pairs:
        before = before or merge_counts([], name)
        now = now or merge_counts([], name)
        change = compare_category(before, now, alpha=rules.alpha, min_samples=rules.min_samples)
        key = f"score_drop:{name}"
        statistic: dict[str, Any] = {
            "test": "two-proportion z-test (pooled), one-sided: drop",
            "z": change.z,
            "alpha": rules.alpha,
            "min_drop": rules.min_drop,
            "baseline": {"passed": before.passed, "scored": before.scored, "rate": change.baseline.rate,
                         "low": change.baseline.low, "high": change.baseline.high,
                         "sampling_rate": _sampling_rate(before)},
            "current": {"passed": now.passed, "scored": now.scored, "rate": change.current.rate,
                        "low": change.current.low, "high": change.current.high, "sampling_rate": _sampling_rate(now)},
            "min_samples": rules.min_samples,
            "window": str(current),
            "baseline_window": str(baseline),
        }
        if change.change is None or change.z is None:
            checks.append(Check("score_drop", key, None,
                                f"{name}: too few samples (need {rules.min_samples} scored in each window; "
                                f"baseline {before.scored}, current {now.scored})",
                                statistic=statistic))
            continue
        message = (
            f"{name}: pass rate {_pct(change.current.rate)} [{_pct(change.current.low)}–{_pct(change.current.high)}] "
            f"vs baseline {_pct(change.baseline.rate)} ({change.change * 100:+.1f} points, "
            f"n={now.scored} vs {before.scored})"
        )
        checks.append(Check("score_drop", key, None, message, observed=change.current.rate,
                            expected=change.baseline.rate, p_value=drop_p_value(change.z), statistic=statistic,
                            large=-change.change >= rules.min_drop))
    return checks


def _detectable(check: Check, alpha: float, rules: AlertRules) -> dict[str, Any] | None:
    """The drop this score check can detect at ``alpha`` and the sampling that detects ``detect_drop``."""
    before, now = check.statistic["baseline"], check.statistic["current"]
    if not before["scored"] or not now["scored"]:
        return None
    p0 = before["passed"] / before["scored"]
    mdd = minimum_detectable_drop(p0, before["scored"], now["scored"], alpha=alpha, power=rules.power)
    scale = required_scale(p0, rules.detect_drop, before["scored"], now["scored"], alpha=alpha, power=rules.power)
    rate = now["sampling_rate"]
    needed = None if scale is None or rate is None else rate * scale
    return {"minimum_detectable_drop": mdd, "alpha": alpha, "power": rules.power, "drop": rules.detect_drop,
            "samples_needed": None if scale is None else math.ceil(scale * now["scored"]),
            "sampling_rate": rate, "sampling_rate_needed": needed, "reachable": needed is not None and needed <= 1}


def _detectable_text(detectable: dict[str, Any] | None, name: str) -> str:
    if detectable is None:
        return ""
    mdd = detectable["minimum_detectable_drop"]
    points = f"{detectable['drop'] * 100:g}-point"
    text = ("; no drop is detectable" if mdd is None
            else f"; detectable drop ≥ {mdd * 100:.1f} points")
    needed = detectable["sampling_rate_needed"]
    if needed is not None and mdd is not None and mdd <= detectable["drop"]:
        return text
    if detectable["reachable"]:
        who = "every category" if name == ALL_CATEGORIES else f"`{name}`"
        return text + f" (a {points} drop needs a sampling rate of {needed:.1%} for {who}, or a wider window)"
    if detectable["samples_needed"] is not None:
        return text + f" (a {points} drop needs {detectable['samples_needed']} scored samples: widen the window)"
    return text


def _drift_check(test: DriftTest, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> Check:
    key = f"drift:{test.feature}"
    statistic: dict[str, Any] = {
        "min_samples": rules.min_samples, "alpha": rules.alpha,
        "test": test.test, "statistic": test.statistic, "dof": test.dof, "effects": test.effects,
        "thresholds": test.thresholds, "large": test.large, "reference_n": test.reference_n,
        "current_n": test.current_n, "note": test.note, "window": str(current), "baseline_window": str(baseline),
    }
    if test.status is not Status.OK or test.p_value is None:
        return Check("drift", key, None, f"{test.feature}: {test.status.value.replace('_', ' ')} "
                     f"(baseline {test.reference_n}, current {test.current_n})", statistic=statistic)
    effects = ", ".join(f"{name} {value:.3g} (threshold {test.thresholds[name]:g})"
                        for name, value in test.effects.items())
    main = next(iter(test.effects))
    return Check("drift", key, None, f"{test.feature}: {test.test} test, {effects}", observed=test.effects[main],
                 expected=test.thresholds[main], p_value=test.p_value, statistic=statistic, large=test.large)


def drift_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """One check per feature (categorical, then numeric, as in the drift report; uncorrected)."""
    (ref_cat, ref_num), (cur_cat, cur_num) = load_drift_inputs(engine, [baseline, current])
    tests = [categorical_drift_test(f, ref_cat.counts[f], cur_cat.counts[f], min_samples=rules.min_samples)
             for f in CATEGORICAL_FEATURES]
    tests += [numeric_drift_test(f, ref_num.values[f], cur_num.values[f], min_samples=rules.min_samples)
              for f in NUMERIC_FEATURES]
    return [_drift_check(test, current=current, baseline=baseline, rules=rules) for test in tests]


def volume_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """Arrivals overall and per app against what the baseline rate predicts (uncorrected)."""
    before, now = Counter(_volumes(engine, baseline)), Counter(_volumes(engine, current))
    keys = [(ALL_CATEGORIES, sum(before.values()), sum(now.values()))]
    keys += [(f"app={app}", before[app], now.get(app, 0)) for app in sorted(before)]
    return [volume_check(name, base_n, observed, current=current, baseline=baseline, rules=rules)
            for name, base_n, observed in keys]


def volume_check(name: str, base_n: int, observed: int, *, current: TimeWindow, baseline: TimeWindow,
                 rules: AlertRules) -> Check:
    """One volume key: ``observed`` arrivals in ``current`` against ``base_n`` in ``baseline``."""
    scale = current.duration / baseline.duration
    expected = base_n * scale
    key = f"volume:{name}"
    statistic = {"test": "exact conditional test of two Poisson rates (binomial), one-sided: fewer",
                 "baseline_count": base_n, "ratio": rules.volume_min_ratio, "alpha": rules.alpha,
                 "window": str(current), "baseline_window": str(baseline)}
    if expected < rules.min_expected_volume:
        return Check("volume", key, None, f"{name}: too few samples expected ({expected:.1f}) to judge the volume",
                     observed=float(observed), expected=expected, statistic=statistic)
    p_value = float(binom.cdf(observed, base_n + observed, scale / (1 + scale)))
    message = f"{name}: {observed} samples vs {expected:.0f} expected from the baseline rate"
    return Check("volume", key, None, message, observed=float(observed), expected=expected, p_value=p_value,
                 statistic=statistic, large=observed < rules.volume_min_ratio * expected)


def _share_rise(key: str, label: str, base: tuple[int, int], cur: tuple[int, int], *, unit: str, current: TimeWindow,
                baseline: TimeWindow, rules: AlertRules) -> Check:
    (base_k, base_n), (cur_k, cur_n) = base, cur
    statistic: dict[str, Any] = {"test": "two-proportion z-test (pooled), one-sided: rise",
                                 "baseline": {"count": base_k, "of": base_n}, "current": {"count": cur_k, "of": cur_n},
                                 "min_rise": rules.min_drop, "window": str(current), "baseline_window": str(baseline)}
    if min(base_n, cur_n) < rules.min_samples:
        return Check("judge_health", key, None, f"{label}: too few {unit} (need {rules.min_samples} in each window; "
                     f"baseline {base_n}, current {cur_n})", statistic=statistic)
    test = two_proportion_ztest(base_k, base_n, cur_k, cur_n)
    statistic["z"] = test.z
    message = (f"{label}: {_pct(test.rate_b)} of {cur_n} {unit} vs baseline {_pct(test.rate_a)} of {base_n} "
               f"({test.difference * 100:+.1f} points)")
    return Check("judge_health", key, None, message, observed=test.rate_b, expected=test.rate_a,
                 p_value=float(norm.sf(test.z)), statistic=statistic, large=test.difference >= rules.min_drop)


def judge_health_checks(engine: Engine, *, current: TimeWindow, baseline: TimeWindow,
                        rules: AlertRules) -> list[Check]:
    """Unscored share, errored-call share (both tested, uncorrected) and rules-only (no test)."""
    return _judge_health_checks(load_judge_health(engine, baseline), load_judge_health(engine, current),
                                current=current, baseline=baseline, rules=rules)


def _judge_health_checks(base: JudgeHealthCounts, cur: JudgeHealthCounts, *, current: TimeWindow,
                         baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    windows = {"current": current, "baseline": baseline, "rules": rules}
    checks = [
        _share_rise("judge_health:unscored", "unscored judgments", (base.unscored, base.judgments),
                    (cur.unscored, cur.judgments), unit="judgments", **windows),  # type: ignore[arg-type]
        _share_rise("judge_health:errored_calls", "errored judge calls", (base.errored, base.calls),
                    (cur.errored, cur.calls), unit="judge calls", **windows),  # type: ignore[arg-type]
    ]
    statistic = {"baseline": {"rules_only": base.rules_only, "judgments": base.judgments},
                 "current": {"rules_only": cur.rules_only, "judgments": cur.judgments},
                 "window": str(current), "baseline_window": str(baseline)}
    key = "judge_health:rules_only"
    if cur.judgments == 0:
        checks.append(Check("judge_health", key, None, "rules only: no judgments in the current window",
                            statistic=statistic))
    elif cur.rules_only < cur.judgments:
        checks.append(Check("judge_health", key, False,
                            f"judge model in use: {cur.judgments - cur.rules_only} of {cur.judgments} judgments "
                            "by an LLM", observed=cur.rules_only / cur.judgments, statistic=statistic))
    elif base.rules_only < base.judgments:
        checks.append(Check("judge_health", key, True,
                            f"rules only: all {cur.judgments} judgments of the current window are rule checks "
                            f"(judge_model \"none\"), the baseline had {base.judgments - base.rules_only} by an LLM — "
                            "pass rates are not comparable; is the judge configured (ANTHROPIC_API_KEY)?",
                            observed=1.0, expected=base.rules_only / base.judgments if base.judgments else None,
                            statistic=statistic))
    else:
        checks.append(Check("judge_health", key, False,
                            f"rules only in both windows ({cur.judgments} judgments): scores are the rule checks' alone",
                            observed=1.0, expected=1.0, statistic=statistic))
    return checks


def correct(checks: list[Check], rules: AlertRules) -> list[Check]:
    """Adjust the family's p-values together and decide ``firing``; add the detectable drop.

    Checks without a p-value keep their ``firing`` as it is. A tested check fires when
    ``p_adjusted < rules.level`` and its effect is ``large``.
    """
    tested = [i for i, check in enumerate(checks) if check.p_value is not None]
    adjusted = adjust_p_values([checks[i].p_value for i in tested], rules.correction)  # type: ignore[misc]
    family = len(tested)
    level = rules.level
    single = per_test_alpha(level, family, rules.correction)
    out = list(checks)
    for index, p_adj in zip(tested, adjusted, strict=True):
        check = checks[index]
        assert check.p_value is not None
        firing = bool(check.large) and p_adj < level
        statistic = {**check.statistic, "p_value": check.p_value, "p_adjusted": p_adj, "correction": rules.correction,
                     "family_size": family, "level": level, "large": check.large}
        message = f"{check.message}, p={check.p_value:.2g} (adjusted {p_adj:.2g})"
        detectable = None
        if check.kind == "score_drop" and rules.state_detectable:
            detectable = _detectable(check, single, rules)
            statistic["detectable"] = detectable
            message += _detectable_text(detectable, check.key.split(":", 1)[1])
        out[index] = replace(check, firing=firing, p_adjusted=p_adj, statistic=statistic, message=message,
                             detectable=detectable)
    for index, check in enumerate(checks):  # untested score checks: still say what would be detectable
        if (check.kind == "score_drop" and check.p_value is None and "baseline" in check.statistic
                and rules.state_detectable):
            detectable = _detectable(check, single, rules)
            out[index] = replace(check, detectable=detectable, message=check.message +
                                 _detectable_text(detectable, check.key.split(":", 1)[1]),
                                 statistic={**check.statistic, "detectable": detectable})
    return out


def _volumes(engine: Engine, window: TimeWindow) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Sample.app, sa.func.count())  # type: ignore[call-overload]
            .where(Sample.ts >= window.start, Sample.ts < window.end)
            .group_by(Sample.app)
        ).all()
    return {app: int(n) for app, n in rows}


def load_aggregates(engine: Engine, window: TimeWindow, *, kinds: tuple[str, ...] = KINDS,
                    features: tuple[Any, Any] | None = None) -> WindowAggregates:
    """The :class:`WindowAggregates` of ``window`` for the given kinds (blocks on the database)."""
    categories = load_category_counts(engine, window) if {"score_drop"} & set(kinds) else []
    categorical, numeric = ({}, {}) if features is None else (features[0].counts, features[1].values)
    return WindowAggregates(
        categories=categories, categorical=categorical, numeric=numeric,
        volume=_volumes(engine, window) if "volume" in kinds else {},
        judge=load_judge_health(engine, window) if "judge_health" in kinds else None,
    )


def evaluate_aggregates(base: WindowAggregates, cur: WindowAggregates, *, current: TimeWindow, baseline: TimeWindow,
                        rules: AlertRules) -> list[Check]:
    """The checks of :func:`evaluate` from the two windows' aggregates (pure: no database)."""
    checks: list[Check] = []
    if "score_drop" in rules.kinds:
        checks += _score_drop_checks({c.category: c for c in base.categories}, {c.category: c for c in cur.categories},
                                     current=current, baseline=baseline, rules=rules)
    if "drift" in rules.kinds:
        tests = [categorical_drift_test(f, base.categorical.get(f, {}), cur.categorical.get(f, {}),
                                        min_samples=rules.min_samples) for f in CATEGORICAL_FEATURES]
        tests += [numeric_drift_test(f, base.numeric.get(f, []), cur.numeric.get(f, []),
                                     min_samples=rules.min_samples) for f in NUMERIC_FEATURES]
        checks += [_drift_check(test, current=current, baseline=baseline, rules=rules) for test in tests]
    if "volume" in rules.kinds:
        keys = [(ALL_CATEGORIES, sum(base.volume.values()), sum(cur.volume.values()))]
        keys += [(f"app={app}", base.volume[app], cur.volume.get(app, 0)) for app in sorted(base.volume)]
        checks += [volume_check(name, base_n, observed, current=current, baseline=baseline, rules=rules)
                   for name, base_n, observed in keys]
    if "judge_health" in rules.kinds and base.judge is not None and cur.judge is not None:
        checks += _judge_health_checks(base.judge, cur.judge, current=current, baseline=baseline, rules=rules)
    return correct(checks, rules)


def evaluate(engine: Engine, *, current: TimeWindow, baseline: TimeWindow, rules: AlertRules) -> list[Check]:
    """Every check of the enabled kinds (``rules.kinds``), corrected as one family, in a stable order."""
    features: list[Any] = [None, None]
    if "drift" in rules.kinds:
        features = list(load_drift_inputs(engine, [baseline, current]))
    base = load_aggregates(engine, baseline, kinds=rules.kinds, features=features[0])
    cur = load_aggregates(engine, current, kinds=rules.kinds, features=features[1])
    return evaluate_aggregates(base, cur, current=current, baseline=baseline, rules=rules)
