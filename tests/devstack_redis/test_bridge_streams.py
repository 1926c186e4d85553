"""The streaming endpoints: /subscribe/{channel} and /monitor as server-sent events."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.devstack_redis.conftest import READONLY_TOKEN, TOKEN

SSE = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}


@pytest.fixture
def http(bridge_url: str) -> Iterator[httpx.Client]:
    # A read timeout turns a missing event into a failure instead of a hang.
    with httpx.Client(base_url=bridge_url, timeout=5) as client:
        yield client


def events(response: httpx.Response) -> Iterator[str]:
    return (line.removeprefix("data: ") for line in response.iter_lines() if line)


def test_subscribe_streams_published_messages(http: httpx.Client) -> None:
    with http.stream("POST", "/subscribe/news", headers=SSE) as response:
        assert response.headers["content-type"] == "text/event-stream"
        stream = events(response)
        assert next(stream) == "subscribe,news,1"  # subscribed: publishing now cannot be missed
        publish = http.post("/publish/news/hello%20world", headers={"Authorization": f"Bearer {TOKEN}"})
        assert publish.json() == {"result": 1}
        assert next(stream) == "message,news,hello world"
        http.post("/", json=["PUBLISH", "news", "two\nlines"], headers={"Authorization": f"Bearer {TOKEN}"})
        assert [next(stream), next(stream)] == ["message,news,two", "lines"]


def test_monitor_streams_commands_and_needs_the_full_token(http: httpx.Client, direct: redis.Redis) -> None:
    with http.stream("POST", "/monitor", headers=SSE) as response:
        stream = events(response)
        assert next(stream) == '"OK"'
        http.post("/", json=["GET", "monitored:key"], headers={"Authorization": f"Bearer {TOKEN}"})
        assert next(line for line in stream if "monitored:key" in line).endswith('"GET" "monitored:key"')
        direct.set("monitored:big", "x" * 100_000)  # a monitor line longer than asyncio's default 64 KiB
        assert next(line for line in stream if "monitored:big" in line).endswith('"x' + "x" * 99_999 + '"')
    refused = http.post("/monitor", headers={"Authorization": f"Bearer {READONLY_TOKEN}"})
    assert (refused.status_code, refused.json()["error"]) == (
        400,
        "NOPERM this user has no permissions to run the 'monitor' command",
    )


def test_stream_requests_are_checked_like_any_other(http: httpx.Client) -> None:
    assert http.post("/subscribe/news").status_code == 401
    assert http.post("/subscribe", headers=SSE).json() == {
        "error": "ERR name the channel: /subscribe/<channel>"
    }
    assert http.put("/monitor", headers=SSE).status_code == 405
