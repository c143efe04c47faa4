"""Ingest: the Kafka consumer that fills the store (``tastevin ingest``)."""

from __future__ import annotations

from .consumer import IngestConfig, Ingester, IngestStats, make_consumer
from .decode import PoisonRecord, decode
from .writer import BatchWriter

__all__ = ["BatchWriter", "IngestConfig", "IngestStats", "Ingester", "PoisonRecord", "decode", "make_consumer"]
