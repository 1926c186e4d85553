"""Redis alive but slower than LLMEDGE_LIMITS_TIMEOUT_MS: the fail policy decides, and the response says so.

A `llmedge serve` instance reaches the cluster's Redis through a proxy that answers every round trip
100 ms late, with an admission budget of 20 ms: every admission runs out of time while the store itself
works (job records, QStash, callbacks all succeed, only later).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from llmedge.devstack.process import StackProcess
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_proxy import CountingProxy
from tests.e2e_limits.calls import chat, final_job, marker, submit
from tests.e2e_limits.cluster import Cluster, start_serve
from tests.e2e_limits.tiers import ROOMY, SLOW_STORE

STORE_DELAY_S = 0.1
ADMISSION_BUDGET_MS = 20


@pytest.fixture(scope="module")
def slow_instance(
    limits_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackProcess]:
    proxy = CountingProxy(limits_cluster.env["UPSTASH_REDIS_REST_URL"], delay_s=STORE_DELAY_S)
    with serve_in_background(proxy.app) as proxy_url:
        extra = {"UPSTASH_REDIS_REST_URL": proxy_url, "LLMEDGE_LIMITS_TIMEOUT_MS": str(ADMISSION_BUDGET_MS)}
        instance = start_serve(
            limits_cluster.stack, tmp_path_factory.mktemp("slow-store"), "slow-store", extra
        )
        try:
            yield instance
        finally:
            instance.stop()


@pytest.fixture
async def slow_client(slow_instance: StackProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=slow_instance.base_url, timeout=30) as client:
        yield client


async def test_a_fail_closed_limit_refuses_when_the_store_is_slow(slow_client: httpx.AsyncClient) -> None:
    response = await submit(slow_client, ROOMY, chat(marker("slow-closed")))  # its tier has a token budget
    assert response.status_code == 503, response.text
    assert response.headers["x-ratelimit-status"] == "fail-closed; limit=tokens"
    assert response.json()["error"]["limit"] == "tokens"


async def test_a_fail_open_admission_is_still_queued_when_only_the_limits_were_too_slow(
    slow_client: httpx.AsyncClient,
) -> None:
    """Admitted by policy, the request still goes through QStash (flow control, job, cache fill): nothing
    says the store is down, only that the admission missed its budget. Answering it with a direct model
    call instead (bypass mode, meant for a store that cannot be reached) would skip QStash's flow
    control exactly when a burst makes the admissions slow."""
    response = await submit(slow_client, SLOW_STORE, chat(marker("slow-open")))
    assert response.headers["x-ratelimit-status"] == "fail-open"
    assert (response.status_code, response.headers["x-cache"]) == (202, "MISS"), response.text
    assert (await final_job(slow_client, SLOW_STORE, response.json()["job_id"]))["status"] == "done"
