"""Extra redaction detectors (the NER plug-in): the protocol, overlaps with the built-ins,
and failing closed, in the Redactor and through sampler.init(redactors=...)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

import sampler
from sampler.redact import DETECTOR_FAILED, Redactor, Span


class NameDetector:
    """A stand-in for an NER model: capitalised first names from a fixed list."""

    NAMES = re.compile(r"\b(?:Alice|Bob|Zoë)\b")

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> list[Span]:
        self.calls.append(text)
        return [Span(m.start(), m.end(), "person") for m in self.NAMES.finditer(text)]


def test_detector_spans_are_redacted_and_counted() -> None:
    redactor = Redactor(detectors=[NameDetector()])
    counts: dict[str, int] = {}
    out = redactor.redact_text("Alice wrote to bob@example.com about Bob", counts)
    assert out == "[REDACTED:person] wrote to [REDACTED:email] about [REDACTED:person]"
    assert counts == {"person": 2, "email": 1}


def test_builtins_win_overlaps_and_the_rest_of_a_span_still_goes() -> None:
    # The detector claims "call 415-555-0132 now"; the phone stays a phone, the words
    # around it are the detector's.
    def whole(text: str) -> list[tuple[int, int, str]]:
        start = text.index("call")
        return [(start, len(text), "location")]

    counts: dict[str, int] = {}
    out = Redactor(detectors=[whole]).redact_text("ok call 415-555-0132 now", counts)
    assert out == "ok [REDACTED:location][REDACTED:phone][REDACTED:location]"
    assert counts == {"location": 2, "phone": 1}


def test_spans_lists_what_would_be_replaced() -> None:
    redactor = Redactor(detectors=[NameDetector()])
    assert redactor.spans("Zoë: zoe@example.com") == [Span(0, 3, "person"), Span(5, 20, "email")]


def _raises(text: str) -> list[Span]:
    raise RuntimeError(f"model crashed on {text!r}")


@pytest.mark.parametrize(
    "detector",
    [
        pytest.param(_raises, id="raises"),
        pytest.param(lambda text: None, id="returns-none"),
        pytest.param(lambda text: [(0, len(text) + 5, "person")], id="span-past-the-end"),
        pytest.param(lambda text: [(3, 3, "person")], id="empty-span"),
        pytest.param(lambda text: [(0, 2, "Person Name")], id="bad-kind"),
        pytest.param(lambda text: [(0.0, 2, "person")], id="float-offset"),
        pytest.param(lambda text: [(0, 2)], id="two-tuple"),
    ],
)
def test_a_failing_detector_fails_closed(detector: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    text = "Alice's card 4111 1111 1111 1111"
    counts: dict[str, int] = {}
    assert Redactor(detectors=[detector]).redact_text(text, counts) == f"[REDACTED:{DETECTOR_FAILED}]"
    assert counts == {DETECTOR_FAILED: 1}
    assert all("Alice" not in r.getMessage() and "4111" not in r.getMessage() for r in caplog.records)


def test_a_failing_detector_replaces_only_its_strings_in_a_record() -> None:
    def fails_on_bob(text: str) -> list[Span]:
        if "Bob" in text:
            raise ValueError("boom")
        return []

    record: dict[str, Any] = {
        "input_messages": [{"role": "user", "parts": [{"type": "text", "content": "Bob here, bob@example.com"}]}],
        "output_messages": [{"role": "assistant", "parts": [{"type": "text", "content": "mail a@example.com"}]}],
        "attributes": {"tier": "pro"},
    }
    counts = Redactor(detectors=[fails_on_bob]).redact_record(record)
    assert record["input_messages"][0]["parts"][0]["content"] == f"[REDACTED:{DETECTOR_FAILED}]"
    assert record["output_messages"][0]["parts"][0]["content"] == "mail [REDACTED:email]"
    assert record["attributes"] == {"tier": "pro"}
    assert counts == {DETECTOR_FAILED: 1, "email": 1}


def test_detectors_see_each_string_once_and_unredacted() -> None:
    detector = NameDetector()
    record: dict[str, Any] = {"attributes": {"a": "Alice", "b": "mail bob@example.com", "c": ""}}
    Redactor(detectors=[detector]).redact_record(record)
    assert detector.calls == ["Alice", "mail bob@example.com"]
    assert record["attributes"] == {"a": "[REDACTED:person]", "b": "mail [REDACTED:email]", "c": ""}


@pytest.mark.parametrize(
    ("detectors", "message"),
    [
        pytest.param(["not callable"], "is not callable", id="item"),
        pytest.param(len, "must be a list of callables", id="not-a-list"),
        pytest.param("abc", "must be a list of callables", id="a-string"),
    ],
)
def test_bad_detectors_raise(detectors: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Redactor(detectors=detectors)


def test_init_takes_redactors_and_fails_closed_end_to_end(memory: sampler.MemoryTransport) -> None:
    def flaky(text: str) -> list[Span]:
        if "secret plan" in text:
            raise RuntimeError("NER model unavailable")
        return [Span(m.start(), m.end(), "person") for m in NameDetector.NAMES.finditer(text)]

    sampler.init(app="t", rate=1.0, transport=memory, redactors=[flaky])
    sampler.record_call(model="m", input_messages="Alice asks about the secret plan", output_messages="Hi Alice")
    sampler.record_call(model="m", input_messages="Bob says hi", output_messages="hello")
    assert sampler.flush(5)
    first, second = memory.records()
    assert first["input_messages"][0]["parts"][0]["content"] == f"[REDACTED:{DETECTOR_FAILED}]"
    assert first["output_messages"][0]["parts"][0]["content"] == "Hi [REDACTED:person]"
    assert first["redactions"] == {DETECTOR_FAILED: 1, "person": 1}
    assert second["input_messages"][0]["parts"][0]["content"] == "[REDACTED:person] says hi"
    assert sampler.stats()["sent"] == 2


def test_init_rejects_bad_redactors(memory: sampler.MemoryTransport) -> None:
    with pytest.raises(ValueError, match="is not callable"):
        sampler.init(app="t", transport=memory, redactors=[42])
    with pytest.raises(ValueError, match="must be a list of callables"):
        sampler.init(app="t", transport=memory, redactors="module:function")
