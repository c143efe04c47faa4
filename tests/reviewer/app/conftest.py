"""Fixtures for the review app: a seeded store, the app's environment, AppTest on a page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from reviewer.app.command import ENTRY_FILE
from tests.reviewer.app.seed import Seeded, seed_store

APP_TIMEOUT_S = 60  # the first run imports scipy, pandas, altair: seconds on a busy machine


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A store seeded once per module (tests that write use ``fresh_store``)."""
    return seed_store(f"sqlite:///{tmp_path_factory.mktemp('app') / 'store.db'}")


@pytest.fixture
def fresh_store(tmp_path: Path) -> Seeded:
    return seed_store(f"sqlite:///{tmp_path / 'store.db'}")


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TASTEVIN_REVIEW_PASSWORD", "TASTEVIN_REVIEW_AUTH", "TASTEVIN_REVIEW_HOST", "TASTEVIN_REVIEWER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """``open_app(store, page=None, **env)``: the app as ``tastevin review`` starts it on 127.0.0.1, run once.

    ``page`` is a file name under ``pages/`` without ``.py``; extra keyword arguments set
    ``TASTEVIN_<NAME>`` variables (e.g. ``review_auth="password"``).
    """
    _clean_env(monkeypatch)

    def open_(store: Seeded, page: str | None = None, **env: str) -> AppTest:
        monkeypatch.setenv("TASTEVIN_DB_URL", store.url)
        monkeypatch.setenv("TASTEVIN_REVIEW_AUTH", "none")
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(f"TASTEVIN_{name.upper()}", raising=False)
            else:
                monkeypatch.setenv(f"TASTEVIN_{name.upper()}", value)
        app = AppTest.from_file(str(ENTRY_FILE), default_timeout=APP_TIMEOUT_S)
        app.run()
        if page is not None:
            app.switch_page(f"pages/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    yield open_
