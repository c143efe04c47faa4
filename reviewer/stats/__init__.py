"""Score and drift statistics: pure functions over plain numbers, lists and numpy arrays.

No database, no I/O: ``reviewer.queries`` aggregates in SQL and hands the counts and
values to these functions; the app, the alerts and ``tastevin drift`` show the results.
Numbers come with their uncertainty, and "too few samples" is a result (a ``Status``),
never a 0.0.

* ``_rates`` — Wilson intervals, inclusion-weighted (Hájek) rates, Kish's effective size;
* ``_categories`` — per-category counts in a window and their summary rows;
* ``_compare`` — current vs baseline per category: the pooled two-proportion z-test;
* ``_decompose`` — the change of the overall rate split into mix and quality effects;
* ``_trust`` — pass rates corrected for the judge's measured errors (PPI, Rogan–Gladen);
* ``_drift`` — PSI, Jensen–Shannon, KS and normalised Wasserstein drift per feature;
* ``_drift_tests`` — drift for alerts: a significance test (KS, chi-square) and its effect size;
* ``_multitest`` — Holm / Benjamini–Hochberg adjustment of one evaluation's p-values;
* ``_power`` — the minimum detectable drop of a score check, the sampling that detects a drop.
"""

from __future__ import annotations

from ._categories import (
    ALL_CATEGORIES,
    CategoryCounts,
    CategorySummary,
    merge_counts,
    pass_rate,
    summarize_categories,
    summarize_category,
    summarize_overall,
)
from ._compare import (
    DEFAULT_ALPHA,
    CategoryChange,
    ChangeVerdict,
    ZTest,
    compare_categories,
    compare_category,
    failing_categories,
    two_proportion_ztest,
)
from ._decompose import (
    CategoryContribution,
    RateChangeDecomposition,
    decompose_pass_rate_change,
    decompose_rate_change,
)
from ._drift import (
    JS_THRESHOLD,
    KS_ALPHA,
    KS_MAX_REFERENCE,
    PSI_EPSILON,
    PSI_SIGNIFICANT,
    PSI_THRESHOLD,
    WASSERSTEIN_THRESHOLD,
    DriftMethod,
    DriftResult,
    DriftVerdict,
    FeatureKind,
    categorical_drift,
    jensen_shannon_distance,
    numeric_drift,
    population_stability_index,
)
from ._drift_tests import (
    CATEGORICAL_TESTS,
    MIN_EXPECTED_COUNT,
    DriftTest,
    categorical_drift_test,
    numeric_drift_test,
    pooled_table,
    wasserstein_permutation_pvalue,
)
from ._multitest import CORRECTIONS, DEFAULT_CORRECTION, adjust_p_values, per_test_alpha
from ._power import DEFAULT_POWER, drop_p_value, minimum_detectable_drop, required_scale
from ._trust import (
    DEFAULT_HALF_WIDTH,
    DEFAULT_METHOD,
    DEFAULT_MIN_AUDITS,
    AuditCounts,
    CorrectedRate,
    CorrectionMethod,
    TrustStatus,
    audit_only_interval,
    audits_needed,
    combine_corrected,
    corrected_rate,
    ppi_interval,
    rogan_gladen,
    rogan_gladen_interval,
)
from ._rates import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_SAMPLES,
    RateEstimate,
    Status,
    kish_effective_size,
    kish_from_sums,
    rate_estimate,
    weighted_rate_estimate,
    wilson_interval,
)

__all__ = [
    "DEFAULT_HALF_WIDTH",
    "DEFAULT_METHOD",
    "DEFAULT_MIN_AUDITS",
    "AuditCounts",
    "CorrectedRate",
    "CorrectionMethod",
    "TrustStatus",
    "audit_only_interval",
    "audits_needed",
    "combine_corrected",
    "corrected_rate",
    "ppi_interval",
    "rogan_gladen",
    "rogan_gladen_interval",
    "ALL_CATEGORIES",
    "CATEGORICAL_TESTS",
    "CORRECTIONS",
    "DEFAULT_ALPHA",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_CORRECTION",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_POWER",
    "JS_THRESHOLD",
    "KS_ALPHA",
    "KS_MAX_REFERENCE",
    "MIN_EXPECTED_COUNT",
    "PSI_EPSILON",
    "PSI_SIGNIFICANT",
    "PSI_THRESHOLD",
    "WASSERSTEIN_THRESHOLD",
    "CategoryChange",
    "CategoryContribution",
    "CategoryCounts",
    "CategorySummary",
    "ChangeVerdict",
    "DriftMethod",
    "DriftResult",
    "DriftTest",
    "DriftVerdict",
    "FeatureKind",
    "RateChangeDecomposition",
    "RateEstimate",
    "Status",
    "ZTest",
    "adjust_p_values",
    "categorical_drift",
    "categorical_drift_test",
    "compare_categories",
    "compare_category",
    "decompose_pass_rate_change",
    "decompose_rate_change",
    "drop_p_value",
    "failing_categories",
    "jensen_shannon_distance",
    "kish_effective_size",
    "kish_from_sums",
    "merge_counts",
    "minimum_detectable_drop",
    "numeric_drift",
    "numeric_drift_test",
    "pass_rate",
    "per_test_alpha",
    "pooled_table",
    "population_stability_index",
    "rate_estimate",
    "required_scale",
    "summarize_categories",
    "summarize_category",
    "summarize_overall",
    "two_proportion_ztest",
    "wasserstein_permutation_pvalue",
    "weighted_rate_estimate",
    "wilson_interval",
]
