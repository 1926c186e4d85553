"""upstash-ratelimit's three algorithms, sync and asyncio, through the bridge: under 100 concurrent
calls exactly the configured number is admitted. Their scripts start with `#!lua flags=allow-key-locking`,
which redis-server 6.2 cannot parse, so these also prove the bridge's shebang rewrite."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from upstash_ratelimit import FixedWindow, Ratelimit, SlidingWindow, TokenBucket
from upstash_ratelimit.asyncio import Ratelimit as AsyncRatelimit
from upstash_ratelimit.limiter import Limiter
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis

LIMIT = 10
CALLS = 100

# Windows of a day and a slow refill: no window boundary or refill can fall inside the burst
# (a fixed window aligned to midnight UTC is the one, negligible, exception).
LIMITERS: dict[str, Callable[[], Limiter]] = {
    "fixed_window": lambda: FixedWindow(max_requests=LIMIT, window=1, unit="d"),
    "sliding_window": lambda: SlidingWindow(max_requests=LIMIT, window=1, unit="d"),
    "token_bucket": lambda: TokenBucket(max_tokens=LIMIT, refill_rate=1, interval=1, unit="d"),
}
by_limiter = pytest.mark.parametrize("make_limiter", LIMITERS.values(), ids=LIMITERS.keys())


@by_limiter
def test_sync_limiter_admits_exactly_the_limit_under_concurrency(
    make_limiter: Callable[[], Limiter], upstash: Redis
) -> None:
    ratelimit = Ratelimit(upstash, make_limiter(), prefix=f"rl-test-{uuid.uuid4()}")
    with ThreadPoolExecutor(max_workers=32) as pool:
        responses = list(pool.map(lambda _: ratelimit.limit("caller"), range(CALLS)))
    assert sum(response.allowed for response in responses) == LIMIT
    assert all(response.remaining == 0 for response in responses if not response.allowed)


@by_limiter
async def test_async_limiter_admits_exactly_the_limit_under_concurrency(
    make_limiter: Callable[[], Limiter], async_upstash: AsyncRedis
) -> None:
    ratelimit = AsyncRatelimit(async_upstash, make_limiter(), prefix=f"rl-test-{uuid.uuid4()}")
    responses = await asyncio.gather(*(ratelimit.limit("caller") for _ in range(CALLS)))
    assert sum(response.allowed for response in responses) == LIMIT
    assert all(response.remaining == 0 for response in responses if not response.allowed)
