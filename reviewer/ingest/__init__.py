"""Ingest: the Kafka consumer that fills the store (``tastevin ingest``).

The consumer and the writer are loaded on first use (PEP 562): the ``tastevin ingest``
command lives in ``reviewer.ingest.command`` and must not pull in SQLAlchemy or the Kafka
client when ``tastevin --help`` lists it. The decoder is light and imported at once: its
function ``decode`` shares its name with its module, and importing the module later would
otherwise shadow the function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .decode import PoisonRecord, decode

if TYPE_CHECKING:
    from .client import IngestConfig, make_consumer
    from .consumer import Ingester, IngestStats
    from .writer import BatchWriter

_LAZY = {
    "BatchWriter": "writer",
    "IngestConfig": "client",
    "IngestStats": "consumer",
    "Ingester": "consumer",
    "make_consumer": "client",
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
