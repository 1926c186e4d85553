"""Fixtures of the limits end-to-end tests: their own stacks, with their own tiers, keys and flow control.

`limits_cluster` (session) is the main one: `llmedge dev --time-scale 0.001` plus four `llmedge serve`
instances sharing it, as four function instances share one Upstash database and one QStash. The instances start cold.

Their admission budget is raised from the default 1 s to 10 s (`LLMEDGE_LIMITS_TIMEOUT_MS`): on this
shared two-core machine, 200 concurrent requests on four cold instances took 0.8 s (p50) to 1.4 s (max)
to admit, and an admission past its budget is decided by the fail policy (requests: open), not by the
count. What the issue's bar is about is the count; the fail policy has its own tests
(`test_fail_policy.py`), with the default budget. Tests on it
run one after another and each waits for its own jobs to finish, so the next finds the simulator idle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from upstash_redis.asyncio import Redis

from tests.e2e_limits.cluster import Cluster, cluster
from tests.stack_fixture import SimulatorProbe

INSTANCES = 4


@pytest.fixture(scope="session")
def limits_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    names = {f"instance-{index}": {"LLMEDGE_LIMITS_TIMEOUT_MS": "10000"} for index in range(INSTANCES)}
    with cluster(tmp_path_factory.mktemp("limits-cluster"), instances=names) as running:
        yield running


@pytest.fixture
async def clients(limits_cluster: Cluster) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per serve instance (each with its own connection pool, as separate users' requests)."""
    opened = [
        httpx.AsyncClient(base_url=instance.base_url, timeout=30) for instance in limits_cluster.instances
    ]
    try:
        yield opened
    finally:
        for client in opened:
            await client.aclose()


class Simulator(SimulatorProbe):
    """The shared probe, plus `reset()`: these tests own their simulator, so they may reset its counters."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._control = client

    async def reset(self) -> None:
        (await self._control.post("/_sim/reset")).raise_for_status()


@pytest.fixture
async def sim(limits_cluster: Cluster) -> AsyncIterator[Simulator]:
    async with httpx.AsyncClient(base_url=f"{limits_cluster.stack.base_url}/openai", timeout=10) as client:
        yield Simulator(client)


@pytest.fixture
async def upstash(limits_cluster: Cluster) -> AsyncIterator[Redis]:
    """The cluster's Redis through the bridge, with the official client (as the gateway builds it)."""
    env = limits_cluster.env
    redis = Redis(
        env["UPSTASH_REDIS_REST_URL"], env["UPSTASH_REDIS_REST_TOKEN"], rest_retries=0, allow_telemetry=False
    )
    async with redis:
        yield redis
