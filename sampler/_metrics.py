"""The sampler's own metrics through the OpenTelemetry metrics API.

All instruments are observable: the SDK's reader pulls ``Sampler.stats()`` at export
time, so the host app's call path pays nothing for them. Without a MeterProvider the
API is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation



def register_metrics(stats: Callable[[], dict[str, Any]]) -> None:
    meter = metrics.get_meter("tastevin.sampler")

    def sampled(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(stats()["sampled"])

    def sent(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(stats()["sent"])

    def dropped(_: CallbackOptions) -> Iterable[Observation]:
        for reason, count in stats()["dropped"].items():
            yield Observation(count, {"reason": reason})

    def depth(_: CallbackOptions) -> Iterable[Observation]:
        yield Observation(stats()["queued"])

    meter.create_observable_counter(
        "tastevin.sampler.sampled", [sampled], unit="{record}", description="LLM calls chosen for sampling"
    )
    meter.create_observable_counter(
        "tastevin.sampler.sent", [sent], unit="{record}", description="records acknowledged by Kafka"
    )
    meter.create_observable_counter(
        "tastevin.sampler.dropped", [dropped], unit="{record}", description="records dropped, by reason"
    )
    meter.create_observable_up_down_counter(
        "tastevin.sampler.queue.depth", [depth], unit="{record}", description="records waiting for the worker"
    )
