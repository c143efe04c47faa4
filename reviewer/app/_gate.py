"""The login gate, run by the entry file before anything else renders.

Password mode compares with ``hmac.compare_digest`` (:func:`reviewer.app.auth.check_password`)
and remembers success in the session only; a wrong password costs half a second. OIDC
mode shows Streamlit's ``st.login`` button until ``st.user.is_logged_in``. When the
app was not started by ``tastevin review`` (no ``TASTEVIN_REVIEW_AUTH``), it applies
the bind policy itself to Streamlit's ``server.address`` and refuses to render on a
non-loopback bind without authentication.
"""

from __future__ import annotations

import time

import streamlit as st

from ..errors import ConfigError
from .auth import AuthMode, check_password, default_secrets_files, resolve_auth
from .settings import ReviewSettings

_OK = "tastevin_authenticated"
FAILED_ATTEMPT_DELAY_S = 0.5


def _mode(settings: ReviewSettings) -> AuthMode:
    if settings.auth is not None:
        if settings.auth is AuthMode.PASSWORD and settings.password is None:
            raise ConfigError("TASTEVIN_REVIEW_AUTH=password but TASTEVIN_REVIEW_PASSWORD is not set")
        return settings.auth
    address = st.get_option("server.address") or "0.0.0.0"  # Streamlit's default listens everywhere
    password = settings.password.get_secret_value() if settings.password is not None else None
    return resolve_auth(host=address, password=password, secrets_files=default_secrets_files())


def require_auth(settings: ReviewSettings) -> bool:
    """Render the login form when needed; True when the visitor may see the pages."""
    try:
        mode = _mode(settings)
    except ConfigError as exc:
        st.error(str(exc))
        return False
    if mode is AuthMode.NONE:
        return True
    if mode is AuthMode.OIDC:
        if st.user.get("is_logged_in", False):
            st.sidebar.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'you'}")
            st.sidebar.button("Log out", on_click=st.logout)
            return True
        st.title("Tastevin review")
        st.button("Log in", on_click=st.login, type="primary")
        return False
    if st.session_state.get(_OK) is True:
        return True
    assert settings.password is not None
    st.title("Tastevin review")
    with st.form("login"):
        entered = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if check_password(entered, settings.password.get_secret_value()):
            st.session_state[_OK] = True
            st.rerun()
        time.sleep(FAILED_ATTEMPT_DELAY_S)
        st.error("Wrong password.")
    return False
