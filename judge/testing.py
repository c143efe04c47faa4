"""A local HTTP server that speaks the Anthropic Messages and Message Batches APIs.

For tests, benchmarks and the demo: point the real anthropic SDK at it with
``base_url=server.url`` and it cannot tell the difference. Standard library only.

Endpoints: ``POST /v1/messages`` (JSON, or SSE when ``"stream": true``),
``POST /v1/messages/batches``, ``GET /v1/messages/batches``,
``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results`` (JSONL) and
``POST /v1/messages/batches/{id}/cancel``.

What a reply says is decided by ``responder(request_body) -> Reply``; the default echoes
a short text. ``Reply`` can also carry an HTTP error status, a delay (to trigger client
timeouts) or a forced tool call. ``fail_next(status, times)`` injects errors (e.g. 529
twice, then success). Batches end after ``batch_processing_s``.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["FakeAnthropicServer", "Reply", "verdicts_responder"]

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    """One answer: text, or a tool call with ``tool_input``, or an error ``status``."""

    text: str = "OK"
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    status: int = 200
    error_type: str = "api_error"
    delay_s: float = 0.0
    input_tokens: int = 100
    output_tokens: int = 20
    stop_reason: str = "end_turn"
    headers: dict[str, str] = field(default_factory=dict)


def _default_responder(body: dict[str, Any]) -> Reply:
    return Reply(text="OK")


def verdicts_responder(
    decide: Callable[[str, str], str] | None = None, *, input_tokens: int = 900, output_tokens: int = 150
) -> Callable[[dict[str, Any]], Reply]:
    """A responder that answers the judge like a well-behaved model.

    ``decide(criterion_id, conversation_text) -> "pass" | "fail"`` (default: always
    pass) is asked once per criterion listed in the request's output schema — the
    structured-output format (answered as JSON text) or the forced tool (answered with a
    tool call). Other requests get a plain text reply.
    """

    def respond(body: dict[str, Any]) -> Reply:
        tools = body.get("tools") or []
        output_format = (body.get("output_config") or {}).get("format")
        if tools:
            schema = tools[0]["input_schema"]
        elif output_format:
            schema = output_format["schema"]
        else:
            return Reply(text="OK")
        ids = schema["properties"]["criteria"]["items"]["properties"]["id"]["enum"]
        text = json.dumps(body.get("messages"))
        items = []
        for ident in ids:
            verdict = decide(ident, text) if decide is not None else "pass"
            items.append({"id": ident, "explanation": f"The reply {'meets' if verdict == 'pass' else 'misses'} {ident}.",
                          "verdict": verdict})
        if tools:
            return Reply(tool_name=tools[0]["name"], tool_input={"criteria": items},
                         input_tokens=input_tokens, output_tokens=output_tokens)
        return Reply(text=json.dumps({"criteria": items}), input_tokens=input_tokens, output_tokens=output_tokens)

    return respond


class _RequestLog(list[dict[str, Any]]):
    """``FakeAnthropicServer.requests`` keeping only the newest ``limit`` bodies (None: all)."""

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.limit = limit

    def append(self, item: dict[str, Any]) -> None:
        super().append(item)
        if self.limit is not None and len(self) > 2 * self.limit:  # trim in chunks: amortised O(1)
            del self[: len(self) - self.limit]


class _HTTPServer(ThreadingHTTPServer):
    """Tracks its connections so ``stop`` can close them and join every handler thread."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self._connections_lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        # The handler writes headers and body separately: without TCP_NODELAY, Nagle's
        # algorithm meets the client's delayed ACK and every reply waits ~40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection down, so idle keep-alive handlers return."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed by the peer
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out (or stop()) closed the socket under a handler that was
        # still writing: expected here, not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.error("fake Anthropic server: a request handler failed", exc_info=True)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class FakeAnthropicServer:
    """Threaded server on 127.0.0.1 and ``port`` (0: a free one); a context manager.

    Thread-safe: ``requests`` lists the Messages request bodies received (including
    those made from batches; only the newest ``keep_requests`` when set, so a long run
    stays small), ``batches`` maps batch id → state. ``stop()`` closes open connections
    and joins every handler thread, so nothing outlives it.
    """

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] | None = None,
        *,
        latency_s: float = 0.0,
        batch_processing_s: float = 0.0,
        model: str = "claude-sonnet-5-5-20261015",
        port: int = 0,
        keep_requests: int | None = None,
    ) -> None:
        self.responder = responder or _default_responder
        self.latency_s = latency_s
        self.batch_processing_s = batch_processing_s
        self.model = model
        self.port = port
        self.requests: list[dict[str, Any]] = _RequestLog(keep_requests)
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_create_calls = 0
        self._lock = threading.Lock()
        self._failures: list[tuple[int, str]] = []
        self._ids = itertools.count(1)
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, status: int, times: int = 1, error_type: str = "overloaded_error") -> None:
        """The next ``times`` Messages requests fail with ``status``."""
        with self._lock:
            self._failures.extend([(status, error_type)] * times)

    def start(self) -> Self:
        """Bind and serve on a background thread; raises OSError if the port is taken."""
        server = _HTTPServer(("127.0.0.1", self.port), _make_handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving, close open connections, join the handler and server threads. Idempotent.

        Blocks while a request handler sleeps out a delay.
        """
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the handler threads (block_on_close)
        self._server = None
        if thread is not None:
            thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- messages ----------------------------------------------------------------------
    def _take_failure(self) -> tuple[int, str] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def message_result(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], Reply]:
        """Status and JSON body for one Messages request (also used for batch items)."""
        with self._lock:
            self.requests.append(body)
        failure = self._take_failure()
        if failure is not None:
            status, error_type = failure
            return status, {"type": "error", "error": {"type": error_type, "message": "injected failure"}}, Reply()
        reply = self.responder(body)
        if reply.status != 200:
            error = {"type": "error", "error": {"type": reply.error_type, "message": reply.text}}
            return reply.status, error, reply
        if reply.tool_name is not None:
            content: list[dict[str, Any]] = [
                {"type": "tool_use", "id": f"toolu_{next(self._ids):020d}", "name": reply.tool_name,
                 "input": reply.tool_input or {}}
            ]
            stop_reason = "tool_use"
        else:
            content = [{"type": "text", "text": reply.text}]
            stop_reason = reply.stop_reason
        message = {
            "id": f"msg_{next(self._ids):024d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model") or self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        }
        return 200, message, reply

    # -- batches ---------------------------------------------------------------------
    def create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ValueError("requests must be a non-empty list")
        batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
        created = datetime.now(timezone.utc)
        state = {
            "id": batch_id,
            "requests": requests,
            "created": created,
            "ends": created + timedelta(seconds=self.batch_processing_s),
            "results": None,
            "canceled": False,
        }
        with self._lock:
            self.batches[batch_id] = state
            self.batch_create_calls += 1
        return self._batch_json(state)

    def _finish(self, state: dict[str, Any]) -> None:
        if state["results"] is not None:
            return
        results = []
        for item in state["requests"]:
            if state["canceled"]:
                results.append({"custom_id": item["custom_id"], "result": {"type": "canceled"}})
                continue
            status, payload, _ = self.message_result(item["params"])
            if status == 200:
                result = {"type": "succeeded", "message": payload}
            else:
                result = {"type": "errored", "error": payload}
            results.append({"custom_id": item["custom_id"], "result": result})
        state["results"] = results

    def _batch_json(self, state: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        done = state["canceled"] or now >= state["ends"]
        if done:
            self._finish(state)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if done:
            for result in state["results"]:
                counts[result["result"]["type"]] += 1
        else:
            counts["processing"] = len(state["requests"])
        return {
            "id": state["id"],
            "type": "message_batch",
            "processing_status": "ended" if done else ("canceling" if state["canceled"] else "in_progress"),
            "request_counts": counts,
            "created_at": state["created"].isoformat().replace("+00:00", "Z"),
            "expires_at": (state["created"] + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "ended_at": _now_iso() if done else None,
            "archived_at": None,
            "cancel_initiated_at": _now_iso() if state["canceled"] else None,
            "results_url": f"{self.url}/v1/messages/batches/{state['id']}/results" if done else None,
        }


def _make_handler(server: FakeAnthropicServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            return json.loads(raw or b"{}")

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            try:
                body = self._body()
            except ValueError:
                self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad json"}})
                return
            if path == "/v1/messages":
                self._messages(body)
            elif path == "/v1/messages/batches":
                try:
                    self._send_json(200, server.create_batch(body))
                except ValueError as exc:
                    self._send_json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}})
            elif path.startswith("/v1/messages/batches/") and path.endswith("/cancel"):
                state = server.batches.get(path.split("/")[4])
                if state is None:
                    self._not_found()
                    return
                state["canceled"] = state["results"] is None or state["canceled"]
                self._send_json(200, server._batch_json(state))
            else:
                self._not_found()

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            parts = path.strip("/").split("/")
            if path == "/v1/messages/batches":
                data = [server._batch_json(s) for s in list(server.batches.values())]
                self._send_json(200, {"data": data, "has_more": False, "first_id": None, "last_id": None})
                return
            if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
                state = server.batches.get(parts[3])
                if state is None:
                    self._not_found()
                    return
                if len(parts) == 4:
                    self._send_json(200, server._batch_json(state))
                    return
                if len(parts) == 5 and parts[4] == "results":
                    batch = server._batch_json(state)
                    if batch["processing_status"] != "ended":
                        self._send_json(
                            400,
                            {"type": "error", "error": {"type": "invalid_request_error", "message": "batch not ended"}},
                        )
                        return
                    jsonl = "".join(json.dumps(r) + "\n" for r in state["results"]).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/binary")
                    self.send_header("content-length", str(len(jsonl)))
                    self.end_headers()
                    self.wfile.write(jsonl)
                    return
            self._not_found()

        def _not_found(self) -> None:
            self._send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

        def _messages(self, body: dict[str, Any]) -> None:
            if server.latency_s:
                time.sleep(server.latency_s)
            status, payload, reply = server.message_result(body)
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if status != 200 or not body.get("stream"):
                self._send_json(status, payload, reply.headers)
                return
            self._stream(payload)

        def _stream(self, message: dict[str, Any]) -> None:
            start = dict(message, content=[], stop_reason=None)
            start["usage"] = dict(message["usage"], output_tokens=1)
            events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
            for index, block in enumerate(message["content"]):
                if block["type"] == "text":
                    events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                           "content_block": {"type": "text", "text": ""}}))
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": {"type": "text_delta", "text": block["text"]}}))
                else:
                    events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                           "content_block": dict(block, input={})}))
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": index,
                                                           "delta": {"type": "input_json_delta",
                                                                     "partial_json": json.dumps(block["input"])}}))
                events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
            events.append(("message_delta", {"type": "message_delta",
                                             "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                             "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
            events.append(("message_stop", {"type": "message_stop"}))
            data = b"".join(f"event: {n}\ndata: {json.dumps(d)}\n\n".encode() for n, d in events)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
