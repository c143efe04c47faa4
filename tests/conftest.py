"""Shared fixtures: real services on free ports, started and stopped by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reviewer.broker import EmbeddedBroker


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    """A fresh tansu broker (memory storage) on a free port."""
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def broker_factory() -> Iterator[Any]:
    """Start brokers on demand (e.g. to restart one on the same port); all are stopped at teardown."""
    started: list[EmbeddedBroker] = []

    def make(port: int | None = None) -> EmbeddedBroker:
        embedded = EmbeddedBroker(port=port).start()
        started.append(embedded)
        return embedded

    yield make
    for embedded in started:
        embedded.stop()
