"""A real headless Chromium (Debian's `chromium` package) driven by Playwright, against the local stack.

Playwright's own browser download (`playwright install`) is never used: CI and the dev machines install
Chromium with apt (`make browser-deps`), and Playwright drives it through `executable_path`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# No sandbox: CI containers run as root, where Chromium's sandbox refuses to start. The rest keeps the
# browser off the network (no update checks, no sync) so the test stays offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        found = shutil.which("chromium")
        pytest.fail(f"{CHROMIUM} is missing (found: {found}); install it: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A fresh browser profile (empty localStorage) on the gateway's page; fails the test on a script error."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    opened = context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda error: script_errors.append(str(error)))
    opened.goto(f"{stack.base_url}/")
    try:
        yield opened
    finally:
        context.close()
    assert not script_errors, f"the page raised: {script_errors}"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
