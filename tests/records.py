"""Wire records built by hand from the JSON Schema (no sampler code involved)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

CATEGORIES = ("billing", "shipping", "refunds", "account")


def make_record(i: int, *, rng: random.Random | None = None, **overrides: Any) -> dict[str, Any]:
    rng = rng or random.Random(i)
    ts = datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(seconds=i)
    question = f"Ticket {i}: my order has not arrived and the tracking page shows no update. " * 8
    answer = "I'm sorry for the delay. I have escalated the shipment with the carrier and will update you. " * 5
    record: dict[str, Any] = {
        "schema": "tastevin.sample/v1",
        "sample_id": f"{rng.getrandbits(128):032x}",
        "trace_id": f"{rng.getrandbits(128):032x}",
        "span_id": f"{rng.getrandbits(64):016x}",
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "app": "support-bot",
        "env": "production",
        "release": "2026.11.1",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "provider": "anthropic",
        "operation": "chat",
        "request_model": "claude-sonnet-4-5",
        "response_model": "claude-sonnet-4-5-20250929",
        "params": {"max_tokens": 1024},
        "system_instructions": [{"type": "text", "content": "You are a helpful support agent."}],
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": question}]}],
        "output_messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}
        ],
        "finish_reason": "stop",
        "usage": {
            "input_tokens": 500 + i % 100,
            "output_tokens": 90 + i % 30,
            "cache_read_input_tokens": 0,
            "cache_write_input_tokens": None,
        },
        "latency_ms": 800.0 + i % 400,
        "ttft_ms": None,
        "error": None,
        "sampling": {"rate": 0.01, "rule": "trace_id_ratio"},
        "redactions": {},
        "truncated": False,
        "attributes": {"prompt_version": "v7"},
    }
    record.update(overrides)
    return record


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()
