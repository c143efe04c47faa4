"""Correcting one evaluation's family of tests: Holm (default), Benjamini–Hochberg, or none.

An alert evaluation tests many keys at once (every category's score drop, every drift
feature, the volume, the judge's health). At α = 0.01 per key and 30 keys, some key
fires on stable traffic in up to 1 − 0.99³⁰ ≈ 26% of evaluations. So the raw p-values
of one evaluation are adjusted together (``statsmodels.stats.multitest.multipletests``):

* ``holm`` — Holm's step-down method: controls the family-wise error rate (the chance
  that *any* key fires falsely) at α under any dependence between the tests, and is
  uniformly more powerful than Bonferroni. The default: an alert pages a person, and the
  budget is about evaluations with any false alert.
* ``bh`` — Benjamini–Hochberg: controls the false-discovery rate (the expected share of
  false ones among the keys that fire) under independence or positive dependence; more
  keys fire when many really changed.
* ``none`` — the raw p-values (each key at α on its own).

The adjusted p-value of a key is compared with α; it is never below the raw one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CORRECTIONS = ("holm", "bh", "none")
DEFAULT_CORRECTION = "holm"
_METHODS = {"holm": "holm", "bh": "fdr_bh"}


def adjust_p_values(p_values: Sequence[float], correction: str = DEFAULT_CORRECTION) -> list[float]:
    """The adjusted p-values, in the order given. Raises ``ValueError`` for an unknown correction or a p outside [0, 1]."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}")
    values = np.asarray(p_values, dtype=float)
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1):
        raise ValueError("p-values must be within [0, 1]")
    if correction == "none" or values.size == 0:
        return [float(p) for p in values]
    from statsmodels.stats.multitest import multipletests  # imported on first use: reviewer.stats stays light

    adjusted = multipletests(values, method=_METHODS[correction])[1]
    return [float(p) for p in adjusted]


def per_test_alpha(alpha: float, family_size: int, correction: str = DEFAULT_CORRECTION) -> float:
    """The raw p-value one test must beat when nothing else in the family is significant.

    For Holm and BH that is ``alpha / family_size`` (their first step, Bonferroni's level);
    for ``none`` it is ``alpha``. The minimum detectable drop is stated at this level.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}")
    if correction == "none" or family_size <= 1:
        return alpha
    return alpha / family_size
