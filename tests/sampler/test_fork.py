"""A process forked after init (gunicorn --preload) gets its own worker and producer."""

from __future__ import annotations

import os

import sampler
from reviewer.broker import EmbeddedBroker
from tests.fake_anthropic import FakeMessagesAPI
from tests.kafka_helpers import consume_records, decode

MESSAGES = [{"role": "user", "content": "hello"}]


def test_forked_child_sends_its_own_records(broker: EmbeddedBroker) -> None:
    sampler.init(app="web", rate=1.0, bootstrap_servers=broker.bootstrap_servers)
    client = sampler.instrument(FakeMessagesAPI().client())
    with sampler.tag(category="parent"):
        client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert sampler.flush(10)

    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            with sampler.tag(category="child"):
                for _ in range(3):
                    client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
            ok = sampler.flush(15)
            stats = sampler.stats()
            code = 0 if ok and stats["sent"] == 3 and stats["sampled"] == 3 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    with sampler.tag(category="parent"):
        client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert sampler.flush(10)
    assert sampler.stats()["sent"] == 2
    records = decode(consume_records(broker.bootstrap_servers, expect=5))
    assert sorted(r["category"] for r in records) == ["child"] * 3 + ["parent"] * 2
