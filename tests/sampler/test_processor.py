"""SamplingSpanProcessor with the real OTel SDK and real instrumentations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
from opentelemetry.sdk.trace import TracerProvider

import sampler
from tests.fake_anthropic import FakeMessagesAPI

MESSAGES = [{"role": "user", "content": "Where is my parcel? It was due on Monday."}]


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(sampler.SamplingSpanProcessor())
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture
def openllmetry(provider: TracerProvider) -> Iterator[None]:
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield
    instrumentor.uninstrument()


def _sdk_otel(provider: TracerProvider) -> dict:
    return {"tracer_provider": provider, "traces": {"content_mode": "content"}}


def test_sdk_spans_become_records(provider: TracerProvider, memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    client = FakeMessagesAPI().client(open_telemetry=_sdk_otel(provider))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("request", attributes={"tastevin.category": "shipping"}):
        client.messages.create(model="claude-a", max_tokens=50, system="Be brief.", messages=MESSAGES)
    assert sampler.flush(5)
    (record,) = memory.records()
    assert record["request_model"] == "claude-a" and record["provider"] == "anthropic"
    assert record["input_messages"][0]["parts"][0]["content"] == MESSAGES[0]["content"]
    assert record["output_messages"][0]["parts"][0]["content"] == FakeMessagesAPI.reply_text
    assert record["usage"]["output_tokens"] == 17


def test_nested_instrumentations_record_one_call_once(provider: TracerProvider, openllmetry: None, memory) -> None:
    """OpenLLMetry's span wraps the SDK's own span for the same call: one record."""
    sampler.init(app="t", rate=1.0, transport=memory)
    client = FakeMessagesAPI().client(open_telemetry=_sdk_otel(provider))
    for _ in range(3):
        client.messages.create(model="claude-a", max_tokens=50, messages=MESSAGES)
    assert sampler.flush(5)
    records = memory.records()
    assert len(records) == 3
    assert all(r["output_messages"][0]["parts"][0]["content"] == FakeMessagesAPI.reply_text for r in records)


def test_wrapper_and_processor_record_one_call_once(provider: TracerProvider, openllmetry: None, memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    client = sampler.instrument(FakeMessagesAPI().client(open_telemetry=_sdk_otel(provider)))
    client.messages.create(model="claude-a", max_tokens=50, messages=MESSAGES)
    for _ in client.messages.create(model="claude-b", max_tokens=50, messages=MESSAGES, stream=True):
        pass
    assert sampler.flush(5)
    records = memory.records()
    assert sorted(r["request_model"] for r in records) == ["claude-a", "claude-b"]
    assert sampler.stats()["sampled"] == 2


def test_processor_samples_by_the_span_trace_id_and_keeps_errors(provider: TracerProvider, openllmetry: None, memory) -> None:
    import anthropic

    sampler.init(app="t", rate=0.0, transport=memory)
    client = FakeMessagesAPI(fail_status=500, fail_times=1).client(open_telemetry=False)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="claude-a", max_tokens=50, messages=MESSAGES)
    client.messages.create(model="claude-a", max_tokens=50, messages=MESSAGES)  # rate 0: skipped
    assert sampler.flush(5)
    (record,) = memory.records()
    assert record["sampling"] == {"rate": 1.0, "rule": "error"}
    assert record["error"] is not None


def test_non_genai_spans_are_ignored(provider: TracerProvider, memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    tracer = provider.get_tracer("app")
    for i in range(100):
        with tracer.start_as_current_span("GET /orders", attributes={"http.method": "GET", "http.route": "/orders"}):
            pass
    assert sampler.flush(5)
    assert memory.messages == [] and sampler.stats()["sampled"] == 0
