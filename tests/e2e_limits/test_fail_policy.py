"""Issue 4: Redis stopped → each limit behaves as its fail policy says, and the response says so.

One stack on a redis-server of our own (`REDIS_URL`), three gateways on it with different policies:
- `default`: the dev stack's own gateway, no LLMEDGE_LIMITS_FAIL_POLICY (tokens closed, the rest open);
- `open`: every limit open;
- `closed`: every limit closed, and no global limit (which would otherwise be the first to refuse).
Before Redis goes, the `open` instance sees the tiny tier's caller go over its request limit; its local
block cache must keep refusing that caller without Redis.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from llmedge.devstack.process import StackProcess
from llmedge.devstack.redis_server import RedisServer
from llmedge.limits.policy import LIMIT_NAMES
from tests.e2e_limits.calls import chat, marker
from tests.e2e_limits.cluster import cluster
from tests.e2e_limits.tiers import REQUESTS, SLOTS, TINY, TOKENS, Key
from tests.stack_fixture import SimulatorProbe
from tests.waiting import wait_for_room_in_window

ALL_OPEN = json.dumps(dict.fromkeys(LIMIT_NAMES, "open"))
ALL_CLOSED = json.dumps(dict.fromkeys(LIMIT_NAMES, "closed"))


@dataclass
class Outage:
    gateways: dict[str, StackProcess]
    simulator_url: str


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    with (
        RedisServer() as redis,
        cluster(
            tmp_path_factory.mktemp("outage"),
            instances={
                "open": {"LLMEDGE_LIMITS_FAIL_POLICY": ALL_OPEN},
                "closed": {"LLMEDGE_LIMITS_FAIL_POLICY": ALL_CLOSED, "LLMEDGE_GLOBAL_LIMIT": "off"},
            },
            stack_env={"REDIS_URL": redis.url},
        ) as running,
    ):
        gateways = {"default": running.stack, "open": running.instances[0], "closed": running.instances[1]}
        # The tiny tier allows 2 requests a minute: the third is refused, and the instance remembers it
        # until the window ends — so start early in a window, leaving the tests below time to see it.
        wait_for_room_in_window(60, room_s=45)
        statuses = [
            httpx.post(
                f"{gateways['open'].base_url}/api/generate", json=chat(marker("tiny")), headers=TINY.headers
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [202, 202, 429]
        redis.stop()
        yield Outage(gateways, f"{running.stack.base_url}/openai")


@pytest.fixture
async def sim(outage: Outage) -> AsyncIterator[SimulatorProbe]:
    async with httpx.AsyncClient(base_url=outage.simulator_url, timeout=10) as client:
        yield SimulatorProbe(client)


async def _submit(gateway: StackProcess, key: Key, prompt: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=15) as client:
        return await client.post("/api/generate", json=chat(prompt), headers=key.headers)


# First: the block it checks lasts only until the end of the window the fixture started in.
async def test_a_caller_already_over_its_request_limit_stays_refused_without_redis(
    outage: Outage, sim: SimulatorProbe
) -> None:
    prompt = marker("blocked")
    response = await _submit(outage.gateways["open"], TINY, prompt)
    assert response.status_code == 429, response.text
    assert "x-ratelimit-status" not in response.headers  # decided by the count it knew, not by a policy
    assert response.headers["ratelimit-limit"] == "2"
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["limit"] == "requests"
    assert await sim.calls(prompt) == []


@pytest.mark.parametrize(
    ("gateway", "key", "limit"),
    [
        ("default", TOKENS, "tokens"),
        ("closed", REQUESTS, "requests"),
        ("closed", TOKENS, "tokens"),
        ("closed", SLOTS, "in_flight"),
    ],
)
async def test_a_fail_closed_limit_refuses_with_503_naming_it(
    outage: Outage, sim: SimulatorProbe, gateway: str, key: Key, limit: str
) -> None:
    prompt = marker("closed")
    response = await _submit(outage.gateways[gateway], key, prompt)
    assert response.status_code == 503, response.text
    assert response.headers["x-ratelimit-status"] == f"fail-closed; limit={limit}"
    assert int(response.headers["retry-after"]) > 0
    error = response.json()["error"]
    assert (error["code"], error["limit"]) == ("store_unavailable", limit)
    assert f"the {limit} limit cannot be checked" in error["message"]
    assert await sim.calls(prompt) == []
    # The choice is logged by the instance that made it.
    assert f"failing closed on {limit} for {key.caller_id}" in outage.gateways[gateway].log()


@pytest.mark.parametrize(("gateway", "key"), [("default", REQUESTS), ("open", TOKENS), ("open", SLOTS)])
async def test_fail_open_limits_admit_and_the_answer_comes_directly_from_the_model(
    outage: Outage, sim: SimulatorProbe, gateway: str, key: Key
) -> None:
    """Admitted by policy, the request cannot be kept as a job either (no Redis): the gateway calls the
    model itself (bypass mode, `X-Cache: BYPASS`) and says that the limits were not checked."""
    prompt = marker("open")
    response = await _submit(outage.gateways[gateway], key, prompt)
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-status"] == "fail-open"
    assert response.headers["x-cache"] == "BYPASS"
    body = response.json()
    assert body["status"] == "done"
    assert prompt in body["result"]["choices"][0]["message"]["content"]
    assert len(await sim.calls(prompt)) == 1
    assert f"failing open for {key.caller_id}" in outage.gateways[gateway].log()
