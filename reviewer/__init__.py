"""Tastevin reviewer: the offline side — ingest into the store, statistics, alerts, the app, the CLI.

Importing ``reviewer`` is light: the subpackages (``reviewer.store``, ``reviewer.ingest``,
``reviewer.stats``, …) are imported where they are used.
"""

from __future__ import annotations

from .errors import BrokerError, ConfigError, StoreError, TastevinError

__all__ = ["BrokerError", "ConfigError", "StoreError", "TastevinError"]
