"""The official SDKs and the gateway against the running stack, all through its one port."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import qstash
import upstash_redis
import upstash_redis.asyncio

from tests.stack_fixture import RunningStack, SimulatorProbe
from tests.waiting import wait_for


def marker() -> str:
    """A string unique to one test, to find its calls in the shared simulator's log."""
    return f"mark-{uuid.uuid4().hex[:12]}"


def chat_body(prompt: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}


def test_sync_upstash_redis_through_the_stack(stack: RunningStack) -> None:
    key = marker()
    with upstash_redis.Redis(
        stack.env["UPSTASH_REDIS_REST_URL"], stack.env["UPSTASH_REDIS_REST_TOKEN"]
    ) as redis:
        assert redis.ping() == "PONG"
        assert redis.set(key, "héllo", ex=60) is True
        assert redis.get(key) == "héllo"
        assert redis.delete(key) == 1


async def test_async_upstash_redis_through_the_stack(stack: RunningStack) -> None:
    key = marker()
    url, token = stack.env["UPSTASH_REDIS_REST_URL"], stack.env["UPSTASH_REDIS_REST_TOKEN"]
    async with upstash_redis.asyncio.Redis(url, token) as redis:
        assert await redis.ping() == "PONG"
        assert await redis.incrby(key, 5) == 5
        assert await redis.get(key) == "5"
        assert await redis.delete(key) == 1


async def publish_to_simulator(stack: RunningStack, prompt: str) -> str:
    client = qstash.AsyncQStash(stack.env["QSTASH_TOKEN"], base_url=stack.env["QSTASH_URL"])
    try:
        response = await client.message.publish_json(
            url=f"{stack.env['OPENAI_BASE_URL']}/chat/completions",
            body=chat_body(prompt),
            headers={"Authorization": f"Bearer {stack.env['OPENAI_API_KEY']}"},
        )
    finally:
        await client.http._client.aclose()  # AsyncQStash has no close() of its own (qstash 3.4.0)
    assert isinstance(response, qstash.message.PublishResponse)
    return response.message_id


async def test_qstash_publish_reaches_the_simulator(stack: RunningStack, sim: SimulatorProbe) -> None:
    mark = marker()
    await publish_to_simulator(stack, f"delivered by the broker {mark}")
    [call] = await sim.wait_for_calls(mark, count=1)
    assert (call["endpoint"], call["model"], call["status"]) == ("/v1/chat/completions", "gpt-4o-mini", 200)


async def test_broker_retries_a_failing_upstream(stack: RunningStack, sim: SimulatorProbe) -> None:
    mark = marker()
    await publish_to_simulator(stack, f"flaky {mark} [sim:fail=500x1]")
    calls = await sim.wait_for_calls(mark, count=2)
    assert [(call["delivery"], call["status"]) for call in calls] == [(1, 500), (2, 200)]


async def test_gateway_answers_through_the_same_port(stack: RunningStack, sim: SimulatorProbe) -> None:
    mark = marker()
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        submitted = await client.post("/api/generate", json=chat_body(f"hello {mark}"))
        assert submitted.status_code == 202, submitted.text
        result_url = submitted.json()["result_url"]

        async def poll() -> dict[str, Any]:
            return dict((await client.get(result_url)).json())

        done = await wait_for(poll, until=lambda body: body["status"] != "pending", timeout=20)
    assert done["status"] == "done", done
    assert done["result"]["choices"][0]["message"]["content"].startswith(f"Simulated answer to: hello {mark}")
    assert len(await sim.calls(mark)) == 1


async def test_simulator_image_urls_point_through_the_stack(stack: RunningStack) -> None:
    headers = {"Authorization": f"Bearer {stack.env['OPENAI_API_KEY']}"}
    async with httpx.AsyncClient(headers=headers) as client:
        response = await client.post(
            f"{stack.env['OPENAI_BASE_URL']}/images/generations", json={"prompt": marker(), "size": "256x256"}
        )
        url = response.json()["data"][0]["url"]
        assert url.startswith(f"{stack.base_url}/openai/v1/images/files/")
        image = await client.get(url)
    assert (image.status_code, image.content[:4]) == (200, b"\x89PNG")
