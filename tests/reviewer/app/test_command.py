"""``tastevin review``: the bind policy, secrets never printed, the Streamlit child and its signals."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewer.errors import ConfigError
from reviewer.app.auth import AuthMode, check_password, is_loopback, oidc_configured, resolve_auth
from reviewer.app.command import ENTRY_FILE, review, streamlit_command

SECRET = "hunter2-do-not-print"
FULL_AUTH = """
[auth]
redirect_uri = "https://review.example.org/oauth2callback"
cookie_secret = "xyz"
client_id = "tastevin"
client_secret = "abc"
server_metadata_url = "https://id.example.org/.well-known/openid-configuration"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and home without secrets; no TASTEVIN_REVIEW_* in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("TASTEVIN_REVIEW_PASSWORD", "TASTEVIN_REVIEW_HOST", "TASTEVIN_REVIEW_PORT", "TASTEVIN_REVIEW_AUTH"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "review.example.org"])
def test_review_refuses_a_non_local_bind_without_auth(isolated: Path, host: str) -> None:
    result = CliRunner().invoke(review, ["--db", f"sqlite:///{isolated / 's.db'}", "--host", host,
                                         "--port", str(free_port()), "--no-browser"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"refusing to serve the review app on {host}" in text
    assert "export TASTEVIN_REVIEW_PASSWORD=..." in text and ".streamlit/secrets.toml" in text
    assert "no [auth] section in .streamlit/secrets.toml" in text
    assert not (isolated / "s.db").exists()  # refused before touching the store


def test_an_incomplete_auth_section_is_named(isolated: Path) -> None:
    (isolated / ".streamlit").mkdir()
    (isolated / ".streamlit" / "secrets.toml").write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\n')
    result = CliRunner().invoke(review, ["--host", "0.0.0.0", "--no-browser"])
    assert result.exit_code == 2
    assert "the [auth] section lacks cookie_secret, client_id" in " ".join(result.output.split())


def test_a_password_is_never_printed(isolated: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(review, ["--db", f"sqlite:///{isolated / 's.db'}", "--host", "0.0.0.0",
                                             "--port", str(port), "--no-browser"],
                                    env={"TASTEVIN_REVIEW_PASSWORD": SECRET})
    assert result.exit_code == 2 and f"cannot listen on 0.0.0.0:{port}" in result.output
    assert SECRET not in result.output
    help_text = CliRunner().invoke(review, ["--help"], env={"TASTEVIN_REVIEW_PASSWORD": SECRET}).output
    assert "TASTEVIN_REVIEW_PASSWORD" in help_text and SECRET not in help_text


def test_a_bad_store_url_fails_before_starting(isolated: Path) -> None:
    result = CliRunner().invoke(review, ["--db", "mysql://x/y", "--no-browser"])
    assert isinstance(result.exception, ConfigError) and "unsupported database" in str(result.exception)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("LocalHost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("localhost.example.org", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_resolve_auth(tmp_path: Path) -> None:
    none: list[Path] = []
    assert resolve_auth(host="127.0.0.1", password=None, secrets_files=none) is AuthMode.NONE
    assert resolve_auth(host="127.0.0.1", password="pw", secrets_files=none) is AuthMode.PASSWORD
    assert resolve_auth(host="0.0.0.0", password="pw", secrets_files=none) is AuthMode.PASSWORD
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(FULL_AUTH)
    if importlib.util.find_spec("authlib") is None:
        assert oidc_configured([secrets]) == (False, "st.login needs Authlib: pip install 'Authlib>=1.3.2'")
        with pytest.raises(ConfigError, match="Authlib"):
            resolve_auth(host="0.0.0.0", password=None, secrets_files=[secrets])
    else:
        assert resolve_auth(host="0.0.0.0", password=None, secrets_files=[secrets]) is AuthMode.OIDC
    secrets.write_text("[auth\n")
    assert oidc_configured([secrets])[1].startswith(f"{secrets}: cannot read it")


def test_check_password_in_constant_time_terms() -> None:
    assert check_password("s3cret", "s3cret") and check_password("süß", "süß")
    assert not check_password("s3cre", "s3cret") and not check_password("", "") and not check_password("S3CRET", "s3cret")


def test_streamlit_command_carries_no_secret() -> None:
    argv = streamlit_command(host="0.0.0.0", port=8600, headless=True)
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(ENTRY_FILE)]
    pairs = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert pairs["--server.address"] == "0.0.0.0" and pairs["--server.port"] == "8600"
    assert pairs["--server.headless"] == "true" and pairs["--browser.gatherUsageStats"] == "false"


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """Poll Streamlit's health endpoint until it answers 200 (fails if the process exits first)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tastevin review exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy in {timeout_s} s")


def start_review(url: str, port: int, *, env: dict[str, str] | None = None,
                 extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``tastevin review`` in a subprocess (the command object, as reviewer.cli will register it)."""
    code = "import sys; from reviewer.app.command import review; review(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, "--db", url, "--port", str(port), "--no-browser", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_review_serves_forwards_sigterm_and_exits_with_the_childs_code(sqlite_url: str) -> None:
    port = free_port()
    process = start_review(sqlite_url, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read().decode() if process.stdout else ""
    assert f"Tastevin review: http://127.0.0.1:{port}" in output and "login: none" in output
    with socket.socket() as probe:  # the Streamlit child is gone with it (TIME_WAIT is fine)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
