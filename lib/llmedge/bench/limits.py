"""What the limits cost a request: round trips and milliseconds, beside a bare GET and upstash-ratelimit.

One redis-server, the Upstash REST bridge in a child process (no shared GIL with the clients here), and
one asyncio upstash_redis client, as the gateway has. Probes, interleaved round by round in a rotating
order so that noise on a shared machine hits them alike:

- the floor: a bare GET of the cache key (one round trip, what a cache hit costs without limits);
- `Limiter.admit` for a hit (cache read + request limit) and for a miss (cache read + all four limits),
  one script, one round trip; and for a caller in the block cache (no round trip);
- the same work with upstash-ratelimit's limiters, sequential and with asyncio.gather: for a hit, GET +
  SlidingWindow; for a miss, GET + SlidingWindow (caller) + SlidingWindow (global) + TokenBucket (cost)
  + an in-flight script of our own (upstash-ratelimit has none).

    python -m llmedge.bench.limits [samples]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from upstash_ratelimit import SlidingWindow, TokenBucket
from upstash_ratelimit.asyncio import Ratelimit
from upstash_redis.asyncio import Redis

from llmedge.bench.bridge import TOKEN
from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import bridge_in_child
from llmedge.limits.config import LimitsConfig
from llmedge.limits.identity import Caller
from llmedge.limits.limiter import Limiter
from llmedge.limits.tiers import Rate, Tier

_PREFIX = "bench"
_CACHED = "x" * 512  # a small chat completion's worth of JSON
_COST = 300
_HUGE = 10**9  # limits that never trip: the benchmark measures checking them, not refusing
# What a gateway must write for in-flight caps with upstash-ratelimit, which has no such algorithm.
_IN_FLIGHT_SCRIPT = """
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
if redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call("ZADD", KEYS[1], ARGV[1] + ARGV[3], ARGV[4])
return 1
"""

Probe = Callable[[], Awaitable[object]]


def run(samples: int = 500, warmup: int = 50) -> None:
    """Print round trips, p50 and p99 per probe, each p50 as a multiple of the bare GET's, and the deltas."""
    with RedisServer() as server, bridge_in_child(server.url, TOKEN) as bridge_url:
        results = asyncio.run(_measure(bridge_url, samples, warmup))
    _report(results, samples)


async def _measure(url: str, samples: int, warmup: int) -> dict[str, tuple[int, list[float]]]:
    async with Redis(url, TOKEN, rest_retries=0, allow_telemetry=False) as redis:
        await redis.set(f"{_PREFIX}:cache:hit", _CACHED)
        probes = await _probes(redis)
        sent = _count_requests(redis)
        round_trips: dict[str, int] = {}
        timings: dict[str, list[float]] = {name: [] for name in probes}
        names = list(probes)
        for round_number in range(warmup + samples):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                before = len(sent)
                started = time.perf_counter()
                await probes[name]()
                elapsed = time.perf_counter() - started
                round_trips[name] = len(sent) - before
                if round_number >= warmup:
                    timings[name].append(elapsed * 1000)
        return {name: (round_trips[name], timings[name]) for name in names}


async def _probes(redis: Redis) -> dict[str, Probe]:
    tier = Tier("bench", requests=Rate(_HUGE, 3_600_000), tokens=Rate(_HUGE, 86_400_000), in_flight=_HUGE)
    config = LimitsConfig(
        tiers={"bench": tier}, global_limit=Rate(_HUGE, 60_000), timeout_s=30, prefix=_PREFIX
    )
    limiter = Limiter(redis, config)
    caller = Caller(id="tenant:bench", tenant="bench", tier="bench", key_id=None, ip=None)
    blocked = await _blocked_caller(redis)

    per_caller = Ratelimit(redis, SlidingWindow(_HUGE, 3600, "s"), prefix=f"{_PREFIX}:rl:req")
    upstream = Ratelimit(redis, SlidingWindow(_HUGE, 60, "s"), prefix=f"{_PREFIX}:rl:global")
    budget = Ratelimit(redis, TokenBucket(_HUGE, _HUGE, 86_400, "s"), prefix=f"{_PREFIX}:rl:tokens")

    def in_flight() -> Awaitable[object]:
        now = str(int(time.time() * 1000))
        return redis.eval(_IN_FLIGHT_SCRIPT, [f"{_PREFIX}:rl:inflight"], [now, str(_HUGE), "900000", _job()])

    def ratelimit_hit() -> list[Awaitable[object]]:
        return [redis.get(f"{_PREFIX}:cache:hit"), per_caller.limit("bench")]

    def ratelimit_miss() -> list[Awaitable[object]]:
        return [
            redis.get(f"{_PREFIX}:cache:miss"),
            per_caller.limit("bench"),
            upstream.limit("all"),
            budget.limit("bench", rate=_COST),
            in_flight(),
        ]

    async def sequential(calls: Callable[[], list[Awaitable[object]]]) -> None:
        for call in calls():
            await call

    async def gathered(calls: Callable[[], list[Awaitable[object]]]) -> None:
        await asyncio.gather(*calls())

    return {
        "GET cache key (the floor)": lambda: redis.get(f"{_PREFIX}:cache:hit"),
        "admit: hit (script)": lambda: limiter.admit(
            caller, cache_key=f"{_PREFIX}:cache:hit", job_id=_job(), estimated_tokens=_COST
        ),
        "admit: miss, 4 limits (script)": lambda: limiter.admit(
            caller, cache_key=f"{_PREFIX}:cache:miss", job_id=_job(), estimated_tokens=_COST
        ),
        "admit: caller in block cache": lambda: blocked(),
        "upstash-ratelimit hit, sequential": lambda: sequential(ratelimit_hit),
        "upstash-ratelimit hit, gathered": lambda: gathered(ratelimit_hit),
        "upstash-ratelimit miss, sequential": lambda: sequential(ratelimit_miss),
        "upstash-ratelimit miss, gathered": lambda: gathered(ratelimit_miss),
    }


async def _blocked_caller(redis: Redis) -> Probe:
    """An admit for a caller the block cache already refuses (blocked for the next hour)."""
    tier = Tier("one", requests=Rate(1, 3_600_000))
    limiter = Limiter(
        redis, LimitsConfig(tiers={"one": tier}, global_limit=None, timeout_s=30, prefix=_PREFIX)
    )
    caller = Caller(id=f"tenant:{uuid.uuid4().hex}", tenant="t", tier="one", key_id=None, ip=None)
    for _ in range(2):
        await limiter.admit(caller, cache_key=None, job_id="j", estimated_tokens=0)
    return lambda: limiter.admit(caller, cache_key=None, job_id="j", estimated_tokens=0)


def _job() -> str:
    return uuid.uuid4().hex


def _count_requests(redis: Redis) -> list[object]:
    """Every HTTP request the client sends goes through `execute`; record each."""
    sent: list[object] = []
    original = redis.execute

    async def execute(command: list[Any]) -> Any:
        sent.append(command[0])
        return await original(command)

    redis.execute = execute  # type: ignore[method-assign]
    return sent


def _report(results: dict[str, tuple[int, list[float]]], samples: int) -> None:
    p50 = {name: statistics.median(values) for name, (_, values) in results.items()}
    floor = p50["GET cache key (the floor)"]
    print(
        f"Limits on the critical path: {samples} interleaved samples, upstash_redis asyncio → bridge → redis-server"
    )
    print(f"{'probe':36} {'round trips':>11} {'p50 ms':>8} {'p99 ms':>8} {'p50 / GET':>10}")
    for name, (round_trips, values) in results.items():
        p99 = statistics.quantiles(values, n=100)[98]
        print(f"{name:36} {round_trips:11d} {p50[name]:8.3f} {p99:8.3f} {p50[name] / floor:9.2f}x")
    hit, miss = p50["admit: hit (script)"], p50["admit: miss, 4 limits (script)"]
    print(
        f"limits add to a cache hit: {hit - floor:+.3f} ms p50 and no extra round trip (the script reads the cache)"
    )
    print(f"limits add to a miss:      {miss - floor:+.3f} ms p50 beyond one GET")
    for way in ("sequential", "gathered"):
        theirs = p50[f"upstash-ratelimit miss, {way}"]
        print(f"miss, upstash-ratelimit {way} / script: {theirs / miss:.2f}x ({theirs:.3f} vs {miss:.3f} ms)")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
