"""The demo's story where the demo sends people: its own link, in a real browser, shows shipping dropped.

Runs ``tastevin demo`` (short) as a user would, takes the link it prints, opens it in
Debian's Chromium through Playwright, goes to the Categories page through the sidebar
and expects shipping flagged as dropped there — and the URL still holding the demo's
windows; a window typed into the sidebar then shows in the URL. Then Ctrl-C (SIGINT)
stops the demo and everything it started.
Needs ``chromium`` and ``playwright`` (see tests/reviewer/app/test_browser.py).
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from reviewer.broker import free_port
from reviewer.links import WindowQuery
from tests.reviewer.app.test_browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path, settle

ROOT = Path(__file__).resolve().parents[3]
DURATION_S = 40  # as in the issue: shipping is 16% of the traffic after the regression and half of it
# is judged (its rubric's judge_fraction), so 40 s leaves 20+ scored shipping samples on each side
TIMEOUT_MS = 60_000


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        into.put(line)


def _wait_for_link(process: subprocess.Popen[str], lines: queue.Queue[str], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("review app: "):
            return line.removeprefix("review app: ").strip()
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
    pytest.fail(f"the demo printed no link within {timeout_s:.0f} s (exit {process.poll()}): {stderr[-3000:]}")


@pytest.mark.slow
def test_the_demos_link_shows_shipping_dropped_in_a_browser(tmp_path: Path) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run scripts/setup (it installs tastevin[dev])")
    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reviewer.cli", "demo", "--duration", str(DURATION_S), "--no-browser", "--port",
         str(port), "--db", f"sqlite:///{tmp_path / 'demo.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        link = _wait_for_link(process, lines, timeout_s=150)
        assert link.startswith(f"http://127.0.0.1:{port}/?start=")
        query = dict(parse_qsl(urlsplit(link).query))
        windows = WindowQuery.from_params(query)
        assert windows.absolute and (query["min_samples"], query["alpha"]) == ("20", "0.01")
        assert windows.baseline_start is not None and windows.start is not None and windows.end is not None
        # Before the regression and after it: about half the demo each, whole seconds.
        assert abs((windows.start - windows.baseline_start).total_seconds() - DURATION_S / 2) <= 2
        assert abs((windows.end - windows.start).total_seconds() - DURATION_S / 2) <= 3

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1400})
                page.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page.goto(link)
                settle(page, "stVegaLiteChart", "Overview")
                page.locator('[data-testid="stSidebarNavLink"]', has_text="Categories").click()
                settle(page, "stDataFrame", "Categories")
                main = page.locator('[data-testid="stMain"]')
                expect(main).to_contain_text(re.compile(r"dropped significantly \(p < 0\.01\): [^\n]*shipping"))
                expect(main).not_to_contain_text("No category dropped significantly")
                # The sidebar kept the demo's windows, and so did the address bar.
                page.wait_for_url(lambda url: urlsplit(url).path == "/categories"
                                  and dict(parse_qsl(urlsplit(url).query)) == query)
                page.screenshot(path=str(ARTIFACTS / "demo-categories.png"), full_page=True)
                # Changing the window in the sidebar changes the URL: relative windows, the last 90 minutes.
                sidebar = page.locator('[data-testid="stSidebar"]')
                sidebar.get_by_text("Last …", exact=True).click()
                window = sidebar.get_by_label("Current window", exact=True)
                window.fill("90m")
                window.press("Enter")
                page.wait_for_url(lambda url: dict(parse_qsl(urlsplit(url).query)) == {
                    "window": "90m", "baseline": "28d", "min_samples": "20", "alpha": "0.01"})
            finally:
                browser.close()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0
