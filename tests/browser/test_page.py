"""The polling page in real headless Chromium against `llmedge dev`: answer, cache badge, limits, errors."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import screenshot
from tests.stack_fixture import TINY_TIER_KEYS
from tests.waiting import wait_for_room_in_window

WAIT_MS = 20_000  # a job crosses broker, simulator and callback on two busy cores


def unique(text: str) -> str:
    return f"{text} #{uuid.uuid4().hex[:10]}"


def ask(page: Page, prompt: str) -> None:
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Ask").click()


def test_answer_appears_then_the_same_prompt_is_a_cache_hit_without_polling(page: Page) -> None:
    prompt = unique("What is the capital of France?")
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_label("Prompt").press("Enter")  # Enter submits

    answer = page.locator("#answer-text")
    expect(answer).to_contain_text(f"Simulated answer to: {prompt}", timeout=WAIT_MS)
    expect(page.locator("#cache-badge")).to_have_attribute("data-cache", "MISS")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Answered in \d"))
    expect(page.locator("#answer-meta")).to_contain_text("tokens in")
    screenshot(page, "answer")

    polls: list[str] = []

    def record(request: Request) -> None:
        if "/api/result" in request.url:
            polls.append(request.url)

    page.on("request", record)
    page.get_by_role("button", name="Ask").click()
    badge = page.locator("#cache-badge")
    expect(badge).to_have_attribute("data-cache", "HIT")
    expect(badge).to_have_text("Cache hit")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^Answered from the cache in "))
    expect(answer).to_contain_text(f"Simulated answer to: {prompt}")
    assert polls == [], "a cache hit is answered by /api/generate itself, with no polling"
    screenshot(page, "cache-hit")


def test_model_output_is_shown_as_text_never_as_html(page: Page) -> None:
    prompt = unique('<img src="x" onerror="document.title=\'pwned\'"><b>bold</b>')
    ask(page, prompt)
    answer = page.locator("#answer-text")
    expect(answer).to_contain_text("<b>bold</b>", timeout=WAIT_MS)
    assert answer.locator("b, img").count() == 0
    assert page.title() != "pwned"


def test_rate_limited_submit_shows_a_countdown_to_the_reset(page: Page) -> None:
    page.get_by_text("API key", exact=True).click()  # opens the <details>
    page.get_by_label("API key (kept in this browser only)").fill(TINY_TIER_KEYS["browser"])
    wait_for_room_in_window()
    for number in (1, 2):  # the tiny tier allows two requests a minute
        ask(page, unique(f"allowed {number}"))
        expect(page.get_by_role("status")).to_have_text(re.compile(r"^Answered"), timeout=WAIT_MS)

    ask(page, unique("one too many"))
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=WAIT_MS)
    expect(alert.get_by_role("heading")).to_have_text("Rate limit reached")
    expect(alert).to_contain_text("request limit reached: 2 requests per 1m")
    countdown = page.locator("#error-countdown")
    expect(countdown).to_have_text(re.compile(r"^You can try again in \d+ s\.$"))
    first = int(countdown.get_attribute("data-seconds-left") or "0")
    assert 0 < first <= 60
    # It counts down live (waits on the condition, up to the default 5 s).
    expect(countdown).not_to_have_attribute("data-seconds-left", str(first))
    assert int(countdown.get_attribute("data-seconds-left") or "0") < first
    expect(page.get_by_role("status")).to_have_text("Rate limited.")
    screenshot(page, "rate-limited")

    page.reload()  # the key is remembered in this browser
    expect(page.locator("#api-key")).to_have_value(TINY_TIER_KEYS["browser"])


def test_validation_error_is_shown_in_words_and_marks_the_field(page: Page) -> None:
    page.get_by_label("Model").fill("not a model name")
    ask(page, unique("hello"))
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Please check the form")
    expect(alert).to_contain_text("model")
    expect(page.locator("#error-request")).to_contain_text("Request id: ")
    expect(page.get_by_label("Model")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Model")).to_be_focused()


def test_empty_prompt_is_refused_before_sending(page: Page) -> None:
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if "/api/" in request.url else None)
    page.get_by_role("button", name="Ask").click()
    expect(page.get_by_role("alert")).to_contain_text("Write a prompt first.")
    expect(page.get_by_label("Prompt")).to_be_focused()
    assert sent == []


def test_failed_model_call_is_explained(page: Page) -> None:
    ask(page, unique("refused upstream [sim:status=400]"))
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("The model call failed", timeout=WAIT_MS)
    expect(alert).to_contain_text("the model API answered 400")


def test_image_answer_is_shown_as_an_image(page: Page) -> None:
    page.get_by_label("Image").check()
    expect(page.get_by_label("Model")).to_have_value("gpt-image-1")
    ask(page, unique("a red square"))
    image = page.locator("#answer-image")
    expect(image).to_be_visible(timeout=WAIT_MS)
    page.wait_for_function("document.getElementById('answer-image').complete")
    assert image.evaluate("img => img.naturalWidth") > 0
    assert page.locator("#answer-text").text_content() == ""


def test_readable_on_a_phone(browser, stack) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True
    )
    try:
        phone = context.new_page()
        phone.goto(f"{stack.base_url}/")
        ask(phone, unique("Short answer please"))
        expect(phone.locator("#answer-text")).to_contain_text("Simulated answer", timeout=WAIT_MS)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
        button = phone.get_by_role("button", name="Ask").bounding_box()
        assert button is not None and button["height"] >= 44  # a comfortable touch target
        screenshot(phone, "phone")
    finally:
        context.close()


# The rest stand in for the gateway with canned responses (Playwright's request routing), for states the
# local stack cannot produce on demand: a semantic hit, a retrying job, a busy gateway, an unchanged job.


def chat_result(text: str) -> dict[str, Any]:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7},
    }


def test_semantic_hit_badge_shows_the_similarity(page: Page) -> None:
    body = {
        "status": "done",
        "job_id": "job_semantic",
        "result": chat_result("Paris."),
        "cache": {"status": "SEMANTIC-HIT", "similarity": 0.9312, "age": 12},
    }
    page.route(
        "**/api/generate",
        lambda route: route.fulfill(
            status=200, json=body, headers={"X-Cache": "SEMANTIC-HIT", "X-Cache-Similarity": "0.9312"}
        ),
    )
    ask(page, "what's France's capital?")
    badge = page.locator("#cache-badge")
    expect(badge).to_have_attribute("data-cache", "SEMANTIC-HIT")
    expect(badge).to_have_text("Similar question · 0.93")
    expect(badge).to_have_attribute("title", re.compile("stored 12 s ago"))
    expect(page.locator("#answer-text")).to_have_text("Paris.")


def test_polling_follows_retrying_busy_and_unchanged_answers_to_the_end(page: Page) -> None:
    pending = {"status": "pending", "job_id": "job_poll", "result_url": "/api/result?id=job_poll"}
    page.route(
        "**/api/generate", lambda route: route.fulfill(status=202, json=pending, headers={"Retry-After": "0"})
    )
    script = [
        (
            202,
            {"status": "retrying", "job_id": "job_poll", "attempts": 1},
            {"ETag": '"v2"', "Retry-After": "0"},
        ),
        (503, {"error": {"code": "store_unavailable", "message": "busy"}}, {"Retry-After": "0"}),
        (304, None, {"ETag": '"v2"'}),
        (200, {"status": "done", "job_id": "job_poll", "result": chat_result("Finally.")}, {}),
    ]
    seen: list[tuple[str | None, str | None]] = []

    def result(route: Route) -> None:
        status, body, headers = script[len(seen)]
        seen.append((route.request.headers.get("if-none-match"), route.request.headers.get("authorization")))
        if body is None:  # a 304 has no body
            route.fulfill(status=status, headers=headers)
        else:
            route.fulfill(status=status, json=body, headers=headers)

    page.route("**/api/result?id=job_poll", result)
    page.get_by_text("API key", exact=True).click()
    page.get_by_label("API key (kept in this browser only)").fill("my-key")
    ask(page, "slow one")
    expect(page.locator("#answer-text")).to_have_text("Finally.", timeout=WAIT_MS)
    assert len(seen) == 4
    # Every poll carries the caller's key (jobs belong to their caller); after an ETag, If-None-Match.
    assert all(authorization == "Bearer my-key" for _, authorization in seen)
    assert [etag for etag, _ in seen] == [None, '"v2"', '"v2"', '"v2"']
    expect(page.locator("#error")).to_be_hidden()
