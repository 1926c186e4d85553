"""The Upstash REST bridge's round trip beside a direct redis-py call to the same Redis.

One redis-server, one bridge served by uvicorn in a child process (so the clients here do not share a
GIL with the server), then the same GET measured through four clients. Samples are interleaved (each
round runs every client once, in a rotating order) so that noise on this shared machine hits all of
them alike; medians and p99 are printed with each client's ratio to the direct call.

    python -m llmedge.bench.bridge [samples]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import redis
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis

from llmedge.bench.report import print_timings
from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import bridge_in_child

TOKEN = "bench-token"
_KEY = "bench:bridge:value"
_VALUE = "v" * 32

Probe = Callable[[], object] | Callable[[], Awaitable[object]]


def run(samples: int = 2000, warmup: int = 200) -> None:
    """Print p50/p99 of one GET per client, and each p50 as a multiple of the direct call's."""
    with RedisServer() as server, bridge_in_child(server.url, TOKEN) as bridge_url:
        direct = redis.Redis.from_url(server.url, protocol=2)
        direct.set(_KEY, _VALUE)
        timings = asyncio.run(_measure(direct, bridge_url, samples, warmup))
        direct.close()
    _report(timings, samples)


async def _measure(direct: redis.Redis, bridge_url: str, samples: int, warmup: int) -> dict[str, list[float]]:
    body = b'["GET","%s"]' % _KEY.encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with (
        Redis(bridge_url, TOKEN) as sdk,
        httpx.Client(base_url=bridge_url, headers=headers) as raw_http,
    ):
        async with AsyncRedis(bridge_url, TOKEN) as async_sdk:
            probes: dict[str, Probe] = {
                "redis-py, direct TCP": lambda: direct.get(_KEY),
                "httpx keep-alive POST → bridge": lambda: raw_http.post("/", content=body).json(),
                "upstash_redis sync → bridge": lambda: sdk.get(_KEY),
                "upstash_redis asyncio → bridge": lambda: async_sdk.get(_KEY),
            }
            timings: dict[str, list[float]] = {name: [] for name in probes}
            names = list(probes)
            for round_number in range(warmup + samples):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    outcome = probes[name]()
                    if asyncio.iscoroutine(outcome):
                        await outcome
                    elapsed = time.perf_counter() - started
                    if round_number >= warmup:
                        timings[name].append(elapsed * 1000)
            return timings


def _report(timings: dict[str, list[float]], samples: int) -> None:
    title = f"Upstash REST bridge vs direct Redis: GET of a {len(_VALUE)}-byte value, {samples} interleaved samples"
    print_timings(title, timings, baseline=next(iter(timings)), column="client")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
