"""Helpers for the demo tests: run the simulated app against the simulated model.

The sampler is the real one with a ``MemoryTransport`` and ``rate=1.0``, so every call
becomes a record; the process-wide sampler is shut down and cleared after each run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import sampler
from judge.rubric import Rubric, example_rubrics_dir, load_rubrics
from judge.demo import (
    APP_NAME,
    CallOutcome,
    LatencyModel,
    ModelBehaviour,
    SimulatedModel,
    SupportTraffic,
    TrafficProgress,
    TrafficSettings,
)
from sampler._state import STATE

# No slips, no errors, every regressed shipping reply bad: exact assertions are possible.
CLEAN = ModelBehaviour(
    latency=LatencyModel(scale=0.002), flaw_rate=0.0, regressed_failure_rate=1.0, error_rate=0.0, hang_rate=0.0
)


class Outcomes:
    """Collects ``on_call`` reports; the test thread can wait for the n-th one."""

    def __init__(self) -> None:
        self.items: list[CallOutcome] = []
        self._cond = threading.Condition()

    def __call__(self, outcome: CallOutcome) -> None:
        with self._cond:
            self.items.append(outcome)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout_s: float = 30.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.items) >= n, timeout_s), f"fewer than {n} calls"


@dataclass
class DemoRun:
    progress: TrafficProgress
    records: list[dict[str, Any]]
    replies: dict[str, int]
    outcomes: list[CallOutcome] = field(default_factory=list)


def clear_sampler() -> None:
    current = STATE.sampler
    STATE.sampler = None
    if current is not None:
        current.shutdown(2.0)


def run_demo(
    settings: TrafficSettings,
    behaviour: ModelBehaviour = CLEAN,
    *,
    during: Callable[[SupportTraffic, Outcomes], None] | None = None,
) -> DemoRun:
    """Run to the end (``during`` runs on the test thread while the app runs) and collect records."""
    transport = sampler.MemoryTransport()
    sampler.init(app=APP_NAME, transport=transport, rate=1.0)
    outcomes = Outcomes()
    try:
        with SimulatedModel(behaviour) as model:
            traffic = SupportTraffic(model.url, settings, on_call=outcomes)
            traffic.start()
            try:
                if during is not None:
                    during(traffic, outcomes)
                traffic.wait(60)
            finally:
                traffic.stop()
            progress = traffic.progress()
            replies = model.replies()
        assert sampler.flush(10)
    finally:
        clear_sampler()
    return DemoRun(progress, transport.records(), replies, outcomes.items)


def call_index(record: dict[str, Any]) -> int:
    """The call number of a record, from its ``ticket_id`` attribute (TCK-0000001 is call 0)."""
    return int(record["attributes"]["ticket_id"].removeprefix("TCK-")) - 1


def rubric_for(rubrics: list[Rubric], category: str) -> Rubric:
    (rubric,) = [r for r in rubrics if r.applies_to(category)]
    return rubric


@pytest.fixture(scope="session")
def rubrics() -> list[Rubric]:
    return load_rubrics(example_rubrics_dir())


@pytest.fixture(autouse=True)
def _no_sampler_left() -> Iterator[None]:
    yield
    clear_sampler()
