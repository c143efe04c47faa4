from __future__ import annotations

from collections.abc import Iterator

import pytest

import sampler
from sampler._state import STATE


@pytest.fixture(autouse=True)
def _reset_sampler() -> Iterator[None]:
    """Every test starts without a process-wide sampler and leaves none behind."""
    yield
    current = STATE.sampler
    STATE.sampler = None
    if current is not None:
        current.shutdown(2.0)


@pytest.fixture
def memory() -> sampler.MemoryTransport:
    return sampler.MemoryTransport()
