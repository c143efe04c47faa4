"""`tastevin demo` end to end: every part runs, the regression shows, and nothing is left running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from reviewer.broker import free_port
from reviewer.store import make_engine

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_demo_runs_the_pipeline_and_shows_the_regression(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", "demo", "--duration", "45", "--no-browser", "--port", str(port),
         "--db", f"sqlite:///{db}", "--exit-after-setup"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"review app: http://127.0.0.1:{port}/?start=" in result.stdout
    assert "regression in 'shipping'" in result.stderr
    # The app's link shows the windows the alerts were evaluated on (the alert's own link says which).
    (link,) = [line.removeprefix("review app: ") for line in result.stdout.splitlines() if line.startswith("review app")]
    (alert_link,) = [line.removeprefix("review app (score_drop): ") for line in result.stderr.splitlines()
                     if line.startswith("review app (score_drop): ")]
    assert dict(parse_qsl(urlsplit(alert_link).query)) == dict(parse_qsl(urlsplit(link).query))
    assert urlsplit(alert_link).path == "/categories"

    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as connection:
        samples = connection.execute(sa.text("SELECT count(*) FROM sample")).scalar_one()
        categories = set(connection.execute(sa.text("SELECT DISTINCT category FROM sample")).scalars())
        judged = connection.execute(sa.text("SELECT count(DISTINCT sample_id) FROM judgment")).scalar_one()
        alerts = set(connection.execute(sa.text("SELECT key FROM alert WHERE status = 'firing'")).scalars())
        redacted = connection.execute(sa.text("SELECT count(*) FROM sample WHERE redactions != '{}'")).scalar_one()
    engine.dispose()
    assert samples > 600 and judged > 0.8 * samples
    assert {"billing", "refund", "shipping", "account", "password-reset", "classify-intent"} <= categories
    assert redacted > 0  # personal data in the simulated messages was redacted by the sampler
    assert "score_drop:shipping" in alerts and "drift:category" in alerts

    # Every process it started is gone: nothing listens on the app's port any more.
    leftovers = subprocess.run(["pgrep", "-f", f"server.port {port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


@pytest.mark.slow
def test_demo_never_prints_the_store_password(tmp_path: Path, pg_url: str) -> None:
    secret = "s3cret-demo-pw"
    # Trust authentication ignores the password, so the URL works and only its printing is tested.
    url = pg_url.replace("postgres@", f"postgres:{secret}@", 1)
    assert secret in url
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    upgrade = subprocess.run([sys.executable, "-m", "reviewer.cli", "db", "upgrade", "--db", url],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    result = subprocess.run(
        [sys.executable, "-m", "reviewer.cli", "demo", "--duration", "10", "--no-browser", "--port",
         str(free_port()), "--db", url, "--exit-after-setup"],
        capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output = result.stdout + result.stderr
    assert secret not in output
    masked = url.replace(secret, "***")
    assert f"store {masked}," in result.stderr  # the start-up line
    assert f"the store stays at {masked}" in result.stderr
