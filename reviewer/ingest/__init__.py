"""Ingest: the Kafka consumer that fills the store (``tastevin ingest``).

The names below are loaded on first use (PEP 562): the ``tastevin ingest`` command
lives in ``reviewer.ingest.command`` and must not pull in SQLAlchemy or the Kafka
client when ``tastevin --help`` lists it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .consumer import IngestConfig, Ingester, IngestStats, make_consumer
    from .decode import PoisonRecord, decode
    from .writer import BatchWriter

_LAZY = {
    "BatchWriter": "writer",
    "IngestConfig": "consumer",
    "IngestStats": "consumer",
    "Ingester": "consumer",
    "PoisonRecord": "decode",
    "decode": "decode",
    "make_consumer": "consumer",
}

__all__ = ["BatchWriter", "IngestConfig", "IngestStats", "Ingester", "PoisonRecord", "decode", "make_consumer"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
