"""The worker survives whatever a transport, the redactor or the serialiser raises; flush is honest.

Each fake here is a fake of our own interface (``Transport``); the sampler, converters,
redactor and serialiser are the real ones. Tests synchronise on ``flush`` and on events.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

import sampler
from sampler import SendResult
from sampler._state import STATE

DoneCallback = Callable[[Any], None]


def _call(i: int, **overrides: Any) -> bool:
    fields: dict[str, Any] = {"model": "m", "input_messages": f"question {i}", "output_messages": f"answer {i}"}
    fields.update(overrides)
    return sampler.record_call(**fields)


def _sent_questions(transport: sampler.MemoryTransport) -> list[str]:
    return [r["input_messages"][0]["parts"][0]["content"] for r in transport.records()]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("sampler") and r.levelno >= logging.WARNING]


def _worker_alive() -> bool:
    current = STATE.sampler
    return current is not None and current._thread is not None and current._thread.is_alive()


class FlakyTransport(sampler.MemoryTransport):
    """Raises on the sends named in ``failures`` (1-based), delivers the others."""

    def __init__(self, failures: dict[int, BaseException]) -> None:
        super().__init__()
        self.failures = failures
        self.calls = 0

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        self.calls += 1
        failure = self.failures.get(self.calls)
        if failure is not None:
            raise failure
        return super().send(key, value, on_done)


def test_a_transport_raising_drops_one_record_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    transport = FlakyTransport(
        {2: RuntimeError("producer bug"), 4: OSError("socket closed"), 5: OSError("socket closed again")}
    )
    sampler.init(app="t", rate=1.0, transport=transport)
    with caplog.at_level(logging.WARNING, logger="sampler"):
        for i in range(8):
            assert _call(i)
        assert sampler.flush(5)
        assert _call(8)  # and later records still go out
        assert sampler.flush(5)
    assert _sent_questions(transport) == [f"question {i}" for i in (0, 2, 5, 6, 7, 8)]
    stats = sampler.stats()
    assert (stats["sent"], stats["dropped"], stats["queued"], stats["in_flight"]) == (6, {"transport_error": 3}, 0, 0)
    # One line per kind (reason and exception type), not one per record.
    lines = _warnings(caplog)
    assert len(lines) == 2, lines
    assert "RuntimeError: producer bug" in lines[0] and "transport_error" in lines[0]
    assert "OSError: socket closed" in lines[1]
    assert _worker_alive()


class MisreportingTransport(sampler.MemoryTransport):
    """Breaks the on_done contract in the way named by ``how``, on every send."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        self.messages.append((key, value, []))
        if self.how == "reports-then-raises":  # e.g. its own completion hook fails after on_done
            on_done(None)
            raise RuntimeError("completion hook failed")
        if self.how == "reports-twice":
            on_done(None)
            on_done("delivery_failed")
        elif self.how == "reason-not-a-string":
            on_done(["broker", "said", "no"])  # the old on_done raised TypeError here, inside send
        elif self.how == "reports-then-retry":
            on_done(None)
            return SendResult.RETRY
        elif self.how == "returns-nothing":
            on_done(None)
            return None  # type: ignore[return-value]
        return SendResult.ACCEPTED


@pytest.mark.parametrize(
    ("how", "sent", "dropped", "log_lines"),
    [
        pytest.param("reports-then-raises", 3, {}, 1, id="reports-then-raises"),
        pytest.param("reports-twice", 3, {}, 0, id="reports-twice"),
        pytest.param("reason-not-a-string", 0, {"delivery_failed": 3}, 0, id="reason-not-a-string"),
        pytest.param("reports-then-retry", 3, {}, 0, id="reports-then-retry"),
        pytest.param("returns-nothing", 3, {}, 0, id="returns-nothing"),
    ],
)
def test_every_record_is_settled_exactly_once_whatever_on_done_sees(
    how: str, sent: int, dropped: dict[str, int], log_lines: int, caplog: pytest.LogCaptureFixture
) -> None:
    transport = MisreportingTransport(how)
    sampler.init(app="t", rate=1.0, transport=transport)
    with caplog.at_level(logging.WARNING, logger="sampler"):
        for i in range(3):
            _call(i)
        assert sampler.flush(5)
    stats = sampler.stats()
    assert (stats["sent"], stats["dropped"], stats["queued"], stats["in_flight"]) == (sent, dropped, 0, 0)
    assert len(transport.messages) == 3  # none was offered twice
    assert len(_warnings(caplog)) == log_lines
    assert _worker_alive()


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


class _BoomRedactor:
    """A redactor (our interface) that raises on records mentioning "boom"."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def redact_record(self, record: dict[str, Any]) -> dict[str, int]:
        if "boom" in str(record["input_messages"]):
            raise ValueError("catastrophic backtracking on 'boom ann@example.org'")
        return self.real.redact_record(record)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"ttft_ms": "soon"}, "build_failed"),  # the converter cannot read it
        ({"input_messages": "boom from ann@example.org"}, "redaction_failed"),
        ({"params": {"temperature": _Unprintable()}}, "encode_failed"),  # the serialiser's default=str raises
    ],
    ids=["converter", "redactor", "serialiser"],
)
def test_a_failing_step_drops_its_record_only(bad: dict[str, Any], reason: str, caplog: pytest.LogCaptureFixture) -> None:
    transport = sampler.MemoryTransport()
    current = sampler.init(app="t", rate=1.0, transport=transport)
    assert current is not None
    current.redactor = _BoomRedactor(current.redactor)  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="sampler"):
        _call(0)
        _call(1, **bad)
        _call(2, **bad)
        _call(3)
        assert sampler.flush(5)
    assert _sent_questions(transport) == ["question 0", "question 3"]
    assert sampler.stats()["dropped"] == {reason: 2}
    (line,) = _warnings(caplog)
    assert reason in line
    assert "ann@example.org" not in line and "boom" not in line  # never the text
    assert _worker_alive()


class DeferredTransport(sampler.MemoryTransport):
    """Accepts at once and reports later, when told; its own in_flight/flush say "all done"
    (a transport whose bookkeeping is wrong must not make the sampler's flush lie)."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[DoneCallback] = []

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        self.messages.append((key, value, []))
        self.pending.append(on_done)
        return SendResult.ACCEPTED

    def deliver(self) -> None:
        pending, self.pending = self.pending, []
        for on_done in pending:
            on_done(None)


def test_flush_is_false_until_the_transport_has_reported_every_record() -> None:
    transport = DeferredTransport()
    sampler.init(app="t", rate=1.0, transport=transport)
    _call(0)
    _call(1)
    assert not sampler.flush(0.3)
    stats = sampler.stats()
    assert (stats["sent"], stats["queued"], stats["in_flight"]) == (0, 0, 2)
    transport.deliver()
    assert sampler.flush(5)
    assert sampler.stats()["sent"] == 2


class BlockingTransport(sampler.MemoryTransport):
    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        self.entered.set()
        self.release.wait(10)
        return super().send(key, value, on_done)


def test_flush_is_false_while_the_worker_holds_a_record() -> None:
    transport = BlockingTransport()
    sampler.init(app="t", rate=1.0, transport=transport)
    _call(0)
    assert transport.entered.wait(5)
    assert not sampler.flush(0.2)
    assert sampler.stats()["queued"] == 1
    transport.release.set()
    assert sampler.flush(5)
    assert sampler.stats()["sent"] == 1


class RetryingTransport(sampler.MemoryTransport):
    """Says "broker unreachable" until ``up`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.up = threading.Event()
        self.refused = threading.Event()

    def send(self, key: bytes, value: bytes, on_done: DoneCallback) -> SendResult:
        if not self.up.is_set():
            self.refused.set()
            return SendResult.RETRY
        return super().send(key, value, on_done)


def test_a_record_held_for_retry_keeps_flush_false_and_is_sent_once_the_broker_is_back() -> None:
    transport = RetryingTransport()
    sampler.init(app="t", rate=1.0, transport=transport)
    _call(0)
    assert transport.refused.wait(5)
    assert not sampler.flush(0.2)
    assert sampler.stats()["queued"] == 1
    transport.up.set()
    assert sampler.flush(10)
    assert _sent_questions(transport) == ["question 0"]
    assert sampler.stats()["dropped"] == {}


class BrokenControlTransport(DeferredTransport):
    """send works; flush and close raise."""

    def flush(self, timeout_s: float) -> bool:
        raise RuntimeError("flush exploded")

    def close(self, timeout_s: float) -> None:
        raise OSError("close exploded")


def test_flush_and_shutdown_never_raise_when_the_transport_does(caplog: pytest.LogCaptureFixture) -> None:
    transport = BrokenControlTransport()
    sampler.init(app="t", rate=1.0, transport=transport)
    with caplog.at_level(logging.WARNING, logger="sampler"):
        _call(0)
        assert sampler.flush(0.5) is False
        assert sampler.flush(0.5) is False
        transport.deliver()
        assert sampler.flush(5)  # everything settled: nothing left for the transport to flush
        sampler.shutdown(1.0)
    lines = _warnings(caplog)
    assert len(lines) == 2 and "flush exploded" in lines[0] and "close exploded" in lines[1], lines


def test_shutdown_with_the_broker_away_accounts_for_every_record() -> None:
    transport = RetryingTransport()  # never comes up
    sampler.init(app="t", rate=1.0, transport=transport)
    for i in range(3):
        _call(i)
    assert transport.refused.wait(5)
    sampler.shutdown(1.0)
    stats = sampler.stats()
    # The record held for retry, then the two still queued.
    assert stats["dropped"] == {"broker_unavailable": 1, "shutdown": 2}
    assert stats["sent"] + sum(stats["dropped"].values()) == stats["sampled"] == 3
    assert (stats["queued"], stats["in_flight"]) == (0, 0)
