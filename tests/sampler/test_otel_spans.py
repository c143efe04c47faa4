"""``sampler._otel_spans`` against the spans real producers emit.

Sections 1-3 drive the real anthropic SDK over ``FakeMessagesAPI`` with, in turn, the SDK's own
tracing, OpenLLMetry and OpenInference, and parse the spans those export to an in-memory
exporter. Section 4 builds spans by hand only for what the installed versions no longer emit
(older OpenLLMetry attributes, GenAI span events) and for failure and odd-value shapes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from sampler._otel_spans import is_genai_span, span_to_call
from tests.fake_anthropic import FakeMessagesAPI

REPLY = FakeMessagesAPI().reply_text
REQUEST_MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = FakeMessagesAPI().model
REQUEST: dict[str, Any] = {
    "model": REQUEST_MODEL,
    "max_tokens": 256,
    "stop_sequences": ["END"],
    "system": "You are a support agent.",
    "messages": [{"role": "user", "content": "I was charged twice."}],
    # anthropic 2.x has no temperature parameter; extra_body still sends one.
    "extra_body": {"temperature": 0.2},
}
SYSTEM = [{"type": "text", "content": "You are a support agent."}]
INPUT = [{"role": "user", "parts": [{"type": "text", "content": "I was charged twice."}]}]
OUTPUT = [{"role": "assistant", "parts": [{"type": "text", "content": REPLY}], "finish_reason": "stop"}]
# The fake reports 42 uncached input tokens; every producer writes the inclusive 50.
USAGE = {"input_tokens": 42, "output_tokens": 17, "cache_read_input_tokens": 5, "cache_write_input_tokens": 3}
NO_USAGE = dict.fromkeys(USAGE)
INJECTED_500 = "Error code: 500 - {'type': 'error', 'error': {'type': 'api_error', 'message': 'injected failure'}}"
VOLATILE = ("trace_id", "span_id", "ts", "latency_ms", "ttft_ms")

T0 = 1_795_000_000_123_456_789  # 2026-11-18T11:06:40.123456789Z


_PATCHED_BY_INSTRUMENTORS = [
    (cls, name, cls.__dict__[name])
    for cls in (
        anthropic.resources.messages.Messages,
        anthropic.resources.messages.AsyncMessages,
        anthropic.resources.beta.messages.Messages,
        anthropic.resources.beta.messages.AsyncMessages,
    )
    for name in ("create", "stream")
]


@pytest.fixture(autouse=True)
def _instrumentors_leave_no_patch() -> Iterator[None]:
    """Instrumentors patch the SDK's classes process-wide; each test must undo what it did."""
    yield
    leaked = [
        f"{cls.__qualname__}.{name}"
        for cls, name, original in _PATCHED_BY_INSTRUMENTORS
        if cls.__dict__[name] is not original
    ]
    assert not leaked, f"still instrumented after the test: {leaked}"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


# -- ways to call the Messages API -------------------------------------------------------------------


@dataclass(frozen=True)
class Way:
    run: Callable[[FakeMessagesAPI, Any], None]
    streams: bool
    raw_stream: bool = False  # create(stream=True) read without a stream helper


def _create(fake: FakeMessagesAPI, otel: Any) -> None:
    fake.client(open_telemetry=otel).messages.create(**REQUEST)


def _create_stream(fake: FakeMessagesAPI, otel: Any) -> None:
    for _ in fake.client(open_telemetry=otel).messages.create(stream=True, **REQUEST):
        pass


def _helper_stream(fake: FakeMessagesAPI, otel: Any) -> None:
    with fake.client(open_telemetry=otel).messages.stream(**REQUEST) as stream:
        stream.get_final_message()


def _async_create(fake: FakeMessagesAPI, otel: Any) -> None:
    async def go() -> None:
        await fake.async_client(open_telemetry=otel).messages.create(**REQUEST)

    asyncio.run(go())


def _async_helper_stream(fake: FakeMessagesAPI, otel: Any) -> None:
    async def go() -> None:
        async with fake.async_client(open_telemetry=otel).messages.stream(**REQUEST) as stream:
            await stream.get_final_message()

    asyncio.run(go())


WAYS = [
    pytest.param(Way(_create, streams=False), id="create"),
    pytest.param(Way(_create_stream, streams=True, raw_stream=True), id="create-stream"),
    pytest.param(Way(_helper_stream, streams=True), id="messages.stream"),
    pytest.param(Way(_async_create, streams=False), id="async-create"),
    pytest.param(Way(_async_helper_stream, streams=True), id="async-messages.stream"),
]


def _one_call(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, dict[str, Any], float | None]:
    """The only finished span, its record fields with the volatile ones checked and removed, and ttft_ms."""
    (span,) = exporter.get_finished_spans()
    record = span_to_call(span)
    assert record is not None
    assert is_genai_span(span)
    assert record.pop("trace_id") == format(span.context.trace_id, "032x")
    assert record.pop("span_id") == format(span.context.span_id, "016x")
    assert span.start_time is not None and span.end_time is not None
    ts = datetime.strptime(record.pop("ts"), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert round(ts.timestamp() * 1_000_000) == span.start_time // 1000
    latency_ms = record.pop("latency_ms")
    assert latency_ms == (span.end_time - span.start_time) / 1e6
    assert latency_ms > 0
    ttft_ms = record.pop("ttft_ms")
    assert ttft_ms is None or 0 < ttft_ms <= latency_ms
    return span, record, ttft_ms


def _expected(**changes: Any) -> dict[str, Any]:
    record = {
        "provider": "anthropic",
        "operation": "chat",
        "request_model": REQUEST_MODEL,
        "response_model": RESPONSE_MODEL,
        "params": {"max_tokens": 256, "stop_sequences": ["END"]},
        "system_instructions": SYSTEM,
        "input_messages": INPUT,
        "output_messages": OUTPUT,
        "finish_reason": "stop",
        "usage": USAGE,
        "error": None,
        "category": None,
        "attributes": {},
    }
    return {**record, **changes}


# == 1. the anthropic SDK's own spans ================================================================


def _sdk_otel(provider: TracerProvider, content: bool = True) -> dict[str, Any]:
    return {"tracer_provider": provider, "traces": {"content_mode": "content" if content else "metadata_only"}}


@pytest.mark.parametrize("way", WAYS)
def test_sdk_span_in_content_mode(way: Way, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    way.run(FakeMessagesAPI(), _sdk_otel(provider))
    span, record, ttft_ms = _one_call(exporter)
    assert span.name == "anthropic.messages.create"
    assert (ttft_ms is not None) == way.streams  # gen_ai.response.time_to_first_chunk
    # The SDK records no output content for a stream read without its helper.
    assert record == _expected(output_messages=[] if way.raw_stream else OUTPUT)


def test_sdk_span_in_default_metadata_only_mode(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    _create(FakeMessagesAPI(), {"tracer_provider": provider})
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert record == _expected(
        params={"max_tokens": 256},  # stop sequences count as content
        system_instructions=None,
        input_messages=[],
        output_messages=[],
    )


def test_sdk_span_of_failed_call(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(anthropic.InternalServerError):
        _create(FakeMessagesAPI(fail_status=500, fail_times=-1), _sdk_otel(provider))
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    # The SDK sets error.type from the API's error envelope, and no description or exception event.
    assert record == _expected(
        response_model=None,
        output_messages=[],
        finish_reason=None,
        usage=NO_USAGE,
        error={"type": "api_error", "message": ""},
    )


def test_sdk_span_of_stream_failing_midway(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    with pytest.raises(anthropic.APIStatusError):
        _create_stream(FakeMessagesAPI(fail_mid_stream=True), _sdk_otel(provider))
    (span,) = exporter.get_finished_spans()
    record = span_to_call(span)
    assert record is not None
    assert record["error"] == {"type": "overloaded_error", "message": ""}
    assert record["input_messages"] == INPUT


def test_sdk_spans_of_other_api_calls_are_not_calls(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    client = FakeMessagesAPI().client(open_telemetry=_sdk_otel(provider))
    client.messages.count_tokens(model=REQUEST_MODEL, messages=REQUEST["messages"])
    (span,) = exporter.get_finished_spans()
    assert span.name == "anthropic.messages.count_tokens"
    assert is_genai_span(span)  # every SDK span carries gen_ai.provider.name
    assert span_to_call(span) is None


# == 2. OpenLLMetry ==================================================================================


@pytest.fixture
def openllmetry(provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

    monkeypatch.delenv("TRACELOOP_TRACE_CONTENT", raising=False)
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield
    instrumentor.uninstrument()


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.usefixtures("openllmetry")
def test_openllmetry_span(way: Way, exporter: InMemorySpanExporter) -> None:
    way.run(FakeMessagesAPI(), False)
    span, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert span.name == "anthropic.chat"
    # OpenLLMetry adds message_start's placeholder output count (1) to message_delta's
    # cumulative 17 on streams: an upstream bug, passed through as written.
    usage = {**USAGE, "output_tokens": 18} if way.streams else USAGE
    assert record == _expected(params={"max_tokens": 256}, usage=usage)


@pytest.mark.usefixtures("openllmetry")
def test_openllmetry_span_without_content(exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELOOP_TRACE_CONTENT", "false")
    _create(FakeMessagesAPI(), False)
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert record == _expected(
        params={"max_tokens": 256}, system_instructions=None, input_messages=[], output_messages=[]
    )


@pytest.mark.usefixtures("openllmetry")
def test_openllmetry_span_of_failed_call(exporter: InMemorySpanExporter) -> None:
    with pytest.raises(anthropic.InternalServerError):
        _create(FakeMessagesAPI(fail_status=500, fail_times=-1), False)
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert record == _expected(
        params={"max_tokens": 256},
        response_model=None,
        output_messages=[],
        finish_reason=None,
        usage=NO_USAGE,
        error={"type": "InternalServerError", "message": INJECTED_500},
    )


@pytest.mark.usefixtures("openllmetry")
def test_sdk_and_openllmetry_both_describe_one_call(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """Both producers on at once: two call records for one call, in two unrelated traces.

    OpenLLMetry starts its span without making it current, so the SDK's span is a root of
    its own; sampling by trace id can keep either, both or neither.
    """
    _create(FakeMessagesAPI(), _sdk_otel(provider))
    sdk_span, openllmetry_span = exporter.get_finished_spans()
    assert (sdk_span.name, openllmetry_span.name) == ("anthropic.messages.create", "anthropic.chat")
    assert sdk_span.parent is None and openllmetry_span.parent is None
    assert sdk_span.context.trace_id != openllmetry_span.context.trace_id
    assert span_to_call(sdk_span) is not None
    assert span_to_call(openllmetry_span) is not None


# == 3. OpenInference ================================================================================


@pytest.fixture
def openinference(provider: TracerProvider) -> Iterator[Callable[..., None]]:
    from openinference.instrumentation.anthropic import AnthropicInstrumentor

    instrumentor = AnthropicInstrumentor()

    def instrument(**kwargs: Any) -> None:
        instrumentor.instrument(tracer_provider=provider, **kwargs)

    yield instrument
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


OI_PARAMS = {"max_tokens": 256, "stop_sequences": ["END"], "temperature": 0.2}  # from llm.invocation_parameters


@pytest.mark.parametrize("way", WAYS)
def test_openinference_span(way: Way, openinference: Callable[..., None], exporter: InMemorySpanExporter) -> None:
    openinference()
    way.run(FakeMessagesAPI(), False)
    span, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert span.name == ("messages.create" if way.run in (_create, _create_stream, _async_create) else "messages.stream")
    assert record == _expected(params=OI_PARAMS)


def test_openinference_span_with_hidden_inputs(openinference: Callable[..., None], exporter: InMemorySpanExporter) -> None:
    from openinference.instrumentation import TraceConfig

    openinference(config=TraceConfig(hide_inputs=True))
    _create(FakeMessagesAPI(), False)
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    # Hiding inputs keeps llm.invocation_parameters.
    assert record == _expected(params=OI_PARAMS, system_instructions=None, input_messages=[])


def test_openinference_span_with_genai_dual_write(
    openinference: Callable[..., None], exporter: InMemorySpanExporter
) -> None:
    from openinference.instrumentation import TraceConfig

    openinference(config=TraceConfig(enable_genai_semconv=True))
    _create(FakeMessagesAPI(), False)
    span, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    # OpenInference's conversion writes the response model as gen_ai.request.model.
    assert (span.attributes or {})["gen_ai.request.model"] == RESPONSE_MODEL
    assert record == _expected(params=OI_PARAMS)


def test_openinference_span_of_failed_call(openinference: Callable[..., None], exporter: InMemorySpanExporter) -> None:
    openinference()
    with pytest.raises(anthropic.InternalServerError):
        _create(FakeMessagesAPI(fail_status=500, fail_times=-1), False)
    _, record, ttft_ms = _one_call(exporter)
    assert ttft_ms is None
    assert record == _expected(
        params=OI_PARAMS,
        response_model=None,
        output_messages=[],
        finish_reason=None,
        usage=NO_USAGE,
        error={"type": "anthropic.InternalServerError", "message": INJECTED_500},
    )


def test_openinference_count_tokens_span_is_not_a_call(
    openinference: Callable[..., None], exporter: InMemorySpanExporter
) -> None:
    openinference()
    FakeMessagesAPI().client(open_telemetry=False).messages.count_tokens(
        model=REQUEST_MODEL, messages=REQUEST["messages"]
    )
    (span,) = exporter.get_finished_spans()
    assert (span.attributes or {})["openinference.span.kind"] == "LLM"
    assert span_to_call(span) is None


# -- one conversation with images and tools, through each producer -------------------------------------

IMAGE_BYTES = "iVBORw0KGgoAAAANSUhEUg=="
RICH_REQUEST: dict[str, Any] = {
    "model": REQUEST_MODEL,
    "max_tokens": 256,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Refund order 7?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/receipt.png"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE_BYTES}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order": 7}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "order 7: paid twice"}]},
    ],
}
TEXT_AND_TOOL_CALL = {
    "role": "assistant",
    "parts": [
        {"type": "text", "content": "Checking."},
        {"type": "tool_call", "id": "toolu_1", "name": "lookup_order", "arguments": {"order": 7}},
    ],
}
URL_IMAGE = {"type": "uri", "modality": "image", "uri": "https://example.com/receipt.png"}
INLINE_IMAGE = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": None}
SDK_IMAGE = {"type": "blob", "modality": "image", "mime_type": None, "content": None}  # the SDK keeps only the type
TOOL_RESULT = {"type": "tool_call_response", "id": "toolu_1", "response": "order 7: paid twice"}


@pytest.mark.parametrize(
    ("producer", "expected_inputs"),
    [
        pytest.param(
            "sdk",
            [
                {"role": "user", "parts": [{"type": "text", "content": "Refund order 7?"}, SDK_IMAGE, SDK_IMAGE]},
                TEXT_AND_TOOL_CALL,
                {
                    "role": "user",
                    "parts": [{**TOOL_RESULT, "response": [{"type": "text", "content": "order 7: paid twice"}]}],
                },
            ],
            id="sdk",
        ),
        pytest.param(
            "openllmetry",
            [
                {"role": "user", "parts": [{"type": "text", "content": "Refund order 7?"}, URL_IMAGE, INLINE_IMAGE]},
                TEXT_AND_TOOL_CALL,
                {"role": "user", "parts": [TOOL_RESULT]},
            ],
            id="openllmetry",
        ),
        pytest.param(
            "openinference",
            [
                {"role": "user", "parts": [{"type": "text", "content": "Refund order 7?"}, URL_IMAGE, INLINE_IMAGE]},
                TEXT_AND_TOOL_CALL,
                {"role": "tool", "parts": [TOOL_RESULT]},  # OpenInference gives tool results their own role
            ],
            id="openinference",
        ),
    ],
)
def test_conversation_with_images_and_tools(
    producer: str,
    expected_inputs: list[dict[str, Any]],
    request: pytest.FixtureRequest,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    otel: Any = False
    if producer == "sdk":
        otel = _sdk_otel(provider)
    elif producer == "openllmetry":
        request.getfixturevalue("openllmetry")
    else:
        request.getfixturevalue("openinference")()
    FakeMessagesAPI().client(open_telemetry=otel).messages.create(**RICH_REQUEST)
    (span,) = exporter.get_finished_spans()
    record = span_to_call(span)
    assert record is not None
    assert record["system_instructions"] == [{"type": "text", "content": "Be brief."}]
    assert record["input_messages"] == expected_inputs
    assert record["output_messages"] == OUTPUT
    # OpenLLMetry and OpenInference put the base64 image on the span; it never reaches a record.
    assert IMAGE_BYTES not in json.dumps(record)


# == 4. spans built by hand ===========================================================================


def _span(
    attributes: dict[str, Any] | None,
    *,
    name: str = "llm call",
    events: tuple[Event, ...] = (),
    status: Status | None = None,
    start_time: int | None = T0,
    end_time: int | None = T0 + 1_500_000_000,
) -> ReadableSpan:
    """A finished span as any producer could hand it over, attribute values unchecked."""
    context = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return ReadableSpan(
        name=name,
        context=context,
        attributes=attributes,
        events=events,
        kind=SpanKind.CLIENT,
        status=status or Status(StatusCode.UNSET),
        start_time=start_time,
        end_time=end_time,
    )


CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": REQUEST_MODEL}


def test_ids_timestamp_and_latency() -> None:
    record = span_to_call(_span(CHAT))
    assert record is not None
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert record["span_id"] == "00f067aa0ba902b7"
    assert record["ts"] == "2026-11-18T11:06:40.123456Z"
    assert record["latency_ms"] == 1500.0


@pytest.mark.parametrize(
    ("attributes", "events", "ttft_ms"),
    [
        pytest.param({"gen_ai.response.time_to_first_chunk": 0.25}, (), 250.0, id="anthropic-sdk-attribute"),
        pytest.param({"gen_ai.server.time_to_first_token": 0.25}, (), 250.0, id="semconv-metric-name"),
        pytest.param({}, (Event("First Token Stream Event", timestamp=T0 + 250_000_000),), 250.0, id="openinference"),
        pytest.param(
            {}, (Event("llm.content.completion.chunk", timestamp=T0 + 250_000_000),), 250.0, id="openllmetry-chunk"
        ),
        pytest.param({"gen_ai.response.time_to_first_chunk": "soon"}, (), None, id="wrong-type"),
        pytest.param({}, (Event("exception", timestamp=T0 + 250_000_000),), None, id="other-event"),
    ],
)
def test_time_to_first_token(attributes: dict[str, Any], events: tuple[Event, ...], ttft_ms: float | None) -> None:
    record = span_to_call(_span({**CHAT, **attributes}, events=events))
    assert record is not None
    assert record["ttft_ms"] == ttft_ms


def test_older_openllmetry_indexed_attributes() -> None:
    """What OpenLLMetry wrote before gen_ai.input.messages (read from its span_utils.py)."""
    attributes = {
        "gen_ai.system": "Anthropic",
        "llm.request.type": "chat",
        "gen_ai.request.model": REQUEST_MODEL,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "llm.is_streaming": False,
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "You are a support agent.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": json.dumps(RICH_REQUEST["messages"][0]["content"]),
        "gen_ai.prompt.2.role": "assistant",
        "gen_ai.prompt.2.content": "Checking.",
        "gen_ai.prompt.2.tool_calls.0.id": "toolu_1",
        "gen_ai.prompt.2.tool_calls.0.name": "lookup_order",
        "gen_ai.prompt.2.tool_calls.0.arguments": '{"order": 7}',
        "gen_ai.prompt.3.role": "user",
        "gen_ai.prompt.3.content": json.dumps(RICH_REQUEST["messages"][2]["content"]),
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.completion.0.finish_reason": "end_turn",
        "gen_ai.completion.0.role": "thinking",
        "gen_ai.completion.0.content": "Charged twice; refund one.",
        "gen_ai.completion.1.role": "assistant",
        "gen_ai.completion.1.content": REPLY,
        "gen_ai.usage.prompt_tokens": 50,
        "gen_ai.usage.completion_tokens": 17,
        "llm.usage.total_tokens": 67,
        "gen_ai.usage.cache_read_input_tokens": 5,
        "gen_ai.usage.cache_creation_input_tokens": 3,
    }
    record = span_to_call(_span(attributes, name="anthropic.chat"))
    assert record is not None
    for key in VOLATILE:
        record.pop(key)
    assert record == {
        "provider": "anthropic",
        "operation": "chat",
        "request_model": REQUEST_MODEL,
        "response_model": RESPONSE_MODEL,
        "params": {"max_tokens": 256, "temperature": 0.2, "top_p": 0.9},
        "system_instructions": SYSTEM,
        "input_messages": [
            {"role": "user", "parts": [{"type": "text", "content": "Refund order 7?"}, URL_IMAGE, INLINE_IMAGE]},
            TEXT_AND_TOOL_CALL,
            {"role": "user", "parts": [TOOL_RESULT]},
        ],
        "output_messages": [
            {
                "role": "assistant",
                "parts": [
                    {"type": "reasoning", "content": "Charged twice; refund one."},
                    {"type": "text", "content": REPLY},
                ],
                "finish_reason": "stop",
            }
        ],
        "finish_reason": "stop",
        "usage": USAGE,
        "error": None,
        "category": None,
        "attributes": {},
    }


@pytest.mark.parametrize(
    "events",
    [
        pytest.param(
            (
                Event("gen_ai.system.message", {"content": "You are a support agent."}),
                Event("gen_ai.user.message", {"content": "I was charged twice."}),
                Event("gen_ai.choice", {"index": 0, "finish_reason": "end_turn", "message": json.dumps({"content": REPLY})}),
            ),
            id="attributes",
        ),
        pytest.param(
            (
                Event("gen_ai.system.message", {"gen_ai.event.content": json.dumps({"content": "You are a support agent."})}),
                Event("gen_ai.user.message", {"gen_ai.event.content": json.dumps({"content": "I was charged twice."})}),
                Event(
                    "gen_ai.choice",
                    {"gen_ai.event.content": json.dumps({"finish_reason": "end_turn", "message": {"content": REPLY}})},
                ),
            ),
            id="event-content-json",
        ),
    ],
)
def test_messages_from_genai_span_events(events: tuple[Event, ...]) -> None:
    record = span_to_call(_span({**CHAT, "gen_ai.usage.input_tokens": 50}, events=events))
    assert record is not None
    assert (record["system_instructions"], record["input_messages"], record["output_messages"]) == (SYSTEM, INPUT, OUTPUT)
    assert record["finish_reason"] == "stop"


def test_system_role_messages_join_the_system_instructions() -> None:
    messages = [{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}, *INPUT]
    attributes = {**CHAT, "gen_ai.system_instructions": json.dumps(SYSTEM), "gen_ai.input.messages": json.dumps(messages)}
    record = span_to_call(_span(attributes))
    assert record is not None
    assert record["system_instructions"] == [*SYSTEM, {"type": "text", "content": "Be brief."}]
    assert record["input_messages"] == INPUT


def test_structured_attribute_values_are_read_like_json() -> None:
    attributes = {**CHAT, "gen_ai.system_instructions": SYSTEM, "gen_ai.input.messages": INPUT, "gen_ai.output.messages": OUTPUT}
    record = span_to_call(_span(attributes))
    assert record is not None
    assert (record["system_instructions"], record["input_messages"], record["output_messages"]) == (SYSTEM, INPUT, OUTPUT)


@pytest.mark.parametrize(
    ("status", "events", "attributes", "error"),
    [
        pytest.param(
            Status(StatusCode.ERROR),
            (Event("exception", {"exception.type": "TimeoutError", "exception.message": "read timed out"}),),
            {},
            {"type": "TimeoutError", "message": "read timed out"},
            id="exception-event",
        ),
        pytest.param(
            Status(StatusCode.ERROR, "boom"),
            (Event("exception", {"exception.type": "TimeoutError", "exception.message": "read timed out"}),),
            {"error.type": "timeout"},
            {"type": "timeout", "message": "boom"},
            id="error-type-and-description-win",
        ),
        pytest.param(Status(StatusCode.ERROR), (), {}, {"type": "_OTHER", "message": ""}, id="bare-error"),
        pytest.param(
            Status(StatusCode.OK),
            (Event("exception", {"exception.type": "TimeoutError"}),),
            {"error.type": "timeout"},
            None,
            id="recovered",
        ),
    ],
)
def test_error(status: Status, events: tuple[Event, ...], attributes: dict[str, Any], error: dict[str, Any] | None) -> None:
    record = span_to_call(_span({**CHAT, **attributes}, status=status, events=events))
    assert record is not None
    assert record["error"] == error


def test_category_comes_from_the_tastevin_attribute() -> None:
    record = span_to_call(_span({**CHAT, "tastevin.category": "billing"}))
    assert record is not None
    assert record["category"] == "billing"


HTTP_ATTRIBUTES = {
    "http.request.method": "GET",
    "url.full": "https://shop.example/orders/7",
    "url.path": "/orders/7",
    "url.scheme": "https",
    "server.address": "shop.example",
    "server.port": 443,
    "http.response.status_code": 200,
    "network.protocol.version": "1.1",
    "user_agent.original": "python-httpx/0.28",
    "http.route": "/orders/{id}",
}


@pytest.mark.parametrize(
    ("attributes", "genai"),
    [
        pytest.param(HTTP_ATTRIBUTES, False, id="http"),
        pytest.param({"db.system.name": "postgresql", "db.query.text": "SELECT 1"}, False, id="db"),
        pytest.param({}, False, id="no-attributes"),
        pytest.param(None, False, id="none-attributes"),
        pytest.param({"gen_ai.tool.name": "lookup_order"}, False, id="tool-name-only"),
        pytest.param({"openinference.span.kind": "CHAIN", "input.value": "{}"}, False, id="openinference-chain"),
        pytest.param({"openinference.span.kind": "TOOL", "tool.name": "lookup"}, False, id="openinference-tool"),
        pytest.param({"openinference.span.kind": "EMBEDDING"}, False, id="openinference-embedding"),
        pytest.param({"openinference.span.kind": 7}, False, id="openinference-kind-not-a-string"),
        pytest.param(
            {"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai"}, True, id="semconv-embeddings"
        ),
        pytest.param(
            {"gen_ai.operation.name": "execute_tool", "gen_ai.provider.name": "anthropic"}, True, id="sdk-tool-run"
        ),
        pytest.param(
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": REQUEST_MODEL}, True, id="sdk-tool-runner"
        ),
        pytest.param({"gen_ai.provider.name": "anthropic", "http.route": "/v1/skills"}, True, id="sdk-other-api-call"),
        pytest.param({"gen_ai.system": "openai", "llm.request.type": "embedding"}, True, id="old-openllmetry-embedding"),
        pytest.param({"gen_ai.operation.name": 5, "gen_ai.request.model": "m"}, True, id="operation-junk-no-evidence"),
    ],
)
def test_spans_that_are_not_llm_calls(attributes: dict[str, Any] | None, genai: bool) -> None:
    span = _span(attributes)
    assert is_genai_span(span) is genai
    assert span_to_call(span) is None


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param({"gen_ai.operation.name": "chat"}, id="operation"),
        pytest.param({"gen_ai.system": "anthropic", "gen_ai.usage.input_tokens": 1}, id="system"),
        pytest.param({"gen_ai.provider.name": "anthropic", "gen_ai.output.messages": "[]"}, id="provider"),
        pytest.param({"gen_ai.request.model": "m", "gen_ai.usage.output_tokens": 1}, id="request-model"),
        pytest.param({"openinference.span.kind": "LLM"}, id="openinference-llm"),
        pytest.param({"openinference.span.kind": "llm"}, id="openinference-llm-lowercase"),
    ],
)
def test_each_marker_makes_a_genai_span(attributes: dict[str, Any]) -> None:
    span = _span(attributes)
    assert is_genai_span(span)
    record = span_to_call(span)
    assert record is not None
    assert record["operation"] == "chat"


@pytest.mark.parametrize(
    ("attributes", "field", "expected"),
    [
        pytest.param({"gen_ai.input.messages": "{not json"}, "input_messages",
                     [{"role": "user", "parts": [{"type": "text", "content": "{not json"}]}], id="messages-not-json"),
        pytest.param({"gen_ai.input.messages": "[1, 2, null]"}, "input_messages", [], id="messages-not-objects"),
        pytest.param({"gen_ai.input.messages": "7"}, "input_messages", [], id="messages-a-number"),
        pytest.param({"gen_ai.input.messages": json.dumps([{"role": "user", "parts": 3}, *INPUT])},
                     "input_messages", INPUT, id="parts-not-a-list"),
        pytest.param(
            {"gen_ai.input.messages": json.dumps(
                [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 5}]}, *INPUT])},
            "input_messages", INPUT, id="block-content-a-number"),
        pytest.param({"gen_ai.input.messages": json.dumps([{"role": 5, "parts": ["hi", 3]}])}, "input_messages",
                     [{"role": "user", "parts": [{"type": "text", "content": "hi"}, {"type": "text", "content": "3"}]}],
                     id="role-and-parts-wrong-types"),
        pytest.param({"gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": ["x"], "content": "y"}]}])},
                     "input_messages",
                     [{"role": "user", "parts": [{"type": "unknown", "content": {"type": ["x"], "content": "y"}}]}],
                     id="part-type-a-list"),
        pytest.param({"gen_ai.system_instructions": json.dumps([{"type": ["x"]}, {"type": {"a": 1}, "text": "t"}])},
                     "system_instructions", [{"type": "unknown", "content": {"type": ["x"]}},
                                             {"type": "unknown", "content": {"type": {"a": 1}, "text": "t"}}],
                     id="system-part-type-not-a-string"),
        pytest.param({"gen_ai.input.messages": "[" * 100_000}, "input_messages",
                     [{"role": "user", "parts": [{"type": "text", "content": "[" * 100_000}]}], id="deeply-nested"),
        pytest.param({"gen_ai.input.messages": "[1, 2]"}, "system_instructions", None, id="no-system"),
        pytest.param({"gen_ai.output.messages": "Sure."}, "output_messages",
                     [{"role": "assistant", "parts": [{"type": "text", "content": "Sure."}], "finish_reason": None}],
                     id="output-plain-text"),
        pytest.param({"gen_ai.output.messages": json.dumps([{"parts": [], "finish_reason": 3}])}, "output_messages",
                     [{"role": "assistant", "parts": [], "finish_reason": None}], id="finish-reason-a-number"),
        pytest.param({"gen_ai.system_instructions": 42}, "system_instructions", None, id="system-a-number"),
        pytest.param({"gen_ai.system_instructions": "[1, 2]"}, "system_instructions", None, id="system-numbers"),
        pytest.param({"gen_ai.system_instructions": "Be brief."}, "system_instructions",
                     [{"type": "text", "content": "Be brief."}], id="system-plain-text"),
        pytest.param({"gen_ai.system_instructions": '{"type": "text", "content": "Be brief."}'}, "system_instructions",
                     [{"type": "text", "content": "Be brief."}], id="system-one-part"),
        pytest.param({"gen_ai.system_instructions": json.dumps([{"type": "uri", "modality": "image", "uri": "u"}])},
                     "system_instructions", [{"type": "uri", "modality": "image", "uri": "u"}], id="system-uri-part"),
        pytest.param({"gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "blob", "modality": "image", "content": IMAGE_BYTES}]}])},
            "input_messages", [{"role": "user", "parts": [{"type": "blob", "modality": "image", "content": None}]}],
            id="blob-bytes-dropped"),
        pytest.param({"gen_ai.usage.input_tokens": "lots", "gen_ai.usage.output_tokens": True,
                      "gen_ai.usage.cache_read.input_tokens": -5, "gen_ai.usage.cache_creation.input_tokens": 2.5},
                     "usage", NO_USAGE, id="usage-wrong-types"),
        pytest.param({"gen_ai.usage.input_tokens": "50", "gen_ai.usage.cache_read.input_tokens": 5.0,
                      "gen_ai.usage.output_tokens": 17},
                     "usage", {"input_tokens": 45, "output_tokens": 17, "cache_read_input_tokens": 5,
                               "cache_write_input_tokens": None}, id="usage-coercible"),
        pytest.param({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.cache_read.input_tokens": 5}, "usage",
                     {"input_tokens": 3, "output_tokens": None, "cache_read_input_tokens": 5,
                      "cache_write_input_tokens": None}, id="usage-not-inclusive"),
        pytest.param({"gen_ai.usage.input_tokens": "9" * 5000}, "usage", NO_USAGE, id="usage-huge-string"),
        pytest.param({"gen_ai.request.temperature": "hot", "gen_ai.request.max_tokens": 1.5,
                      "gen_ai.request.top_p": float("nan"), "gen_ai.request.stop_sequences": [1, 2],
                      "gen_ai.request.seed": True, "llm.invocation_parameters": "{bad"}, "params", {}, id="params-wrong"),
        pytest.param({"llm.invocation_parameters": '{"temperature": 0.5, "stop": "###", "max_completion_tokens": 99}'},
                     "params", {"temperature": 0.5, "stop_sequences": ["###"], "max_tokens": 99},
                     id="params-invocation-aliases"),
        pytest.param({"llm.invocation_parameters": "[1]"}, "params", {}, id="params-invocation-not-an-object"),
        pytest.param({"gen_ai.request.temperature": 0.1, "llm.invocation_parameters": '{"temperature": 0.9}'},
                     "params", {"temperature": 0.1}, id="params-semconv-first"),
        pytest.param({"gen_ai.response.finish_reasons": ()}, "finish_reason", None, id="finish-reasons-empty"),
        pytest.param({"gen_ai.response.finish_reasons": ["", "length"]}, "finish_reason", "length",
                     id="finish-reasons-first-non-empty"),
        pytest.param({"anthropic.message.stop_reason": 7, "llm.finish_reason": "max_tokens"}, "finish_reason",
                     "length", id="finish-reason-fallback"),
        pytest.param({"tastevin.category": ["a"]}, "category", None, id="category-a-list"),
        pytest.param({"tastevin.category": 7}, "category", "7", id="category-a-number"),
        pytest.param({"gen_ai.provider.name": ["x"], "gen_ai.system": "OpenAI"}, "provider", "openai",
                     id="provider-fallback"),
        pytest.param({"gen_ai.provider.name": None}, "provider", "unknown", id="provider-unknown"),
        pytest.param({"gen_ai.request.model": 5}, "request_model", "unknown", id="model-a-number"),
        pytest.param({"gen_ai.operation.name": 5, "gen_ai.usage.output_tokens": 17}, "operation", "chat",
                     id="operation-a-number-but-usage"),
        pytest.param(
            {"openinference.span.kind": "LLM", "llm.input_messages.x.message.role": "user",
             "llm.input_messages.0.message.role": 5, "llm.input_messages.0.message.content": ["a"],
             "llm.input_messages.1.message.contents.0.message_content.type": "image",
             "llm.input_messages.1.message.contents.0.message_content.image.image.url": 3,
             "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{bad"},
            "input_messages",
            [{"role": "user", "parts": []},
             {"role": "user", "parts": [{"type": "tool_call", "id": None, "name": None, "arguments": "{bad"}]}],
            id="openinference-flattened-wrong-types"),
        pytest.param(
            {"openinference.span.kind": "LLM", "llm.input_messages.0.message.role": "tool",
             "llm.input_messages.0.message.tool_call_id": "toolu_1",
             "llm.input_messages.0.message.content": json.dumps([{"type": "text", "text": "paid twice"}])},
            "input_messages",
            [{"role": "tool", "parts": [{"type": "tool_call_response", "id": "toolu_1",
                                         "response": [{"type": "text", "content": "paid twice"}]}]}],
            id="openinference-tool-result-blocks"),
    ],
)
def test_odd_attribute_values_degrade(attributes: dict[str, Any], field: str, expected: Any) -> None:
    record = span_to_call(_span({**CHAT, **attributes}))
    assert record is not None
    assert record[field] == expected


@pytest.mark.parametrize(
    ("start_time", "end_time", "ts", "latency_ms"),
    [
        pytest.param(T0, None, "2026-11-18T11:06:40.123456Z", 0.0, id="not-ended"),
        pytest.param(T0, T0 - 1, "2026-11-18T11:06:40.123456Z", 0.0, id="ended-before-start"),
    ],
)
def test_odd_timestamps_degrade(start_time: int | None, end_time: int | None, ts: str | None, latency_ms: float | None) -> None:
    record = span_to_call(_span(CHAT, start_time=start_time, end_time=end_time))
    assert record is not None
    assert (record["ts"], record["latency_ms"]) == (ts, latency_ms)


@pytest.mark.parametrize(
    ("start_time", "end_time"),
    [pytest.param(None, None, id="no-times"), pytest.param(10**30, 10**30 + 2_000_000, id="beyond-year-9999")],
)
def test_a_span_without_a_usable_start_is_no_record(start_time: int | None, end_time: int | None) -> None:
    # A record must carry an RFC 3339 ts; ingest would dead-letter one without.
    assert span_to_call(_span(CHAT, start_time=start_time, end_time=end_time)) is None


# -- never raises ---------------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["role", "parts", "content", "type", "text", "source", "finish_reason", "id", "input"]),
        children,
        max_size=4,
    ),
    max_leaves=12,
)
_attribute_values = (
    _json_values
    | _json_values.map(json.dumps)
    | st.lists(st.text(max_size=5), max_size=3).map(tuple)
    | st.sampled_from(["{", "[", "chat", "LLM", "CHAIN", "end_turn", "[]", "{}", "null"])
)
_ATTRIBUTE_NAMES = [
    *sorted(CHAT),
    "gen_ai.system", "openinference.span.kind", "llm.request.type", "gen_ai.input.messages",
    "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion",
    "gen_ai.usage.input_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.response.finish_reasons",
    "llm.invocation_parameters", "gen_ai.request.stop_sequences", "gen_ai.response.time_to_first_chunk",
    "tastevin.category", "error.type", "llm.input_messages.0.message.role", "llm.input_messages.0.message.content",
    "llm.input_messages.0.message.tool_call_id", "llm.output_messages.0.message.contents.0.message_content.type",
    "llm.output_messages.0.message.contents.0.message_content.text",
    "llm.output_messages.0.message.contents.0.message_content.image.image.url",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "gen_ai.prompt.0.role", "gen_ai.prompt.0.content", "gen_ai.completion.0.role", "gen_ai.completion.0.content",
    "gen_ai.completion.0.tool_calls.0.arguments",
]


@settings(max_examples=200, deadline=None, database=None)
@given(
    attributes=st.dictionaries(st.sampled_from(_ATTRIBUTE_NAMES), _attribute_values, max_size=10),
    event_attributes=st.dictionaries(st.sampled_from(["content", "message", "gen_ai.event.content", "role",
                                                      "finish_reason", "tool_calls"]), _attribute_values, max_size=3),
    event_name=st.sampled_from(["gen_ai.user.message", "gen_ai.choice", "exception", "First Token Stream Event"]),
    error=st.booleans(),
)
def test_span_to_call_never_raises(
    attributes: dict[str, Any], event_attributes: dict[str, Any], event_name: str, error: bool
) -> None:
    span = _span(
        attributes,
        events=(Event(event_name, event_attributes, timestamp=T0 + 1),),
        status=Status(StatusCode.ERROR) if error else None,
    )
    record = span_to_call(span)
    if record is not None:
        assert set(record) == {*VOLATILE, *_expected()}
        json.dumps(record)  # plain JSON all the way down
