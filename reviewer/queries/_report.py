"""The drift report: every categorical and numeric feature, reference window against current."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy.engine import Engine

from ..stats import DEFAULT_MIN_SAMPLES, DriftResult, categorical_drift, numeric_drift
from ._features import (
    CATEGORICAL_FEATURES,
    DEFAULT_MAX_VALUES,
    NUMERIC_FEATURES,
    CategoricalCounts,
    Draw,
    NumericValues,
    count_samples,
    load_window_features,
    plan_draw,
)
from ._windows import TimeWindow, per_window


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Drift results in a fixed order: each categorical feature (PSI, then Jensen–Shannon),
    then each numeric feature, as listed in ``CATEGORICAL_FEATURES`` / ``NUMERIC_FEATURES``.

    ``reference_samples`` / ``current_samples`` count the samples in each window;
    ``max_values`` is the cap on samples read per window; ``reference_fraction`` /
    ``current_fraction`` the share of each window's samples read (1.0: all of them).
    """

    reference: TimeWindow
    current: TimeWindow
    reference_samples: int
    current_samples: int
    max_values: int
    min_samples: int
    results: tuple[DriftResult, ...]
    reference_fraction: float = 1.0
    current_fraction: float = 1.0

    @property
    def drifted_features(self) -> list[str]:
        """Features with at least one result that flags drift, in report order, each once."""
        return list(dict.fromkeys(result.feature for result in self.results if result.drifted))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (windows as ISO 8601 strings, enums as their string values)."""
        return {
            "reference": {"start": self.reference.start.isoformat(), "end": self.reference.end.isoformat()},
            "current": {"start": self.current.start.isoformat(), "end": self.current.end.isoformat()},
            "reference_samples": self.reference_samples,
            "current_samples": self.current_samples,
            "reference_fraction": self.reference_fraction,
            "current_fraction": self.current_fraction,
            "max_values": self.max_values,
            "min_samples": self.min_samples,
            "drifted_features": self.drifted_features,
            "results": [{key: _plain(value) for key, value in asdict(result).items()} for result in self.results],
        }


def _draw_note(reference: Draw, current: Draw) -> str:
    parts = [
        f"{name} subsampled: {draw.fraction:.1%} of {draw.samples:,} samples"
        for name, draw in (("reference", reference), ("current", current))
        if draw.subsampled
    ]
    return "; ".join(parts)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value


def drift_report(
    engine: Engine,
    *,
    reference: TimeWindow,
    current: TimeWindow,
    max_values: int = DEFAULT_MAX_VALUES,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> DriftReport:
    """Compare the samples of ``current`` with those of ``reference``, feature by feature.

    The two windows are queried concurrently. Per window: a count, one read of the drawn
    samples' feature columns and one of their judgments' costs — at most ``max_values``
    samples (see ``_features``); the numeric method is chosen by the full reference
    size. Windows may overlap (the caller decides). Blocks on the database; database
    errors propagate as SQLAlchemy errors.
    """

    def load(window: TimeWindow) -> tuple[Draw, CategoricalCounts, NumericValues]:
        draw = plan_draw(count_samples(engine, window), max_values)
        categorical, numeric = load_window_features(engine, window, max_values=max_values, draw=draw)
        return draw, categorical, numeric

    (ref_draw, ref_cat, ref_num), (cur_draw, cur_cat, cur_num) = per_window(engine, load, [reference, current])
    note = _draw_note(ref_draw, cur_draw)
    results: list[DriftResult] = []
    for feature in CATEGORICAL_FEATURES:
        pair = categorical_drift(feature, ref_cat.counts[feature], cur_cat.counts[feature], min_samples=min_samples)
        results.extend(replace(result, note=note) for result in pair)
    for feature in NUMERIC_FEATURES:
        results.append(
            numeric_drift(
                feature,
                ref_num.values[feature],
                cur_num.values[feature],
                reference_size=ref_num.estimated_sizes[feature],
                min_samples=min_samples,
            )
        )
    return DriftReport(
        reference=reference,
        current=current,
        reference_samples=ref_draw.samples,
        current_samples=cur_draw.samples,
        max_values=max_values,
        min_samples=min_samples,
        results=tuple(results),
        reference_fraction=ref_draw.fraction,
        current_fraction=cur_draw.fraction,
    )


def load_drift_inputs(
    engine: Engine, windows: list[TimeWindow], *, max_values: int = DEFAULT_MAX_VALUES
) -> list[tuple[CategoricalCounts, NumericValues]]:
    """Per window (queried concurrently): the categorical counts and numeric values the drift tests take.

    The same draw as :func:`drift_report` (at most ``max_values`` samples per window, see
    ``_features``). Blocks on the database.
    """

    def load(window: TimeWindow) -> tuple[CategoricalCounts, NumericValues]:
        draw = plan_draw(count_samples(engine, window), max_values)
        return load_window_features(engine, window, max_values=max_values, draw=draw)

    return per_window(engine, load, windows)
