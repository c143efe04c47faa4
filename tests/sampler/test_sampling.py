"""Sampling decisions, tags, record_call and the record's shape (MemoryTransport)."""

from __future__ import annotations

import asyncio
import threading

import jsonschema
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

import sampler
from sampler._core import _ratio_bound
from tests.fake_anthropic import FakeMessagesAPI

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.1, 0.5, 1.0], ids=lambda r: f"rate={r}")
def test_decision_matches_otel_trace_id_ratio_based(rate: float) -> None:
    otel = TraceIdRatioBased(rate)
    assert _ratio_bound(rate) == otel.bound
    s = sampler.init(app="t", rate=rate, transport=sampler.MemoryTransport())
    assert s is not None
    import random

    rng = random.Random(7)
    for _ in range(2000):
        trace_id = rng.getrandbits(128)
        ours = s.decide(trace_id, None) is not None
        theirs = otel.should_sample(None, trace_id, "x").decision.is_sampled()
        assert ours == theirs


def test_higher_rate_keeps_a_superset_and_categories_override() -> None:
    low = sampler.init(app="t", rate=0.05, transport=sampler.MemoryTransport())
    import random

    ids = [random.Random(1).getrandbits(128) for _ in range(1)] + [random.getrandbits(128) for _ in range(5000)]
    kept_low = {t for t in ids if low.decide(t, None)}
    high = sampler.init(app="t", rate=0.2, category_rates={"refunds": 1.0, "spam": 0.0}, transport=sampler.MemoryTransport())
    kept_high = {t for t in ids if high.decide(t, None)}
    assert kept_low <= kept_high and 150 < len(kept_low) < 350 and 850 < len(kept_high) < 1150
    assert all(high.decide(t, "refunds") == {"rate": 1.0, "rule": "category:refunds"} for t in ids[:100])
    assert not any(high.decide(t, "spam") for t in ids)
    assert high.decide(ids[0], "unknown-category") in (None, {"rate": 0.2, "rule": "trace_id_ratio"})


def test_decision_uses_the_current_span_trace_id(memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    client = sampler.instrument(FakeMessagesAPI().client())
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("handle-request") as span:
        client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert sampler.flush(5)
    (record,) = memory.records()
    assert record["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert record["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_tags_follow_threads_and_asyncio_tasks(memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    fake = FakeMessagesAPI()
    client = sampler.instrument(fake.client())
    aclient = sampler.instrument(fake.async_client())

    def in_thread(name: str) -> None:
        with sampler.tag(category=name, worker=name):
            client.messages.create(model=f"m-{name}", max_tokens=5, messages=MESSAGES)

    threads = [threading.Thread(target=in_thread, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def task(name: str) -> None:
        with sampler.tag(category=name):
            await asyncio.sleep(0)
            await aclient.messages.create(model=f"m-{name}", max_tokens=5, messages=MESSAGES)

    async def main() -> None:
        await asyncio.gather(*(task(f"a{i}") for i in range(4)))

    with sampler.tag(locale="fr"):
        asyncio.run(main())
        with sampler.tag(category="outer", tier="gold"), sampler.tag(tier="platinum"):
            client.messages.create(model="m-nested", max_tokens=5, messages=MESSAGES)
    client.messages.create(model="m-untagged", max_tokens=5, messages=MESSAGES)
    assert sampler.flush(5)
    by_model = {r["request_model"]: r for r in memory.records()}
    for i in range(4):
        assert by_model[f"m-t{i}"]["category"] == f"t{i}"
        assert by_model[f"m-t{i}"]["attributes"] == {"worker": f"t{i}"}
        assert by_model[f"m-a{i}"]["category"] == f"a{i}"
        assert by_model[f"m-a{i}"]["attributes"] == {"locale": "fr"}
    assert by_model["m-nested"]["category"] == "outer"
    assert by_model["m-nested"]["attributes"] == {"locale": "fr", "tier": "platinum"}
    assert by_model["m-untagged"]["category"] is None and by_model["m-untagged"]["attributes"] == {}


def test_caller_mutating_its_message_list_after_the_call_does_not_change_the_record(memory) -> None:
    gate = threading.Event()

    class Gated(sampler.MemoryTransport):
        def send(self, key, value, on_done):  # type: ignore[no-untyped-def]
            gate.wait(5)
            return super().send(key, value, on_done)

    transport = Gated()
    sampler.init(app="t", rate=1.0, transport=transport)
    client = sampler.instrument(FakeMessagesAPI().client())
    history = [{"role": "user", "content": "first"}]
    client.messages.create(model="m", max_tokens=5, messages=history)
    history.append({"role": "assistant", "content": "later turn"})
    gate.set()
    assert sampler.flush(5)
    (record,) = transport.records()
    assert [m["parts"][0]["content"] for m in record["input_messages"]] == ["first"]


def test_record_call_manual_path(memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    assert sampler.record_call(
        provider="openai",
        model="gpt-x",
        system="Answer briefly.",
        input_messages=[{"role": "user", "content": "Call me on +44 20 7946 0958"}],
        output_messages="Will do.",
        finish_reason="stop",
        usage={"prompt_tokens": 11, "completion_tokens": 3},
        latency_ms=120.5,
        params={"temperature": 0.2},
        category="callbacks",
        attributes={"prompt_version": "v2"},
    )
    assert sampler.record_call(model="gpt-x", input_messages="boom?", error=TimeoutError("upstream timed out"))
    assert sampler.flush(5)
    first, second = memory.records()
    validator = jsonschema.Draft202012Validator(sampler.json_schema())
    validator.validate(first)
    validator.validate(second)
    assert first["provider"] == "openai" and first["request_model"] == "gpt-x"
    assert first["system_instructions"] == [{"type": "text", "content": "Answer briefly."}]
    assert first["input_messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "Call me on [REDACTED:phone]"}]}
    ]
    assert first["output_messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Will do."}], "finish_reason": "stop"}
    ]
    assert first["usage"] == {
        "input_tokens": 11,
        "output_tokens": 3,
        "cache_read_input_tokens": None,
        "cache_write_input_tokens": None,
    }
    assert first["latency_ms"] == 120.5 and first["params"] == {"temperature": 0.2}
    assert first["category"] == "callbacks" and first["attributes"] == {"prompt_version": "v2"}
    assert first["redactions"] == {"phone": 1}
    assert second["error"] == {"type": "TimeoutError", "message": "upstream timed out"}


def test_record_call_never_raises(memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    assert sampler.record_call(model="m", input_messages="x", trace_id="not-hex") is False
    assert sampler.stats()["dropped"] == {"internal_error": 1}


def test_without_bootstrap_servers_it_warns_once_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        sampler.init(app="t", rate=1.0)
        client = sampler.instrument(FakeMessagesAPI().client())
        for _ in range(3):
            client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert caplog.text.count("no Kafka bootstrap servers") == 1
    assert sampler.stats()["dropped"] == {"no_broker": 3}


def test_instrument_rejects_non_clients_and_is_idempotent(memory) -> None:
    with pytest.raises(TypeError, match="anthropic client"):
        sampler.instrument(object())
    sampler.init(app="t", rate=1.0, transport=memory)
    client = FakeMessagesAPI().client()
    assert sampler.instrument(sampler.instrument(client)) is client
    client.with_options(timeout=5).messages.create(model="m", max_tokens=5, messages=MESSAGES)
    client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert sampler.flush(5)
    assert len(memory.records()) == 2


def test_response_is_the_sdks_own_object(memory) -> None:
    import anthropic

    sampler.init(app="t", rate=1.0, transport=memory)
    client = sampler.instrument(FakeMessagesAPI().client())
    message = client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert type(message) is anthropic.types.Message
    stream = client.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)
    assert type(stream) is anthropic.Stream
    with client.messages.stream(model="m", max_tokens=5, messages=MESSAGES) as managed:
        assert type(managed).__name__ == "MessageStream"
        assert "".join(managed.text_stream) == FakeMessagesAPI.reply_text
    stream.close()


def test_redaction_failure_drops_the_record(memory) -> None:
    s = sampler.init(app="t", rate=1.0, transport=memory)
    assert s is not None

    class ExplodingRedactor:
        def redact_record(self, record):  # type: ignore[no-untyped-def]
            raise RuntimeError("regex engine on fire")

    s.redactor = ExplodingRedactor()  # type: ignore[assignment]
    client = sampler.instrument(FakeMessagesAPI().client())
    client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "ann@example.org"}])
    assert sampler.flush(5)
    assert memory.messages == []
    assert sampler.stats()["dropped"] == {"redaction_failed": 1}


def test_sampler_disabled_passes_calls_through() -> None:
    assert sampler.init(app="t", enabled=False) is None
    client = sampler.instrument(FakeMessagesAPI().client())
    client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert sampler.stats()["seen"] == 0


def test_oversized_call_is_truncated_not_dropped(memory) -> None:
    sampler.init(app="t", rate=1.0, transport=memory, max_record_bytes=16_384)
    long_text = "The parcel never came. " * 20_000 + "Contact: zoe@example.net"
    assert sampler.record_call(model="m", input_messages=long_text, output_messages="Sorry to hear that.")
    assert sampler.flush(5)
    ((_, value, _),) = memory.messages
    assert len(value) <= 16_384
    (record,) = memory.records()
    jsonschema.Draft202012Validator(sampler.json_schema()).validate(record)
    assert record["truncated"] is True
    assert record["redactions"] == {"email": 1}  # redacted before it was cut
    assert record["output_messages"][0]["parts"][0]["content"] == "Sorry to hear that."
    assert sampler.stats()["dropped"] == {}
