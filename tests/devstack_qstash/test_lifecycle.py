"""Message management through the official SDK: get, cancel, deduplication, queues, DLQ, restarts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from qstash.errors import QStashError

from tests.devstack_qstash.conftest import TOKEN, BrokerFactory, RunningBroker, ServedDestination
from tests.devstack_qstash.harness import Destination, Reply, serve
from tests.waiting import wait_for


async def test_get_shows_the_stored_message_as_the_sdk_parses_it(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    url = f"{destination.url}/api/later?a=1"
    reply = await qstash.client.message.publish_json(
        url=url,
        body={"k": "v"},
        headers={"X-Fwd": "1"},
        retries=5,
        retry_delay="pow(2, retried) * 1000",
        delay="1h",
        callback=f"{destination.url}/cb",
        failure_callback=f"{destination.url}/failed",
        flow_control={"key": "model-a", "parallelism": 3, "period": "1h30m3s"},
        label="nightly",
    )

    message = await qstash.client.message.get(reply.message_id)
    assert message.message_id == reply.message_id
    assert message.url == url
    assert message.method == "POST"
    assert message.body == '{"k": "v"}'
    assert message.headers == {"X-Fwd": ["1"], "Content-Type": ["application/json"]}
    assert message.max_retries == 5
    assert message.retry_delay_expression == "pow(2, retried) * 1000"
    assert message.callback == f"{destination.url}/cb"
    assert message.failure_callback == f"{destination.url}/failed"
    assert message.label == "nightly"
    assert message.flow_control is not None
    assert (message.flow_control.key, message.flow_control.parallelism) == ("model-a", 3)
    assert (message.flow_control.rate, message.flow_control.period) == (None, 5403)
    # One hour scaled by the test's time scale (0.001) is 3.6 s after creation.
    assert message.not_before - message.created_at == 3600


async def test_cancelled_delayed_message_is_never_delivered(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    doomed = await qstash.client.message.publish(url=f"{destination.url}/api/doomed", body="x", delay="300s")
    await qstash.client.message.cancel(doomed.message_id)
    # The sentinel falls due after the cancelled one would have: once it arrives, the other had its chance.
    await qstash.client.message.publish(url=f"{destination.url}/api/sentinel", body="x", delay="600s")

    await destination.app.arrivals("/api/sentinel", 1)
    assert destination.app.at("/api/doomed") == []
    with pytest.raises(QStashError, match="404"):
        await qstash.client.message.get(doomed.message_id)
    states = [
        log.state.value
        for log in (await qstash.client.log.list(filter={"message_id": doomed.message_id})).logs
    ]
    assert states[:2] == ["CANCELED", "CANCEL_REQUESTED"]
    with pytest.raises(QStashError, match="404"):
        await qstash.client.message.cancel(doomed.message_id)


async def test_bulk_cancel_by_sdk_body_and_by_query(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    ids = [
        (
            await qstash.client.message.publish(url=f"{destination.url}/api/bulk", body=str(n), delay="1d")
        ).message_id
        for n in range(4)
    ]
    labelled = await qstash.client.message.publish(
        url=f"{destination.url}/api/bulk", body="l", delay="1d", label="drop-me"
    )

    assert await qstash.client.message.cancel_many(ids[:2]) == 2
    async with httpx.AsyncClient() as http:
        response = await http.delete(
            f"{qstash.url}/v2/messages",
            params={"label": "drop-me"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert response.json() == {"cancelled": 1}
    with pytest.raises(QStashError, match="404"):
        await qstash.client.message.get(labelled.message_id)
    assert await qstash.client.message.cancel_all() == 2
    for message_id in ids:
        with pytest.raises(QStashError, match="404"):
            await qstash.client.message.get(message_id)


async def test_duplicate_deduplication_id_is_accepted_but_delivered_once(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    # A queue delivers in order, so once the sentinel behind them arrives, a duplicate would have too.
    url = f"{destination.url}/api/once"
    first = await qstash.client.message.enqueue(queue="ordered", url=url, body="1", deduplication_id="job-1")
    second = await qstash.client.message.enqueue(queue="ordered", url=url, body="2", deduplication_id="job-1")
    third = await qstash.client.message.enqueue(
        queue="ordered", url=url, body="3", content_based_deduplication=True
    )
    fourth = await qstash.client.message.enqueue(
        queue="ordered", url=url, body="3", content_based_deduplication=True
    )
    await qstash.client.message.enqueue(queue="ordered", url=f"{destination.url}/api/sentinel", body="end")

    assert (second.message_id, second.deduplicated) == (first.message_id, True)
    assert (fourth.message_id, fourth.deduplicated) == (third.message_id, True)
    assert not first.deduplicated and not third.deduplicated
    await destination.app.arrivals("/api/sentinel", 1)
    assert [request.body for request in destination.app.at("/api/once")] == [b"1", b"3"]


async def test_queue_delivers_in_order_one_at_a_time_through_retries(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    destination.app.script("/api/q", Reply(500))  # the head fails once; the next must wait for its retry
    for n in range(4):
        await qstash.client.message.enqueue(queue="fifo", url=f"{destination.url}/api/q", body=str(n))

    got = await destination.app.arrivals("/api/q", 5)
    assert [(request.body, request.retried) for request in got] == [
        (b"0", 0),
        (b"0", 1),
        (b"1", 0),
        (b"2", 0),
        (b"3", 0),
    ]
    assert destination.app.max_in_flight == 1
    queue = await qstash.client.queue.get("fifo")
    assert (queue.name, queue.parallelism, queue.lag, queue.paused) == ("fifo", 1, 0, False)


async def test_paused_queue_holds_its_messages_until_resumed(
    qstash: RunningBroker, destination: ServedDestination
) -> None:
    await qstash.client.queue.upsert("held", parallelism=2, paused=True)
    await qstash.client.message.enqueue(queue="held", url=f"{destination.url}/api/held", body="x")
    await qstash.client.message.publish(url=f"{destination.url}/api/sentinel", body="x")
    await destination.app.arrivals("/api/sentinel", 1)
    assert destination.app.at("/api/held") == []
    assert (await qstash.client.queue.get("held")).lag == 1

    await qstash.client.queue.resume("held")
    await destination.app.arrivals("/api/held", 1)


async def test_dlq_delete_and_retry(qstash: RunningBroker, destination: ServedDestination) -> None:
    destination.app.script("/api/dead", Reply(500), Reply(500))
    for _ in range(2):
        await qstash.client.message.publish(url=f"{destination.url}/api/dead", body="x", retries=0)

    async def dead_letters() -> list[str]:
        return [message.dlq_id for message in (await qstash.client.dlq.list()).messages]

    first, second = await wait_for(dead_letters, until=lambda ids: len(ids) == 2)
    await qstash.client.dlq.delete(first)
    with pytest.raises(QStashError, match="404"):
        await qstash.client.dlq.get(first)

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        retried = await http.post(f"{qstash.url}/v2/dlq/retry/{second}")
        assert retried.status_code == 201
        await destination.app.arrivals("/api/dead", 3)  # the retry succeeds (the script is used up)
        assert (await http.post(f"{qstash.url}/v2/dlq/retry/{second}")).status_code == 404
    assert destination.app.at("/api/dead")[-1].headers["upstash-message-id"] == retried.json()["messageId"]
    assert await dead_letters() == []


async def test_restart_during_a_delay_loses_nothing(
    broker_factory: BrokerFactory, destination: ServedDestination
) -> None:
    # 150 s at a 0.01 time scale is 1.5 s of real time: broker A is gone well before then.
    async with broker_factory(time_scale=0.01) as first:
        reply = await first.client.message.publish(
            url=f"{destination.url}/api/later", body="kept", delay="150s"
        )
    async with broker_factory() as second:
        assert (await second.client.message.get(reply.message_id)).body == "kept"  # not delivered by A
        (got,) = await destination.app.arrivals("/api/later", 1)
    assert got.headers["upstash-message-id"] == reply.message_id


async def test_delivery_in_flight_when_the_broker_stops_is_made_again(broker_factory: BrokerFactory) -> None:
    first_attempt_open = asyncio.Event()
    release = asyncio.Event()

    async def hold(path: str, in_flight: int) -> None:
        if not first_attempt_open.is_set():
            first_attempt_open.set()
            await release.wait()  # never answers while broker A runs

    app = Destination(hold=hold)
    async with serve(app) as url:
        async with broker_factory() as first:
            reply = await first.client.message.publish(url=f"{url}/api/slow", body="again")
            await wait_for(lambda: _is_set(first_attempt_open), until=bool)
        async with broker_factory() as second:
            await wait_for(lambda: _count(app, "/api/slow"), until=lambda n: n >= 1)
            assert app.at("/api/slow")[0].headers["upstash-message-id"] == reply.message_id
            assert app.at("/api/slow")[0].retried == 0
            await wait_for(lambda: _stored(second, reply.message_id), until=lambda stored: not stored)
        release.set()


async def _stored(running: RunningBroker, message_id: str) -> bool:
    try:
        await running.client.message.get(message_id)
    except QStashError:
        return False
    return True


async def _is_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _count(app: Destination, path: str) -> int:
    return len(app.at(path))
