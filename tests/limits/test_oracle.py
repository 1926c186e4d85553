"""The admission script's algorithms against upstash-ratelimit itself, as a reference oracle.

For any sequence of calls at any times, our sliding window admits exactly what upstash-ratelimit's
SlidingWindow admits (with the same remaining counts), and our token bucket what its TokenBucket admits
with the same costs. The comparison runs through the whole `Limiter`, block cache included: a refusal
from the cache must be one upstash-ratelimit would also have given.
"""

from __future__ import annotations

import asyncio
import uuid
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upstash_ratelimit import SlidingWindow, TokenBucket
from upstash_ratelimit.asyncio import Ratelimit

from llmedge.limits.limiter import Limiter
from llmedge.limits.tiers import Rate, Tier
from tests.limits.factories import config_with, new_caller
from tests.upstash_fixture import upstash_client

WINDOW_MS = 60_000
# The autouse environment-cleaning fixture is function-scoped; sharing it across examples is harmless.
EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

start_times = st.integers(min_value=1_700_000_000_000, max_value=1_800_000_000_000)
gaps = st.integers(min_value=0, max_value=WINDOW_MS * 3 // 4)


async def _compare(
    url: str, limiter_of_upstash: Ratelimit, tier: Tier, start: int, calls: list[tuple[int, int]]
) -> None:
    now = [start]
    caller = new_caller(tier.name)
    async with upstash_client(url) as redis:
        limiter = Limiter(
            redis, config_with(tier, prefix=f"o{uuid.uuid4().hex[:8]}"), clock=lambda: now[0] / 1000
        )
        oracle = Ratelimit(redis, limiter_of_upstash, prefix=f"oracle{uuid.uuid4().hex[:8]}")
        with mock.patch("upstash_ratelimit.limiter.now_ms", lambda: now[0]):
            for step, (gap, cost) in enumerate(calls):
                now[0] += gap
                expected = await oracle.limit("someone", rate=cost)
                ours = await limiter.admit(caller, cache_key=None, job_id=f"j{step}", estimated_tokens=cost)
                seen = (ours.decision.allowed, int(ours.decision.headers["RateLimit-Remaining"]))
                assert seen == (expected.allowed, expected.remaining), f"call {step} at +{now[0] - start} ms"


@EXAMPLES
@given(
    limit=st.integers(min_value=1, max_value=5),
    start=start_times,
    times=st.lists(gaps, min_size=1, max_size=25),
)
def test_sliding_window_admits_what_upstash_ratelimit_admits(
    bridge_url: str, limit: int, start: int, times: list[int]
) -> None:
    tier = Tier("sw", requests=Rate(limit, WINDOW_MS))
    oracle = SlidingWindow(max_requests=limit, window=WINDOW_MS, unit="ms")
    asyncio.run(_compare(bridge_url, oracle, tier, start, [(gap, 1) for gap in times]))


@EXAMPLES
@given(
    # Small numbers, so that exhausting the bucket and costs equal to what is left are common.
    size=st.integers(min_value=1, max_value=20),
    start=start_times,
    calls=st.lists(st.tuples(gaps, st.integers(min_value=0, max_value=25)), min_size=1, max_size=25),
)
def test_token_bucket_admits_what_upstash_ratelimit_admits(
    bridge_url: str, size: int, start: int, calls: list[tuple[int, int]]
) -> None:
    tier = Tier("tb", tokens=Rate(size, WINDOW_MS))
    oracle = TokenBucket(max_tokens=size, refill_rate=size, interval=WINDOW_MS, unit="ms")
    asyncio.run(_compare(bridge_url, oracle, tier, start, calls))
