"""One real browser on the real server: ``tastevin review`` as a subprocess, Debian's Chromium driven by Playwright.

Signs in with the password, opens every page, checks that its content rendered, records
a review and downloads the export, saves a screenshot per page under
``test-artifacts/review-app/`` (ignored by git), then stops the command with SIGINT.

Needs ``chromium`` (``apt-get install -y chromium``) and the ``playwright`` package, both
installed by ``scripts/setup``; never ``playwright install``, which downloads browsers.
Without them the test fails and says so: it does not skip.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.reviewer.app.seed import seed_store
from tests.reviewer.app.test_command import free_port, start_review, wait_healthy

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "review-app"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"]
PASSWORD = "browser-test-password"
TIMEOUT_MS = 90_000

# (navigation label, page title, a widget the page must show, texts that must appear outside the grids,
#  which draw on a canvas)
PAGES = [
    ("Overview", "Overview", "stVegaLiteChart", ("Recent judge runs", "Pass rate with its 95% Wilson interval")),
    ("Categories", "Categories", "stVegaLiteChart", ("dropped significantly (p < 0.05): billing", "Quality effect")),
    ("Drift", "Drift", "stVegaLiteChart", ("request_model", "Share of each value")),
    ("Samples", "Samples", "stChatMessage", ("108 matching samples", "Ticket", "Older")),
    ("Review", "Review", "stButton", ("the judge said", "Judge and people, per rubric")),
    ("Runs", "Judge runs", "stDataFrame", ("Cases of a run",)),
    ("Alerts", "Alerts", "stJson", ("billing pass rate fell from 95.0% to 50.0%", "two_proportion_z")),
    ("Export", "Export an eval dataset", "stCode", ("tastevin.eval/v1", "tastevin export --out dataset.jsonl")),
]
_DRAWING = "() => !document.querySelector('[data-testid^=\"stSkeleton\"], [data-testid=\"stAppSkeleton\"]')"


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run scripts/setup as root (it runs `apt-get install -y chromium`); "
                    "this test drives Debian's Chromium and never downloads a browser")
    return path


def settle(page: Any, testid: str, title: str) -> None:
    """Wait for the page's title and widget, then for Streamlit to finish running the script."""
    page.locator("h1", has_text=title).first.wait_for()
    page.locator(f'[data-testid="{testid}"]').first.wait_for()
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")
    page.wait_for_load_state("networkidle")  # lazily loaded widget code
    page.wait_for_function(_DRAWING)  # no placeholder left


@pytest.mark.slow
def test_every_page_in_chromium(tmp_path: Path) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run scripts/setup (it installs tastevin[dev])")
    executable = chromium_path()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    store = seed_store(f"sqlite:///{tmp_path / 'store.db'}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_review(store.url, port, env={"TASTEVIN_REVIEW_PASSWORD": PASSWORD})
    try:
        wait_healthy(url, process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1800}, accept_downloads=True)
                page.set_default_timeout(TIMEOUT_MS)
                expect.set_options(timeout=TIMEOUT_MS)
                page.goto(url)
                page.get_by_label("Password", exact=True).fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                for index, (label, title, testid, texts) in enumerate(PAGES):
                    if index:
                        page.locator('[data-testid="stSidebarNavLink"]', has_text=label).click()
                    settle(page, testid, title)
                    for text in texts:
                        expect(page.locator('[data-testid="stMain"]')).to_contain_text(text)
                    if testid == "stVegaLiteChart":
                        page.locator('[data-testid="stVegaLiteChart"] canvas, '
                                     '[data-testid="stVegaLiteChart"] svg').first.wait_for()
                    if label == "Review":
                        record_a_review(page, expect)
                    if label == "Export":
                        check_the_download(page)
                    page.screenshot(path=str(ARTIFACTS / f"{index + 1}-{label.lower()}.png"), full_page=True)
            finally:
                browser.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    assert f"Tastevin review: {url}" in output and "login: password" in output
    assert PASSWORD not in output


def record_a_review(page: Any, expect: Any) -> None:
    page.get_by_label("Your name (for reviews)").fill("playwright")
    page.get_by_label("Your name (for reviews)").press("Enter")
    # Until the rerun for the name finishes, the old (disabled) button may still be on the page.
    page.locator(".st-key-review_agree button:enabled").wait_for()
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")
    agree = page.locator(".st-key-review_agree button")
    expect(agree).to_have_count(1)
    expect(agree).to_be_enabled()
    page.get_by_label("Note (optional)").fill("checked in a real browser")
    agree.click()
    expect(page.locator('[data-testid="stMain"]')).to_contain_text("Recorded review 4")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached")


def check_the_download(page: Any) -> None:
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download JSONL").click()
    download = download_info.value
    lines = [json.loads(line) for line in Path(download.path()).read_text().splitlines()]
    assert download.suggested_filename.startswith("tastevin-eval-") and len(lines) == 108
    assert {line["schema"] for line in lines} == {"tastevin.eval/v1"}
    assert [line["ts"] for line in lines] == sorted(line["ts"] for line in lines)
