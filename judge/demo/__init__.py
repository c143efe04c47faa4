"""The simulated production app behind ``tastevin demo``: a support bot and its model.

Two parts, both real network peers of the real anthropic SDK:

* :class:`SimulatedModel` — a local Messages API server (built on
  :class:`judge.testing.FakeAnthropicServer`) that writes support replies, with
  realistic token counts, lognormal latency, occasional errors and hangs.
* :class:`SupportTraffic` — the support app of *Larkspur Outfitters*: paced, concurrent,
  seeded traffic in the categories of the example rubrics (``billing``, ``refund``,
  ``shipping``, ``account``, ``password-reset``, ``classify-intent``), made through
  ``sampler.instrument(anthropic.Anthropic(...))`` and tagged with ``sampler.tag``.

Typical use::

    sampler.init(app=APP_NAME, bootstrap_servers=broker, rate=1.0)
    with SimulatedModel() as model:
        traffic = SupportTraffic(model.url, TrafficSettings(duration_s=60, regression_after_s=30))
        print(traffic.run())

The regression (``regression_after_s``, ``regression_after_calls`` or
``SupportTraffic.inject_regression()``) makes the ``shipping`` category fail its rubric
and shifts the mix towards billing with longer conversations.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .customers import CATEGORIES, INTENTS, CategorySpec, PlannedCall, plan_call
    from .model import LatencyModel, ModelBehaviour, SimulatedModel, estimate_tokens
    from .traffic import (
        APP_NAME,
        CallOutcome,
        CategoryCounts,
        SupportTraffic,
        TrafficError,
        TrafficProgress,
        TrafficSettings,
    )

# Loaded on first use: `tastevin --help` must not import the anthropic SDK.
_LAZY = {
    **dict.fromkeys(("CATEGORIES", "INTENTS", "CategorySpec", "PlannedCall", "plan_call"), "customers"),
    **dict.fromkeys(("LatencyModel", "ModelBehaviour", "SimulatedModel", "estimate_tokens"), "model"),
    **dict.fromkeys(("APP_NAME", "CallOutcome", "CategoryCounts", "SupportTraffic", "TrafficError",
                     "TrafficProgress", "TrafficSettings"), "traffic"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


REGRESSED_CATEGORY = "shipping"
"""The category whose replies fail their rubric after the regression."""

__all__ = [
    "APP_NAME",
    "CATEGORIES",
    "INTENTS",
    "REGRESSED_CATEGORY",
    "CallOutcome",
    "CategoryCounts",
    "CategorySpec",
    "LatencyModel",
    "ModelBehaviour",
    "PlannedCall",
    "SimulatedModel",
    "SupportTraffic",
    "TrafficError",
    "TrafficProgress",
    "TrafficSettings",
    "estimate_tokens",
    "plan_call",
]
