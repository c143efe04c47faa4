"""Reviewer queries: aggregate in SQL, then hand plain numbers to ``reviewer.stats``.

Every function takes an ``Engine`` (from ``reviewer.store.make_engine``) and time
windows (:class:`TimeWindow`, ``[start, end)`` on ``sample.ts``), works the same on
SQLite and PostgreSQL, and blocks on the database. Per-sample data never crosses the
wire except the capped numeric values of the drift report.

* ``_windows`` — :class:`TimeWindow`, :func:`trailing_windows`;
* ``_counts`` — per-category verdict counts (what a sample's verdict is: see there),
  the category summary, the comparison of two windows, the mix/quality decomposition;
* ``_features`` — categorical counts and capped numeric values for drift;
* ``_report`` — :func:`drift_report`;
* ``_judge_health`` — unscored and rules-only judgments, errored judge calls of a window.
"""

from __future__ import annotations

from ._counts import (
    category_counts_statement,
    category_summary,
    compare_windows,
    decompose_windows,
    load_category_counts,
)
from ._features import (
    CATEGORICAL_FEATURES,
    DEFAULT_MAX_VALUES,
    MIN_MAX_VALUES,
    NULL_LABEL,
    NUMERIC_FEATURES,
    CategoricalCounts,
    Draw,
    NumericValues,
    count_samples,
    load_categorical_counts,
    load_numeric_values,
    load_window_features,
    plan_draw,
)
from ._judge_health import RULES_ONLY_MODEL, JudgeHealthCounts, load_judge_health
from ._report import DriftReport, drift_report, load_drift_inputs
from ._windows import TimeWindow, WindowError, trailing_windows

__all__ = [
    "CATEGORICAL_FEATURES",
    "DEFAULT_MAX_VALUES",
    "MIN_MAX_VALUES",
    "NULL_LABEL",
    "NUMERIC_FEATURES",
    "RULES_ONLY_MODEL",
    "CategoricalCounts",
    "Draw",
    "DriftReport",
    "JudgeHealthCounts",
    "NumericValues",
    "TimeWindow",
    "WindowError",
    "category_counts_statement",
    "category_summary",
    "compare_windows",
    "count_samples",
    "decompose_windows",
    "drift_report",
    "load_categorical_counts",
    "load_category_counts",
    "load_drift_inputs",
    "load_judge_health",
    "load_numeric_values",
    "load_window_features",
    "plan_draw",
    "trailing_windows",
]
