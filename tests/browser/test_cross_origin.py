"""A page on another site calls the gateway from real Chromium: CORS as a browser enforces it.

The gateway runs with LLMEDGE_CORS_ORIGINS naming the page's origin. From that origin, a JSON POST (which
makes the browser send a preflight) is queued and polled to its answer, and the script can read the
exposed headers. The same page reached under another host name is another origin: the browser refuses
the call before it is sent.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.stack_fixture import RunningStack, start_stack, stop_stack

APP_PAGE = b"<!doctype html><meta charset=utf-8><title>another site</title><p>app</p>"

# Submit, then poll the result URL the gateway returns, until done or a deadline; return what a
# frontend would see. Runs in the page, so every call is cross-origin and goes through CORS.
SUBMIT_AND_POLL = """
async ([gateway, prompt]) => {
  const submitted = await fetch(`${gateway}/api/generate`, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({model: "gpt-4o-mini", prompt}),
  });
  const job = await submitted.json();
  const seen = {status: submitted.status, xCache: submitted.headers.get("X-Cache"),
                location: submitted.headers.get("Location")};
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const polled = await fetch(`${gateway}/api/result?id=${job.job_id}`);
    const body = await polled.json();
    if (body.status !== "pending") return {...seen, final: body.status,
                                           text: body.result.choices[0].message.content};
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {...seen, final: "timed out"};
}
"""
BLOCKED_CALL = """
async (gateway) => {
  try {
    await fetch(`${gateway}/api/generate`, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"});
    return "answered";
  } catch (error) {
    return `refused: ${error.name}`;
  }
}
"""


class _AppPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(APP_PAGE)))
        self.end_headers()
        self.wfile.write(APP_PAGE)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AppPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cors_stack(app_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    origin = f"http://127.0.0.1:{app_port}"
    running = start_stack(
        tmp_path_factory.mktemp("cors-stack"),
        args=["--time-scale", "0.001"],
        environ={"LLMEDGE_CORS_ORIGINS": origin},
    )
    try:
        yield running
    finally:
        stop_stack(running)


@contextmanager
def _open(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    try:
        yield page
    finally:
        context.close()


def test_an_allowed_site_submits_polls_and_reads_the_cache_headers(
    browser: Browser, cors_stack: RunningStack, app_port: int
) -> None:
    prompt = f"cross-origin question #{uuid.uuid4().hex[:10]}"
    with _open(browser, f"http://127.0.0.1:{app_port}/") as page:
        seen = page.evaluate(SUBMIT_AND_POLL, [cors_stack.base_url, prompt])
    assert seen["status"] == 202
    assert seen["xCache"] == "MISS"  # readable only because the gateway exposes it
    assert seen["location"] and "/api/result?id=job_" in seen["location"]
    assert seen["final"] == "done" and prompt in seen["text"]


def test_another_origin_is_refused_by_the_browser(
    browser: Browser, cors_stack: RunningStack, app_port: int
) -> None:
    # Same server, other host name: a different origin, not in LLMEDGE_CORS_ORIGINS.
    with _open(browser, f"http://localhost:{app_port}/") as page:
        assert page.evaluate(BLOCKED_CALL, cors_stack.base_url) == "refused: TypeError"


def test_the_page_origin_is_really_cross_origin(app_port: int, cors_stack: RunningStack) -> None:
    # Guards the two tests above against passing vacuously on a same-origin setup.
    assert not cors_stack.base_url.startswith(f"http://127.0.0.1:{app_port}")
