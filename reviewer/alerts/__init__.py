"""Alerts: score drops, drift and volume, recorded in the store and sent to a webhook.

* ``rules`` — the evaluations (:func:`~reviewer.alerts.rules.evaluate`; pure over the windows' aggregates:
  :func:`~reviewer.alerts.rules.evaluate_aggregates`), one corrected family of tests per evaluation;
* ``state`` — firing, cooldown and resolution in the ``alert`` table, webhook delivery with retries;
* ``table`` — the report's columns (statistic, threshold, p-value, alpha) and the links to the app;
* ``command`` — ``tastevin alert``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rules import AlertRules, Check, WindowAggregates, evaluate, evaluate_aggregates
    from .state import Applied, apply_checks, deliver_pending, payload

# Loaded on first use: `tastevin --help` must not import scipy.
_LAZY = {"AlertRules": "rules", "Check": "rules", "evaluate": "rules", "evaluate_aggregates": "rules",
         "WindowAggregates": "rules", "Applied": "state",
         "apply_checks": "state", "deliver_pending": "state", "payload": "state"}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
