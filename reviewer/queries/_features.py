"""The data of the drift report, fetched so it stays fast on millions of samples.

A window with more than ``max_values`` samples is not read whole: drift is measured on
a deterministic random subsample of about ``max_values`` of its samples — those whose
``sample_id`` sorts below a threshold chosen for that size. Sample ids are 128 random
bits (the sampler draws them), so this is a uniform sample, and the same one on every
run. The threshold aims at ``max_values − 4·√max_values`` samples, so more than
``max_values`` come back only with probability ~3·10⁻⁵; the overshoot is then cut.
At 20,000 values (the default) the sampling noise of PSI is about 0.001 and that of the
normalised Wasserstein distance about 0.01, far below the 0.1 thresholds.

* Categorical features (``CATEGORICAL_FEATURES``): :func:`load_categorical_counts`
  counts them with one SQL ``GROUP BY`` of all five columns over the drawn samples,
  split into one table per feature here. NULL (no finish reason, no error) is the value
  ``"(none)"``.
* Numeric features (``NUMERIC_FEATURES``) are fetched as values, only their columns;
  NULLs are left out. ``cost_usd`` is per judgment: every judgment of the drawn samples.
* :func:`load_window_features` gets both from one read of the drawn samples (at most
  ``max_values`` rows, so counting the categorical columns in Python costs nothing and
  saves a second pass over the window); the drift report uses it, and a test checks
  that its counts equal the ``GROUP BY``'s.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from ._counts import JUDGMENT, SAMPLE, in_window
from ._windows import TimeWindow

CATEGORICAL_FEATURES = ("category", "request_model", "app", "finish_reason", "error_type")
SAMPLE_NUMERIC_FEATURES = ("input_tokens", "output_tokens", "latency_ms", "input_chars", "output_chars")
COST_FEATURE = "cost_usd"
NUMERIC_FEATURES = (*SAMPLE_NUMERIC_FEATURES, COST_FEATURE)
NULL_LABEL = "(none)"
DEFAULT_MAX_VALUES = 20_000
MIN_MAX_VALUES = 1_001  # above KS_MAX_REFERENCE, so the cap never changes the method chosen

_ID_PREFIX_DIGITS = 8  # the threshold compares the first 32 bits of the hex id


@dataclass(frozen=True, slots=True)
class Draw:
    """Which samples of a window are read: all (``id_below is None``) or those with ``sample_id < id_below``.

    ``samples`` is the number of samples in the window, ``fraction`` the share drawn.
    """

    samples: int
    fraction: float = 1.0
    id_below: str | None = None

    @property
    def subsampled(self) -> bool:
        return self.id_below is not None

    def condition(self) -> sa.ColumnElement[bool]:
        return SAMPLE.c.sample_id < self.id_below if self.id_below is not None else sa.true()


def count_samples(engine: Engine, window: TimeWindow) -> int:
    """The number of samples in ``window`` (an index range count on ``ts``)."""
    statement = sa.select(sa.func.count()).select_from(SAMPLE).where(in_window(window))
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def plan_draw(samples: int, max_values: int = DEFAULT_MAX_VALUES) -> Draw:
    """The draw for a window of ``samples``: everything up to ``max_values``, else an id threshold.

    Raises ``ValueError`` when ``max_values`` is below ``MIN_MAX_VALUES``.
    """
    if max_values < MIN_MAX_VALUES:
        raise ValueError(f"max_values must be at least {MIN_MAX_VALUES}, got {max_values}")
    if samples <= max_values:
        return Draw(samples)
    target = max_values - 4 * math.sqrt(max_values)
    space = 16**_ID_PREFIX_DIGITS
    bound = max(1, math.floor(target / samples * space))
    return Draw(samples, bound / space, f"{bound:0{_ID_PREFIX_DIGITS}x}")


@dataclass(frozen=True, slots=True)
class CategoricalCounts:
    """``{feature: {value: count}}`` over the drawn samples of a window; ``counted`` of them."""

    draw: Draw
    counted: int
    counts: dict[str, dict[str, int]]

    @property
    def samples(self) -> int:
        """Samples in the whole window (``counted`` of them were counted)."""
        return self.draw.samples

    @property
    def subsampled(self) -> bool:
        return self.draw.subsampled


@dataclass(frozen=True, slots=True)
class NumericValues:
    """Values per numeric feature over the drawn samples of a window (NULLs left out).

    ``estimated_sizes`` is how many non-NULL values each feature has in the whole window:
    exact when everything was drawn, else the drawn count scaled up by the fraction.
    """

    draw: Draw
    values: dict[str, np.ndarray] = field(default_factory=dict)
    estimated_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        """Samples in the whole window."""
        return self.draw.samples

    @property
    def fraction(self) -> float:
        return self.draw.fraction

    @property
    def subsampled(self) -> bool:
        return self.draw.subsampled


def load_categorical_counts(
    engine: Engine, window: TimeWindow, *, max_values: int = DEFAULT_MAX_VALUES, draw: Draw | None = None
) -> CategoricalCounts:
    """Counts of each categorical feature's values over the window's drawn samples (one ``GROUP BY``).

    ``draw`` defaults to :func:`plan_draw` of the window's sample count (one more query).
    """
    draw = draw or plan_draw(count_samples(engine, window), max_values)
    columns = [SAMPLE.c[name] for name in CATEGORICAL_FEATURES]
    statement = (
        sa.select(*columns, sa.func.count().label("n")).where(in_window(window), draw.condition()).group_by(*columns)
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    counts: dict[str, defaultdict[str, int]] = {name: defaultdict(int) for name in CATEGORICAL_FEATURES}
    counted = 0
    for row in rows:
        n = int(row.n)
        counted += n
        for name, value in zip(CATEGORICAL_FEATURES, row, strict=False):
            counts[name][NULL_LABEL if value is None else str(value)] += n
    return CategoricalCounts(draw, counted, {name: dict(table) for name, table in counts.items()})


def load_window_features(
    engine: Engine, window: TimeWindow, *, max_values: int = DEFAULT_MAX_VALUES, draw: Draw | None = None
) -> tuple[CategoricalCounts, NumericValues]:
    """Categorical counts and numeric values of the window's drawn samples, from one read of them.

    What :func:`drift_report` uses: the drawn samples are read once (the categorical
    columns are counted here, the same numbers :func:`load_categorical_counts` gets from
    SQL), then the ``cost_usd`` of their judgments is looked up by their ids (in judgment
    id order). Two queries on one connection, plus the count when ``draw`` is not given.
    """
    draw = draw or plan_draw(count_samples(engine, window), max_values)
    s, j = SAMPLE.c, JUDGMENT.c
    columns = [s.sample_id, *(s[name] for name in CATEGORICAL_FEATURES), *(s[name] for name in SAMPLE_NUMERIC_FEATURES)]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*columns).where(in_window(window), draw.condition())).all()[:max_values]
        ids = _id_list(connection.dialect.name, [row[0] for row in rows])
        costs = sa.select(j.cost_usd).where(j.sample_id.in_(ids), j.cost_usd.is_not(None)).order_by(j.id)
        cost_values = connection.execute(costs).scalars().all()[:max_values] if rows else []

    tables: dict[str, defaultdict[str, int]] = {name: defaultdict(int) for name in CATEGORICAL_FEATURES}
    first_numeric = 1 + len(CATEGORICAL_FEATURES)
    for row in rows:
        for name, value in zip(CATEGORICAL_FEATURES, row[1:first_numeric], strict=True):
            tables[name][NULL_LABEL if value is None else str(value)] += 1
    categorical = CategoricalCounts(draw, len(rows), {name: dict(table) for name, table in tables.items()})

    matrix = np.array([row[first_numeric:] for row in rows], dtype=float)  # NULL → nan
    matrix = matrix.reshape(len(rows), len(SAMPLE_NUMERIC_FEATURES))
    values: dict[str, np.ndarray] = {}
    for index, name in enumerate(SAMPLE_NUMERIC_FEATURES):
        column = matrix[:, index]
        values[name] = column[~np.isnan(column)]
    values[COST_FEATURE] = np.asarray(cost_values, dtype=float)
    scale = 1.0 if not draw.subsampled else 1.0 / draw.fraction
    estimated = {name: round(array.size * scale) for name, array in values.items()}
    return categorical, NumericValues(draw, values, estimated)


def load_numeric_values(
    engine: Engine, window: TimeWindow, *, max_values: int = DEFAULT_MAX_VALUES, draw: Draw | None = None
) -> NumericValues:
    """At most ``max_values`` values of each numeric feature over the window's drawn samples."""
    return load_window_features(engine, window, max_values=max_values, draw=draw)[1]


def _id_list(dialect: str, ids: list[str]) -> sa.Select[tuple[str]]:
    """``SELECT`` of the given ids as one bound value (a JSON array on SQLite, an array on
    PostgreSQL): one parameter instead of thousands of ``IN (?, ?, …)`` placeholders."""
    if dialect == "postgresql":
        return sa.select(sa.func.unnest(sa.literal(ids, postgresql.ARRAY(sa.String))))
    return sa.select(sa.func.json_each(json.dumps(ids)).table_valued("value").c.value)
