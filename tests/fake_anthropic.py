"""An in-process Messages API for the real anthropic SDK (via httpx2.MockTransport).

The SDK runs unchanged — request building, retries, response parsing, SSE decoding —
only the socket is replaced. ``FakeMessagesAPI`` answers ``POST /v1/messages``
with a canned reply (plain JSON or an SSE stream when ``"stream": true``), can be
told to fail with a status code, and records every request body it saw.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2


@dataclass
class FakeMessagesAPI:
    reply_text: str = "Sorry about the double charge. I have refunded it; expect it in 3-5 days."
    model: str = "claude-sonnet-4-5-20250929"
    input_tokens: int = 42
    output_tokens: int = 17
    cache_read_input_tokens: int = 5
    cache_creation_input_tokens: int = 3
    stop_reason: str = "end_turn"
    fail_status: int | None = None
    fail_times: int = 0
    fail_mid_stream: bool = False
    fail_message: str = "injected failure"
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: int = 0

    # -- replies ---------------------------------------------------------------
    def message_json(self) -> dict[str, Any]:
        with self._lock:
            self._counter += 1
            n = self._counter
        return {
            "id": f"msg_{n:024d}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [{"type": "text", "text": self.reply_text}],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
            },
        }

    def sse_body(self) -> bytes:
        msg = self.message_json()
        text = msg["content"][0]["text"]
        start = dict(msg, content=[], stop_reason=None)
        start["usage"] = dict(msg["usage"], output_tokens=1)
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
        ]
        half = len(text) // 2
        for chunk in (text[:half], text[half:]):
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
                )
            )
        if self.fail_mid_stream:
            events.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": self.output_tokens},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)

    # -- transport ---------------------------------------------------------------
    def handler(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests.append(body)
            failing = self.fail_status is not None and self.fail_times != 0
            if failing and self.fail_times > 0:
                self.fail_times -= 1
        if failing:
            return httpx2.Response(
                self.fail_status or 500,
                json={"type": "error", "error": {"type": "api_error", "message": self.fail_message}},
            )
        if body.get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=self.sse_body())
        return httpx2.Response(200, json=self.message_json())

    def client(self, **kwargs: Any) -> anthropic.Anthropic:
        kwargs.setdefault("max_retries", 0)
        return anthropic.Anthropic(
            api_key="sk-ant-test", http_client=httpx2.Client(transport=httpx2.MockTransport(self.handler)), **kwargs
        )

    def async_client(self, **kwargs: Any) -> anthropic.AsyncAnthropic:
        kwargs.setdefault("max_retries", 0)

        async def ahandler(request: httpx2.Request) -> httpx2.Response:
            return self.handler(request)

        return anthropic.AsyncAnthropic(
            api_key="sk-ant-test",
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ahandler)),
            **kwargs,
        )
