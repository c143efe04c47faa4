"""The local Messages/Batches server is indistinguishable from the API for the real SDK."""

from __future__ import annotations

import time

import anthropic
import pytest

from judge.testing import FakeAnthropicServer, Reply


def _client(server: FakeAnthropicServer, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, **kwargs)  # type: ignore[arg-type]


def test_messages_plain_stream_and_tool() -> None:
    def responder(body: dict) -> Reply:
        if body.get("tool_choice"):
            return Reply(tool_name="verdict", tool_input={"pass": True})
        return Reply(text="Hello there", input_tokens=12, output_tokens=3)

    with FakeAnthropicServer(responder) as server:
        client = _client(server)
        message = client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text == "Hello there" and message.usage.input_tokens == 12
        with client.messages.stream(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
            assert s.get_final_message().content[0].text == "Hello there"
        forced = client.messages.create(
            model="claude-x",
            max_tokens=10,
            messages=[{"role": "user", "content": "judge"}],
            tools=[{"name": "verdict", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "verdict"},
        )
        assert forced.content[0].type == "tool_use" and forced.content[0].input == {"pass": True}
        assert len(server.requests) == 3


def test_529_then_success_is_retried_by_the_sdk() -> None:
    with FakeAnthropicServer() as server:
        server.fail_next(529, times=2)
        client = _client(server, max_retries=3)
        message = client.with_options(max_retries=3).messages.create(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].text == "OK" and len(server.requests) == 3


def test_a_slow_reply_times_out() -> None:
    with FakeAnthropicServer(lambda body: Reply(delay_s=2.0)) as server:
        client = _client(server, max_retries=0, timeout=0.5)
        with pytest.raises(anthropic.APITimeoutError):
            client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_batches_create_retrieve_and_results() -> None:
    with FakeAnthropicServer(lambda body: Reply(text=body["messages"][0]["content"]), batch_processing_s=0.3) as server:
        client = _client(server)
        requests = [
            {"custom_id": f"r{i}", "params": {"model": "claude-x", "max_tokens": 5,
                                             "messages": [{"role": "user", "content": f"item {i}"}]}}
            for i in range(3)
        ]
        batch = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert batch.processing_status == "in_progress"
        time.sleep(0.4)
        batch = client.messages.batches.retrieve(batch.id)
        assert batch.processing_status == "ended" and batch.request_counts.succeeded == 3
        results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}
        assert {k: v.message.content[0].text for k, v in results.items()} == {f"r{i}": f"item {i}" for i in range(3)}
