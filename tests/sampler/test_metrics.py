"""The sampler's own metrics through the real OpenTelemetry metrics SDK."""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import sampler


def _points(reader: InMemoryMetricReader) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    out.setdefault(metric.name, {})[tuple(sorted(point.attributes.items()))] = point.value
    return out


def test_counts_are_exported_as_otel_metrics(memory) -> None:
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    sampler.init(app="t", rate=1.0, transport=memory)
    sampler.record_call(model="m", input_messages="one")
    sampler.record_call(model="m", input_messages="two")
    assert sampler.flush(5)
    points = _points(reader)
    assert points["tastevin.sampler.sampled"][()] == 2
    assert points["tastevin.sampler.sent"][()] == 2
    assert points["tastevin.sampler.queue.depth"][()] == 0
    sampler.init(app="t", rate=1.0)  # no broker: sampled calls are counted as dropped
    sampler.record_call(model="m", input_messages="three")
    points = _points(reader)
    assert points["tastevin.sampler.dropped"][(("reason", "no_broker"),)] == 1
