"""Who may open the review app: the bind policy and the password check (no Streamlit here).

Policy (:func:`resolve_auth`):

* bound to a loopback address (``127.0.0.1``, ``::1``, ``localhost``) the app needs no
  login — only people on this machine reach it — unless a password is set anyway;
* bound to anything else it requires authentication: a password
  (``TASTEVIN_REVIEW_PASSWORD``), checked before any page renders, or Streamlit's OIDC
  login (``st.login``) configured in an ``[auth]`` section of ``.streamlit/secrets.toml``
  (in the working directory or the home directory, where Streamlit reads it). Without
  either, :func:`resolve_auth` raises ``ConfigError`` saying how to set one up.

A password wins over OIDC when both are configured.
"""

from __future__ import annotations

import hmac
import importlib.util
import ipaddress
import tomllib
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = [
    "AuthMode",
    "check_password",
    "default_secrets_files",
    "is_loopback",
    "oidc_configured",
    "resolve_auth",
]

PASSWORD_ENV = "TASTEVIN_REVIEW_PASSWORD"


class AuthMode(StrEnum):
    NONE = "none"
    PASSWORD = "password"
    OIDC = "oidc"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses; False for every other name or address."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_password(entered: str, expected: str) -> bool:
    """Compare in constant time (``hmac.compare_digest`` on UTF-8 bytes); an empty entry never matches."""
    if not entered:
        return False
    return hmac.compare_digest(entered.encode("utf-8"), expected.encode("utf-8"))


def default_secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for ``secrets.toml`` by default: the home directory, then the working directory."""
    return [Path.home() / ".streamlit" / "secrets.toml", (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def _auth_section(files: Iterable[Path]) -> tuple[dict[str, Any] | None, list[str]]:
    section: dict[str, Any] | None = None
    problems: list[str] = []
    for path in files:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: cannot read it ({exc})")
            continue
        auth = data.get("auth")
        if isinstance(auth, dict):
            section = {**(section or {}), **auth}  # later files override, as Streamlit merges them
    return section, problems


def oidc_configured(files: Iterable[Path]) -> tuple[bool, str]:
    """Whether an ``[auth]`` section usable by ``st.login`` exists in ``files``, and if not, why.

    Usable: ``redirect_uri`` and ``cookie_secret``, plus ``client_id`` either directly
    or in a provider sub-table (``[auth.google]`` …), and Authlib installed.
    """
    section, problems = _auth_section(files)
    if section is None:
        return False, "; ".join(problems) or "no [auth] section in .streamlit/secrets.toml"
    missing = [key for key in ("redirect_uri", "cookie_secret") if not section.get(key)]
    providers = [value for value in section.values() if isinstance(value, dict)]
    if not section.get("client_id") and not any(p.get("client_id") for p in providers):
        missing.append("client_id (in [auth] or a provider table such as [auth.google])")
    if missing:
        return False, f"the [auth] section lacks {', '.join(missing)}"
    if importlib.util.find_spec("authlib") is None:
        return False, "st.login needs Authlib: pip install 'Authlib>=1.3.2'"
    return True, ""


def resolve_auth(*, host: str, password: str | None, secrets_files: Iterable[Path]) -> AuthMode:
    """The authentication the app must use when bound to ``host`` (module docstring).

    Raises ``ConfigError`` when ``host`` is not a loopback address and neither a password
    nor a usable OIDC configuration is available; the message says how to fix it.
    """
    if password:
        return AuthMode.PASSWORD
    files = list(secrets_files)
    if is_loopback(host):
        return AuthMode.NONE
    ok, why = oidc_configured(files)
    if ok:
        return AuthMode.OIDC
    raise ConfigError(
        f"refusing to serve the review app on {host}, which other machines can reach, without authentication "
        f"({why}). Either set a password: export {PASSWORD_ENV}=... (or --password), or configure OIDC login: "
        "an [auth] section with redirect_uri, cookie_secret, client_id, client_secret and server_metadata_url in "
        ".streamlit/secrets.toml (see https://docs.streamlit.io/develop/concepts/connections/authentication), "
        "or bind to 127.0.0.1 and use an SSH tunnel."
    )
