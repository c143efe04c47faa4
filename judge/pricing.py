"""What judging costs: a price table per model, the cost of a judgment, and a run's budget.

Prices are USD per million tokens. The built-in table (``DEFAULT_PRICES``, list prices of
2026-11; cache writes at the 5-minute rate) is overridden or extended by a YAML/JSON file (``--prices FILE``, env
``TASTEVIN_JUDGE_PRICES``) mapping model → prices::

    claude-sonnet-4-5: {input: 3.0, output: 15.0, cache_read: 0.30, cache_write: 3.75}
    my-gateway-model:  {input: 1.0, output: 2.0}

A model is priced by the longest table key it starts with, so ``claude-sonnet-4-5`` also
prices ``claude-sonnet-4-5-20250929``. The Message Batches API costs half
(``BATCH_DISCOUNT``).

:class:`Budget` makes ``--budget-usd`` hold: before each judge call a run *reserves* an
upper estimate of its cost (input tokens estimated generously from the request size,
output at ``max_tokens``) and stops before a call whose reservation would not fit; after
the call the reservation is replaced by the real cost. The run therefore never spends
more than its budget, as long as a call's input tokens do not exceed the estimate — one
token per ``CHARS_PER_TOKEN_ESTIMATE`` bytes of request JSON, which overestimates for
English and code.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reviewer.errors import ConfigError

__all__ = ["BATCH_DISCOUNT", "DEFAULT_PRICES", "Budget", "ModelPrice", "PriceTable", "estimate_input_tokens"]

BATCH_DISCOUNT = 0.5
CHARS_PER_TOKEN_ESTIMATE = 2.5
_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        batch: bool = False,
    ) -> float:
        """Cost in USD; cache tokens priced as input when the table has no cache price."""
        total = (
            input_tokens * self.input
            + output_tokens * self.output
            + cache_read_tokens * (self.input if self.cache_read is None else self.cache_read)
            + cache_write_tokens * (self.input if self.cache_write is None else self.cache_write)
        ) / 1_000_000
        return total * BATCH_DISCOUNT if batch else total


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-fable-5-1": ModelPrice(10.0, 50.0, 1.00, 12.50),
    "claude-opus-5-5": ModelPrice(4.0, 20.0, 0.40, 5.0),
    "claude-opus-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-sonnet-5-5": ModelPrice(2.0, 10.0, 0.20, 2.50),
    "claude-sonnet-5": ModelPrice(2.0, 10.0, 0.20, 2.50),
    "claude-opus-4-8": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-7": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-6": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-opus-4-5": ModelPrice(5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": ModelPrice(15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": ModelPrice(15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-3-7-sonnet": ModelPrice(3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": ModelPrice(0.80, 4.0, 0.08, 1.0),
    "claude-3-haiku": ModelPrice(0.25, 1.25, 0.03, 0.30),
}


class PriceTable:
    """Model → :class:`ModelPrice`, looked up by longest prefix. Immutable."""

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self._prices = dict(prices)
        self._keys = sorted(self._prices, key=len, reverse=True)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The built-in table, overridden by ``path`` when given.

        Raises ConfigError naming the file and the entry for anything malformed.
        """
        prices = dict(DEFAULT_PRICES)
        if path is None:
            return cls(prices)
        where = Path(path)
        try:
            text = where.read_text(encoding="utf-8")
            data = json.loads(text) if where.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{where}: cannot read the price table: {exc} (fix the file or --prices)") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: the price table must map model names to prices")
        for model, entry in data.items():
            prices[str(model)] = _price(where, str(model), entry)
        return cls(prices)

    def get(self, model: str) -> ModelPrice | None:
        """The price of ``model`` (longest matching prefix), or None when unknown."""
        for key in self._keys:
            if model.startswith(key):
                return self._prices[key]
        return None

    def require(self, model: str) -> ModelPrice:
        """Like :meth:`get`, but a missing price is a ConfigError saying how to add one."""
        price = self.get(model)
        if price is None:
            raise ConfigError(
                f"no price for judge model {model!r}: a budget needs one; add it to a price file "
                f"(`{model}: {{input: USD_PER_MTOK, output: USD_PER_MTOK}}`) given with --prices"
            )
        return price


def _price(where: Path, model: str, entry: Any) -> ModelPrice:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: {model}: expected a mapping with input and output prices")
    unknown = sorted(set(entry) - set(_PRICE_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: {model}: unknown field {unknown[0]!r}; expected {', '.join(_PRICE_FIELDS)}")
    values: dict[str, float] = {}
    for name in _PRICE_FIELDS:
        value = entry.get(name)
        if value is None:
            if name in ("input", "output"):
                raise ConfigError(f"{where}: {model}.{name}: required (USD per million tokens)")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or not math.isfinite(value):
            raise ConfigError(f"{where}: {model}.{name}: must be a number ≥ 0, not {value!r}")
        values[name] = float(value)
    return ModelPrice(**values)


def estimate_input_tokens(request: Mapping[str, Any]) -> int:
    """A generous upper estimate of a request's input tokens, from its JSON size."""
    size = len(json.dumps(request, ensure_ascii=False, default=str).encode("utf-8"))
    return math.ceil(size / CHARS_PER_TOKEN_ESTIMATE) + 50


class Budget:
    """A run's spending cap, shared by its concurrent judge calls. Thread-safe.

    ``limit_usd=None`` means no cap (costs are still added up).
    """

    def __init__(self, limit_usd: float | None, spent_usd: float = 0.0) -> None:
        self.limit_usd = limit_usd
        self._spent = spent_usd
        self._reserved = 0.0
        self._lock = threading.Lock()

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent

    def reserve(self, estimate_usd: float) -> bool:
        """Set ``estimate_usd`` aside for one call; False (and nothing reserved) if it would not fit."""
        with self._lock:
            if self.limit_usd is not None and self._spent + self._reserved + estimate_usd > self.limit_usd:
                return False
            self._reserved += estimate_usd
            return True

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        """Replace a reservation by what the call really cost (0 when it was not made)."""
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved_usd)
            self._spent += actual_usd
