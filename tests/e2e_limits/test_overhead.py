"""What the limits cost a request through the gateway: Redis round trips (counted, asserted for a hit: the
issue's goal is one) and milliseconds (measured and printed, never asserted; run with `-s` to see them).

Round trips are counted by a pass-through proxy in front of the bridge, used by a fifth `llmedge serve`
instance only; milliseconds are measured on a direct instance, from the `admit` phase of `Server-Timing`
(the admission script: every limit and the exact-cache read in one round trip) beside a bare GET through
the same bridge, which is what a cache read alone would cost.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from upstash_redis.asyncio import Redis

from llmedge.devstack.process import StackProcess
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_proxy import CountingProxy, RoundTrip
from tests.e2e_limits.calls import chat, final_job, marker, server_timing, submit
from tests.e2e_limits.cluster import Cluster, start_serve
from tests.e2e_limits.tiers import ROOMY, TINY

SAMPLES = 50
STATS_HASH = "llmedge:stats"  # llmedge.stats: the gateway's own counters, sent in background batches


@pytest.fixture(scope="module")
def counted(
    limits_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[StackProcess, CountingProxy]]:
    proxy = CountingProxy(limits_cluster.env["UPSTASH_REDIS_REST_URL"])
    with serve_in_background(proxy.app) as proxy_url:
        extra = {"UPSTASH_REDIS_REST_URL": proxy_url, "LLMEDGE_LIMITS_TIMEOUT_MS": "10000"}
        instance = start_serve(limits_cluster.stack, tmp_path_factory.mktemp("counted"), "counted", extra)
        try:
            yield instance, proxy
        finally:
            instance.stop()


def _summary(trips: list[RoundTrip]) -> str:
    commands = Counter(" ".join(trip.commands) for trip in trips)
    return ", ".join(f"{name} ×{count}" for name, count in commands.items())


def _p50_p90(values: list[float]) -> str:
    deciles = statistics.quantiles(values, n=10)
    return f"p50 {statistics.median(values):.2f} ms, p90 {deciles[-1]:.2f} ms"


async def test_round_trips_and_milliseconds_the_limits_add(
    limits_cluster: Cluster, counted: tuple[StackProcess, CountingProxy], upstash: Redis
) -> None:
    instance, proxy = counted
    prompt = marker("overhead")
    async with httpx.AsyncClient(base_url=instance.base_url, timeout=30) as client:
        # The instance's very first miss may meet NOSCRIPT (a Redis that never ran the script): skip it.
        misses = {}
        for name in ("first", "steady"):
            mark = len(proxy.round_trips)
            miss = await submit(client, ROOMY, chat(f"{prompt} {name}"))
            assert miss.status_code == 202, miss.text
            misses[name] = proxy.since(mark)
            assert (await final_job(client, ROOMY, miss.json()["job_id"]))["status"] == "done"
        prompt = f"{prompt} steady"  # cached now

        mark = len(proxy.round_trips)
        for _ in range(SAMPLES):
            hit = await submit(client, ROOMY, chat(prompt))
            assert hit.headers["x-cache"] == "HIT"
        hit_trips = proxy.since(mark)
    # The goal: a hit checks every limit and reads the cache in one round trip. The gateway's
    # statistics go out in the background, batched (llmedge.stats), off the request's path.
    background = [trip for trip in hit_trips if set(trip.first_args) == {STATS_HASH}]
    critical = [trip.commands for trip in hit_trips if trip not in background]
    assert critical == [("EVALSHA",)] * SAMPLES

    admit, total, client_ms, bare, refused = [], [], [], [], []
    async with httpx.AsyncClient(base_url=limits_cluster.instances[0].base_url, timeout=30) as client:
        for _ in range(SAMPLES):
            started = time.perf_counter()
            hit = await submit(client, ROOMY, chat(prompt))
            client_ms.append((time.perf_counter() - started) * 1000)
            assert hit.headers["x-cache"] == "HIT"
            phases = server_timing(hit)
            admit.append(phases["admit"])
            total.append(phases["total"])
        for _ in range(SAMPLES):
            started = time.perf_counter()
            await upstash.get(f"llmedge:overhead:{prompt}")
            bare.append((time.perf_counter() - started) * 1000)
        for index in range(SAMPLES):  # the tiny tier allows 2 a minute: the rest meet the block cache
            response = await submit(client, TINY, chat(f"{prompt} {index}"))
            if response.status_code == 429:
                refused.append(server_timing(response)["admit"])

    print(
        f"\nlimits through the gateway ({SAMPLES} samples each, warm instance, loopback bridge):"
        f"\n  Redis round trips: a hit {len(critical) / SAMPLES:.0f} on its path "
        f"({_summary([t for t in hit_trips if t not in background])}), plus {len(background)} stats "
        f"batches in the background for all {SAMPLES}; "
        f"a miss {len(misses['steady'])} ({_summary(misses['steady'])}; the instance's first: "
        f"{_summary(misses['first'])})"
        f"\n  admit phase of a hit (limits + exact-cache read, one script): {_p50_p90(admit)}"
        f"\n  bare GET through the same bridge (a cache read alone): {_p50_p90(bare)}"
        f"\n  whole hit in the gateway (Server-Timing total): {_p50_p90(total)}; seen by the client: "
        f"{_p50_p90(client_ms)}"
        f"\n  refusal from the local block cache (no round trip): admit {_p50_p90(refused)}"
    )
