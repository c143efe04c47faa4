"""Alerts: score drops, drift and volume, recorded in the store and sent to a webhook.

* ``rules`` — the evaluations (:func:`~reviewer.alerts.rules.evaluate`), pure over the store's aggregates;
* ``state`` — firing, cooldown and resolution in the ``alert`` table, webhook delivery with retries;
* ``command`` — ``tastevin alert``.
"""

from __future__ import annotations

from .rules import AlertRules, Check, evaluate
from .state import Applied, apply_checks, deliver_pending, payload

__all__ = ["AlertRules", "Applied", "Check", "apply_checks", "deliver_pending", "evaluate", "payload"]
