"""The HTTP surface: raw destinations through uvicorn + a Starlette Mount, auth, and bad input (JSON 4xx)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.devstack_qstash.conftest import MAX_BODY_BYTES, TOKEN, RunningBroker, ServedDestination

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def http(qstash: RunningBroker) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=qstash.url) as client:
        yield client


@pytest.mark.parametrize(
    "tail",
    [
        "/a//double/slash",
        "/encoded%2Fslash/and%20space",
        "/q?x=1&y=%2F2&empty=&repeat=1&repeat=2",
        "/v2/publish/inside/the/destination",
    ],
)
async def test_raw_destination_survives_uvicorn_and_the_mount(
    qstash: RunningBroker, destination: ServedDestination, tail: str
) -> None:
    url = f"{destination.url}{tail}"
    reply = await qstash.client.message.publish(url=url, body="x", delay="1d")
    assert (await qstash.client.message.get(reply.message_id)).url == url


async def test_destination_gets_the_raw_path_and_query_it_was_published_to(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    await qstash.client.message.publish(url=f"{destination.url}/api//raw%2Fpath?a=%2F&b=2", body="x")
    (got,) = await destination.app.arrivals("/api//raw/path", 1)  # ASGI decodes the path it routes on
    assert got.query == "a=%2F&b=2"


async def test_query_token_authenticates_and_is_not_part_of_the_destination(
    qstash: RunningBroker, destination: ServedDestination, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"/v2/publish/{destination.url}/api/t?keep=1&qstash_token={TOKEN}&also=2", content=b"x"
    )
    assert response.status_code == 200
    message = await qstash.client.message.get(response.json()["messageId"])
    assert message.url == f"{destination.url}/api/t?keep=1&also=2"


async def test_batch_publishes_each_message_with_its_own_headers(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    replies = await qstash.client.message.batch_json(
        [
            {"url": f"{destination.url}/api/b1", "body": {"n": 1}, "headers": {"X-N": "1"}},
            {"url": f"{destination.url}/api/b2", "body": {"n": 2}, "method": "PUT"},
        ]
    )
    assert len(replies) == 2
    (first,) = await destination.app.arrivals("/api/b1", 1)
    (second,) = await destination.app.arrivals("/api/b2", 1)
    assert (first.body, first.headers["x-n"], first.method) == (b'{"n": 1}', "1", "POST")
    assert (second.body, second.method) == (b'{"n": 2}', "PUT")


async def test_keys_endpoint_answers_current_and_next(http: httpx.AsyncClient) -> None:
    response = await http.get("/v2/keys", headers=AUTH)
    assert set(response.json()) == {"current", "next"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
    ],
)
async def test_missing_or_wrong_token_is_401(
    http: httpx.AsyncClient, destination: ServedDestination, headers: dict[str, str], status: int
) -> None:
    response = await http.post(f"/v2/publish/{destination.url}/x", content=b"x", headers=headers)
    assert response.status_code == status
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("header", "value", "named"),
    [
        ("Upstash-Retries", "many", "Upstash-Retries"),
        ("Upstash-Retries", "-1", "Upstash-Retries"),
        ("Upstash-Delay", "soon", "Upstash-Delay"),
        ("Upstash-Delay", "10y", "Upstash-Delay"),
        ("Upstash-Not-Before", "tomorrow", "Upstash-Not-Before"),
        ("Upstash-Timeout", "0s", "Upstash-Timeout"),
        ("Upstash-Method", "FETCH", "Upstash-Method"),
        ("Upstash-Retry-Delay", "__import__('os').system('true')", "Upstash-Retry-Delay"),
        ("Upstash-Retry-Delay", "retried.__class__", "Upstash-Retry-Delay"),
        ("Upstash-Retry-Delay", "pow(2)", "Upstash-Retry-Delay"),
        ("Upstash-Content-Based-Deduplication", "maybe", "Upstash-Content-Based-Deduplication"),
        ("Upstash-Callback", "not-a-url", "Upstash-Callback"),
        ("Upstash-Failure-Callback", "ftp://x", "Upstash-Failure-Callback"),
        ("Upstash-Flow-Control-Value", "parallelism=2", "Upstash-Flow-Control-Key"),
    ],
)
async def test_bad_header_values_are_400_naming_the_header(
    http: httpx.AsyncClient, destination: ServedDestination, header: str, value: str, named: str
) -> None:
    response = await http.post(
        f"/v2/publish/{destination.url}/x", content=b"x", headers={**AUTH, header: value}
    )
    assert response.status_code == 400
    assert named in response.json()["error"]


@pytest.mark.parametrize(
    "value", ["parallelism=0", "rate=x", "burst=2", "period=2w", "parallelism=1, parallelism=2"]
)
async def test_bad_flow_control_values_are_400(
    http: httpx.AsyncClient, destination: ServedDestination, value: str
) -> None:
    headers = {**AUTH, "Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": value}
    response = await http.post(f"/v2/publish/{destination.url}/x", content=b"x", headers=headers)
    assert response.status_code == 400
    assert "Upstash-Flow-Control-Value" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v2/publish/", b"x", 400),  # no destination
        ("POST", "/v2/publish/my-url-group", b"x", 400),  # not an http(s) URL
        ("POST", "/v2/batch", b"{not json", 400),
        ("POST", "/v2/batch", b'{"destination": "http://x"}', 400),  # not an array
        ("POST", "/v2/batch", b'[{"destination": 5}]', 400),
        (
            "POST",
            "/v2/batch",
            b'[{"destination": "http://127.0.0.1:9/x", "headers": {"Upstash-Delay": "?"}}]',
            400,
        ),
        ("DELETE", "/v2/messages", b"[1, 2]", 400),
        ("DELETE", "/v2/messages", b'{"messageIds": "msg_1"}', 400),
        ("POST", "/v2/queues", b'{"queueName": "q", "parallelism": 0}', 400),
        ("GET", "/v2/messages/msg_unknown", b"", 404),
        ("DELETE", "/v2/messages/msg_unknown", b"", 404),
        ("GET", "/v2/dlq/123-0", b"", 404),
        ("POST", "/v2/dlq/retry/123-0", b"", 404),
        ("GET", "/v2/dlq?count=abc", b"", 400),
        ("GET", "/v2/events?state=CANCELLED", b"", 400),  # the SDK's enum spells it CANCELED
        ("GET", "/v2/queues/none", b"", 404),
        ("GET", "/v2/nothing-here", b"", 404),
        ("PUT", "/v2/keys", b"", 405),
    ],
)
async def test_bad_requests_get_json_4xx_never_500(
    http: httpx.AsyncClient, method: str, path: str, body: bytes, status: int
) -> None:
    response = await http.request(method, path, content=body, headers=AUTH)
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)


async def test_oversized_body_is_413(http: httpx.AsyncClient, destination: ServedDestination) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = await http.post(f"/v2/publish/{destination.url}/x", content=big, headers=AUTH)
    assert response.status_code == 413
    assert "error" in response.json()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while streaming too
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    response = await http.post(f"/v2/publish/{destination.url}/x", content=chunks(), headers=AUTH)
    assert response.status_code == 413
