"""Run in separate processes (multiprocessing, spawn): one serverless instance each, its own client."""

from __future__ import annotations

import asyncio
from multiprocessing.synchronize import Barrier
from typing import Any

from llmedge.limits.identity import Caller
from llmedge.limits.limiter import Limiter
from llmedge.limits.tiers import Rate, Tier
from tests.limits.factories import config_with
from tests.upstash_fixture import upstash_client


def admit_burst(
    url: str, prefix: str, caller: Caller, limit: int, count: int, start: Barrier
) -> list[tuple[bool, dict[str, str]]]:
    """`count` concurrent admissions for `caller`, released together with the other processes."""
    start.wait(timeout=60)
    return asyncio.run(_burst(url, prefix, caller, limit, count))


async def _burst(url: str, prefix: str, caller: Caller, limit: int, count: int) -> list[Any]:
    tier = Tier(caller.tier, requests=Rate(limit, 3_600_000))
    async with upstash_client(url) as redis:
        limiter = Limiter(redis, config_with(tier, prefix=prefix))
        admissions = await asyncio.gather(
            *(
                limiter.admit(caller, cache_key=None, job_id=f"j{index}", estimated_tokens=1)
                for index in range(count)
            )
        )
    return [(admission.decision.allowed, admission.decision.headers) for admission in admissions]
