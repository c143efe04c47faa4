"""The review app's settings: one object per Streamlit process, from ``TASTEVIN_*`` variables.

``tastevin review`` passes its flags to the Streamlit child through these variables
(``TASTEVIN_DB_URL``, ``TASTEVIN_REVIEW_PASSWORD``, ``TASTEVIN_REVIEW_AUTH`` …); the
app reads them once per script run with :func:`load_settings`. The password is a
``SecretStr``: its ``repr`` and ``str`` show ``**********``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..store import DEFAULT_DB_URL
from .auth import AuthMode

__all__ = ["AUTH_ENV", "BIND_ENV", "ReviewSettings", "load_settings"]

AUTH_ENV = "TASTEVIN_REVIEW_AUTH"
BIND_ENV = "TASTEVIN_REVIEW_HOST"


class ReviewSettings(BaseSettings):
    """``auth`` and ``host`` are set by ``tastevin review`` after it checked the bind policy;
    when absent (the app was started with ``streamlit run`` directly) the app checks the
    policy itself against Streamlit's ``server.address``."""

    model_config = SettingsConfigDict(env_prefix="TASTEVIN_", extra="ignore", populate_by_name=True)

    db_url: str = DEFAULT_DB_URL
    password: SecretStr | None = Field(default=None, validation_alias="TASTEVIN_REVIEW_PASSWORD")
    auth: AuthMode | None = Field(default=None, validation_alias=AUTH_ENV)
    host: str | None = Field(default=None, validation_alias=BIND_ENV)
    reviewer: str | None = Field(default=None, validation_alias="TASTEVIN_REVIEWER")


def load_settings() -> ReviewSettings:
    """The settings from the environment (raises pydantic's ``ValidationError`` for a bad value)."""
    return ReviewSettings()
