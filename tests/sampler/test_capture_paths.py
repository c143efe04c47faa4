"""Every capture path (Anthropic wrapper, record_call, span processor) gives the same record shape
and the same caps."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import jsonschema
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

import sampler
from sampler.record import ERROR_MESSAGE_MAX_CHARS, FIELDS, TRUNCATION_MARK
from tests.fake_anthropic import FakeMessagesAPI

LONG = "the upstream said no, at length. " * 600  # ~20,000 characters


def _via_anthropic() -> None:
    client = sampler.instrument(FakeMessagesAPI(fail_status=500, fail_times=-1, fail_message=LONG).client())
    with pytest.raises(anthropic.InternalServerError):
        client.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


def _via_record_call() -> None:
    assert sampler.record_call(model="gpt-x", provider="openai", input_messages="hi", error=RuntimeError(LONG))


def _via_span_processor() -> None:
    provider = TracerProvider()
    provider.add_span_processor(sampler.SamplingSpanProcessor())
    with provider.get_tracer("app").start_as_current_span("chat gpt-x") as span:
        span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                             "gen_ai.request.model": "gpt-x", "error.type": "UpstreamError"})  # fmt: skip
        span.set_status(Status(StatusCode.ERROR, LONG))
    provider.shutdown()


@pytest.mark.parametrize(
    "capture",
    [_via_anthropic, _via_record_call, _via_span_processor],
    ids=["anthropic-wrapper", "record-call", "span-processor"],
)
def test_every_path_caps_error_text_the_same_and_writes_the_same_fields(
    capture: Callable[[], None], memory: sampler.MemoryTransport
) -> None:
    sampler.init(app="t", rate=1.0, transport=memory)
    capture()
    assert sampler.flush(5)
    (record,) = memory.records()
    assert list(record) == list(FIELDS)
    jsonschema.Draft202012Validator(sampler.json_schema()).validate(record)
    message = record["error"]["message"]
    assert len(message) == ERROR_MESSAGE_MAX_CHARS and message.endswith(TRUNCATION_MARK)
    assert "the upstream said no" in message
    assert sampler.stats()["dropped"] == {}
