"""Publish with the official SDK → signed delivery → callbacks, retries, DLQ (PROTOCOLS §3.7–§3.9, §4)."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from qstash import Receiver
from qstash.errors import SignatureError
from qstash.receiver import verify_with_key

from tests.devstack_qstash.conftest import (
    CURRENT_KEY,
    NEXT_KEY,
    BrokerFactory,
    RunningBroker,
    ServedDestination,
)
from tests.devstack_qstash.harness import Destination, Received, Reply, serve
from tests.waiting import wait_for


def verify(receiver: Receiver, request: Received, url: str) -> None:
    receiver.verify(signature=request.headers["upstash-signature"], body=request.body.decode(), url=url)


async def test_delivery_is_signed_and_carries_the_documented_headers(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    url = f"{destination.url}/api/work?job=1&x=%2F2"
    reply = await qstash.client.message.publish_json(
        url=url, body={"hello": "world"}, headers={"X-Custom": "yes"}
    )

    (got,) = await destination.app.arrivals("/api/work", 1)
    verify(receiver, got, url)
    assert got.method == "POST"
    assert got.query == "job=1&x=%2F2"
    assert json.loads(got.body) == {"hello": "world"}
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"] == "Upstash-QStash"
    assert got.headers["upstash-message-id"] == reply.message_id
    assert got.headers["upstash-retried"] == "0"
    assert got.headers["x-custom"] == "yes"
    assert not any(name.startswith("upstash-forward") for name in got.headers)


async def test_the_signature_binds_url_and_body(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    url = f"{destination.url}/api/bound"
    await qstash.client.message.publish(url=url, body="exact body")
    (got,) = await destination.app.arrivals("/api/bound", 1)

    verify(receiver, got, url)
    with pytest.raises(SignatureError):
        receiver.verify(signature=got.headers["upstash-signature"], body="exact body", url=f"{url}?x=1")
    with pytest.raises(SignatureError):
        receiver.verify(signature=got.headers["upstash-signature"], body="other body", url=url)


async def test_method_and_raw_body_pass_through_unchanged(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    body = "ünïcode, spaces  and\nnewlines"
    await qstash.client.message.publish(
        url=f"{destination.url}/api/put", body=body, method="PUT", content_type="text/plain; charset=utf-8"
    )
    (got,) = await destination.app.arrivals("/api/put", 1)
    assert got.method == "PUT"
    assert got.body == body.encode()
    assert got.headers["content-type"] == "text/plain; charset=utf-8"


async def test_callback_after_a_successful_delivery_is_signed_and_describes_it(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    url = f"{destination.url}/api/model"
    callback_url = f"{destination.url}/api/callback?job=7"
    destination.app.script("/api/model", Reply(200, {"X-Answer": "42"}, b'{"answer": 42}'))
    reply = await qstash.client.message.publish(
        url=url, body="question", callback=callback_url, callback_headers={"X-Tag": "cb"}
    )

    (callback,) = await destination.app.arrivals("/api/callback", 1)
    verify(receiver, callback, callback_url)
    assert callback.headers["content-type"] == "application/json"
    assert callback.headers["x-tag"] == "cb"  # the SDK's `Upstash-Callback-X-Tag`, forwarded
    assert callback.headers["upstash-message-id"] != reply.message_id  # a callback is a message of its own
    body = json.loads(callback.body)
    assert body["status"] == 200
    assert base64.b64decode(body["body"]) == b'{"answer": 42}'
    assert body["header"]["X-Answer"] == ["42"]
    assert body["retried"] == 0
    assert body["maxRetries"] == 3
    assert body["sourceMessageId"] == reply.message_id
    assert body["url"] == url
    assert body["method"] == "POST"
    assert base64.b64decode(body["sourceBody"]) == b"question"
    assert isinstance(body["notBefore"], int)
    assert isinstance(body["createdAt"], int)
    assert "dlqId" not in body


async def test_fails_twice_then_delivered_on_the_third_attempt(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    url = f"{destination.url}/api/flaky"
    callback_url = f"{destination.url}/api/callback"
    destination.app.script("/api/flaky", Reply(500, body=b"boom"), Reply(503, body=b"busy"))
    reply = await qstash.client.message.publish(url=url, body="job", callback=callback_url)

    attempts = await destination.app.arrivals("/api/flaky", 3)
    assert [attempt.retried for attempt in attempts] == [0, 1, 2]
    assert {attempt.headers["upstash-message-id"] for attempt in attempts} == {reply.message_id}
    for attempt in attempts:
        verify(receiver, attempt, url)

    callbacks = await destination.app.arrivals("/api/callback", 3)
    outcomes = sorted((json.loads(c.body)["retried"], json.loads(c.body)["status"]) for c in callbacks)
    assert outcomes == [(0, 500), (1, 503), (2, 200)]
    for callback in callbacks:
        verify(receiver, callback, callback_url)
    assert len(destination.app.at("/api/flaky")) == 3
    listed = await qstash.client.dlq.list()
    assert listed.messages == []


async def test_failure_callback_after_the_last_retry_and_the_message_is_in_the_dlq(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    url = f"{destination.url}/api/down"
    failure_url = f"{destination.url}/api/failed"
    destination.app.script("/api/down", *[Reply(500, body=b"still down")] * 3)
    reply = await qstash.client.message.publish(
        url=url, body="job", retries=2, failure_callback=failure_url, retry_delay="10 * (retried + 1)"
    )

    (failure,) = await destination.app.arrivals("/api/failed", 1)
    verify(receiver, failure, failure_url)
    assert len(destination.app.at("/api/down")) == 3  # every attempt was made before the failure callback
    body = json.loads(failure.body)
    assert body["status"] == 500
    assert body["retried"] == body["maxRetries"] == 2
    assert body["sourceMessageId"] == reply.message_id
    assert base64.b64decode(body["body"]) == b"still down"

    listed = await qstash.client.dlq.list()
    (dead,) = listed.messages
    assert dead.message_id == reply.message_id
    assert dead.dlq_id == body["dlqId"]
    assert dead.response_status == 500
    assert dead.response_body == "still down"
    assert dead.url == url
    assert dead.retry_delay_expression == "10 * (retried + 1)"
    assert (await qstash.client.dlq.get(dead.dlq_id)).message_id == reply.message_id


async def test_non_retryable_489_goes_straight_to_the_dlq(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    url = f"{destination.url}/api/refuse"
    destination.app.script("/api/refuse", Reply(489, {"Upstash-NonRetryable-Error": "true"}, b"never"))
    reply = await qstash.client.message.publish(
        url=url, body="job", retries=3, failure_callback=f"{destination.url}/api/failed"
    )

    (failure,) = await destination.app.arrivals("/api/failed", 1)
    assert json.loads(failure.body)["retried"] == 0
    assert len(destination.app.at("/api/refuse")) == 1
    (dead,) = (await qstash.client.dlq.list()).messages
    assert (dead.message_id, dead.response_status) == (reply.message_id, 489)


async def test_489_without_the_header_is_retried_like_any_failure(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    destination.app.script("/api/odd", Reply(489, body=b"odd"))
    await qstash.client.message.publish(url=f"{destination.url}/api/odd", body="job")
    attempts = await destination.app.arrivals("/api/odd", 2)
    assert [attempt.retried for attempt in attempts] == [0, 1]


async def test_unreachable_destination_is_retried_then_dead_lettered(
    qstash: RunningBroker, destination: ServedDestination, unused_tcp_port: int
) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/nobody-listens"
    reply = await qstash.client.message.publish(
        url=url, body="job", retries=2, retry_delay="1", failure_callback=f"{destination.url}/api/failed"
    )

    (failure,) = await destination.app.arrivals("/api/failed", 1)
    body = json.loads(failure.body)
    assert (body["status"], body["retried"], body["sourceMessageId"]) == (0, 2, reply.message_id)
    (dead,) = (await qstash.client.dlq.list()).messages
    assert dead.response_status == 0


async def test_next_key_signs_after_a_rotation_and_still_verifies(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    assert (await qstash.client.signing_key.get()).current == CURRENT_KEY
    rotated = await qstash.client.signing_key.rotate()
    assert rotated.current == NEXT_KEY
    assert rotated.next not in {CURRENT_KEY, NEXT_KEY}

    url = f"{destination.url}/api/after-rotation"
    await qstash.client.message.publish(url=url, body="signed with next")
    (got,) = await destination.app.arrivals("/api/after-rotation", 1)
    verify(receiver, got, url)  # Receiver(current, next) falls back to the next key
    with pytest.raises(SignatureError):
        verify_with_key(
            CURRENT_KEY, signature=got.headers["upstash-signature"], body=got.body.decode(), url=url
        )


async def test_event_log_lists_the_lifecycle_with_sdk_states(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    destination.app.script("/api/logged", Reply(500))
    reply = await qstash.client.message.publish(url=f"{destination.url}/api/logged", body="job")
    await destination.app.arrivals("/api/logged", 2)

    async def states() -> list[str]:
        logs = await qstash.client.log.list(filter={"message_id": reply.message_id})
        return [log.state.value for log in reversed(logs.logs)]

    seen = await wait_for(states, until=lambda got: "DELIVERED" in got)
    assert seen == ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "DELIVERED"]


async def test_a_failing_callback_is_retried_like_a_message(
    qstash: RunningBroker, destination: ServedDestination, receiver: Receiver
) -> None:
    callback_url = f"{destination.url}/api/callback"
    destination.app.script("/api/callback", Reply(500))
    await qstash.client.message.publish(url=f"{destination.url}/api/ok", body="job", callback=callback_url)

    first, second = await destination.app.arrivals("/api/callback", 2)
    assert (first.retried, second.retried) == (0, 1)
    assert first.headers["upstash-message-id"] == second.headers["upstash-message-id"]
    assert first.body == second.body
    verify(receiver, second, callback_url)


async def test_upstash_timeout_ends_an_attempt_that_gets_no_answer(broker_factory: BrokerFactory) -> None:
    answer = asyncio.Event()

    async def hold(path: str, in_flight: int) -> None:
        if path == "/api/slow":
            await answer.wait()

    app = Destination(hold=hold)
    async with serve(app) as url, broker_factory() as running:
        await running.client.message.publish(
            url=f"{url}/api/slow", body="job", retries=0, timeout=1, failure_callback=f"{url}/api/failed"
        )
        (failure,) = await app.arrivals("/api/failed", 1)
        answer.set()
    assert json.loads(failure.body)["status"] == 0
