"""Tastevin reviewer: the offline side — ingest into the store, statistics, alerts, the app, the CLI."""

from __future__ import annotations

from .errors import TastevinError

__all__ = ["TastevinError"]
