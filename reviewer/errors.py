"""The exception tree of the offline side.

    TastevinError                 root: every error Tastevin raises on purpose
    ├── ConfigError               a bad setting; the message says how to fix it
    ├── StoreError                the store could not be reached or migrated
    └── BrokerError               the embedded broker could not start or stop
"""

from __future__ import annotations


class TastevinError(Exception):
    """Root of Tastevin's own errors; messages say what happened and what to do."""


class ConfigError(TastevinError):
    """A setting is missing or invalid."""


class BrokerError(TastevinError):
    """The embedded development broker failed."""


class StoreError(TastevinError):
    """The store could not be reached or migrated; the message says what to check."""
