"""Where the store is by default; a module of its own so that the CLI, and the store's own
modules, can read these without importing the package or SQLAlchemy."""

from __future__ import annotations

__all__ = ["DB_URL_ENV", "DEFAULT_DB_URL"]

DEFAULT_DB_URL = "sqlite:///tastevin.db"
DB_URL_ENV = "TASTEVIN_DB_URL"
