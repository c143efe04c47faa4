"""The store: SQLModel tables, engines and Alembic migrations (design "Contract 2").

SQLite file by default (``DEFAULT_DB_URL``), PostgreSQL when several processes or
machines share it. The URL is configured with ``--db`` or the environment variable
``TASTEVIN_DB_URL`` (``DB_URL_ENV``); library code takes it as an argument.

Typical use, one ``Session`` per unit of work::

    engine = make_engine(url)
    ensure_schema(engine)            # migrates a SQLite file; refuses a stale PostgreSQL
    with Session(engine) as session:
        session.add(Sample(...))
        session.commit()

The names below are loaded on first use (PEP 562), so importing ``reviewer.store``
(e.g. for ``DEFAULT_DB_URL`` in the CLI) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .defaults import DB_URL_ENV, DEFAULT_DB_URL

if TYPE_CHECKING:
    from .engine import StoreError, display_url, make_engine
    from .migrate import current_revision, ensure_schema, head_revision, upgrade, upgrade_from
    from .models import (
        STORE_METADATA,
        Alert,
        DeadLetter,
        JudgeClaim,
        JudgeRun,
        Judgment,
        Review,
        Rubric,
        Sample,
        SampleBase,
        SampleVerdict,
        utc_now,
    )
    from .evals import Dataset, DatasetCase, DatasetVersion, EvalCase, EvalRun
    from .verdicts import refresh_sample_verdicts

_LAZY = {
    "StoreError": "engine",
    "display_url": "engine",
    "make_engine": "engine",
    "current_revision": "migrate",
    "ensure_schema": "migrate",
    "head_revision": "migrate",
    "upgrade": "migrate",
    "upgrade_from": "migrate",
    "STORE_METADATA": "models",
    "Alert": "models",
    "DeadLetter": "models",
    "JudgeClaim": "models",
    "JudgeRun": "models",
    "Judgment": "models",
    "Review": "models",
    "Rubric": "models",
    "Sample": "models",
    "SampleBase": "models",
    "SampleVerdict": "models",
    "refresh_sample_verdicts": "verdicts",
    "Dataset": "evals",
    "DatasetCase": "evals",
    "DatasetVersion": "evals",
    "EvalCase": "evals",
    "EvalRun": "evals",
    "utc_now": "models",
}

__all__ = ["DB_URL_ENV", "DEFAULT_DB_URL", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
