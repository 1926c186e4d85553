"""Limits hold under concurrency: across processes (as serverless instances are) and within one."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from upstash_redis.asyncio import Redis

from llmedge.limits.limiter import Limiter
from llmedge.limits.stats import read_stats
from llmedge.limits.tiers import Rate, Tier
from tests.limits.factories import config_with, new_caller
from tests.limits.workers import admit_burst

PROCESSES = 4
PER_PROCESS = 50
LIMIT = 50
DAY = 86_400_000


async def test_200_admits_over_4_processes_admit_exactly_the_limit(bridge_url: str, prefix: str) -> None:
    caller = new_caller("burst")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(PROCESSES, mp_context=context) as pool:
        start = manager.Barrier(PROCESSES)
        futures = [
            asyncio.wrap_future(
                pool.submit(admit_burst, bridge_url, prefix, caller, LIMIT, PER_PROCESS, start)
            )
            for _ in range(PROCESSES)
        ]
        results = [item for batch in await asyncio.gather(*futures) for item in batch]

    admitted = [headers for allowed, headers in results if allowed]
    refused = [headers for allowed, headers in results if not allowed]
    assert (len(admitted), len(refused)) == (LIMIT, PROCESSES * PER_PROCESS - LIMIT)
    # Each admission was atomic: the remaining counts seen are exactly LIMIT-1 … 0, each once.
    assert sorted(int(headers["RateLimit-Remaining"]) for headers in admitted) == list(range(LIMIT))
    for headers in refused:
        assert headers["RateLimit-Limit"] == str(LIMIT)
        assert headers["RateLimit-Remaining"] == "0"
        assert int(headers["Retry-After"]) > 0


async def test_token_budget_cannot_be_overspent_and_settles_to_real_usage(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", tokens=Rate(1_000, DAY)), prefix=prefix))
    caller = new_caller("t")
    admissions = await asyncio.gather(
        *(
            limiter.admit(caller, cache_key=None, job_id=f"j{index}", estimated_tokens=300)
            for index in range(20)
        )
    )
    reservations = [admission.reservation for admission in admissions if admission.decision.allowed]
    assert len(reservations) == 3  # 3 × 300 fit in 1000; a 4th would overspend
    assert all(
        admission.decision.tripped == "tokens" for admission in admissions if not admission.decision.allowed
    )
    bucket = f"{prefix}:limits:tokens:{caller.id}"
    assert await redis.hget(bucket, "tokens") == "100"

    await asyncio.gather(*(limiter.settle(r, actual_tokens=120) for r in reservations if r is not None))
    assert await redis.hget(bucket, "tokens") == str(1_000 - 3 * 120)  # the real usage, not the estimates
    stats = await read_stats(redis, prefix)
    assert stats["tokens_used"]["t"] == {"all": 360} and stats["settled"]["t"] == {"all": 3}
    assert stats["admitted"]["t"]["tokens"] == 3 and stats["denied"]["t"]["tokens"] == 17


async def test_extra_usage_is_charged_and_settle_is_idempotent(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", tokens=Rate(1_000, DAY)), prefix=prefix))
    caller = new_caller("t")
    first = await limiter.admit(caller, cache_key=None, job_id="a", estimated_tokens=500)
    second = await limiter.admit(caller, cache_key=None, job_id="b", estimated_tokens=500)
    assert first.reservation is not None and second.reservation is not None
    for _ in range(3):  # a redelivered callback settles once
        await limiter.settle(first.reservation, actual_tokens=900)
    await limiter.settle(second.reservation, actual_tokens=700)
    bucket = f"{prefix}:limits:tokens:{caller.id}"
    assert await redis.hget(bucket, "tokens") == "-600"  # a debt: 1000 - 900 - 700
    refused = await limiter.admit(caller, cache_key=None, job_id="c", estimated_tokens=1)
    assert refused.decision.tripped == "tokens"


async def test_refund_never_exceeds_the_bucket(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", tokens=Rate(1_000, DAY)), prefix=prefix))
    caller = new_caller("t")
    admission = await limiter.admit(caller, cache_key=None, job_id="a", estimated_tokens=400)
    assert admission.reservation is not None
    await limiter.settle(admission.reservation, actual_tokens=0)  # e.g. it joined an identical in-flight job
    assert not await redis.exists(
        f"{prefix}:limits:tokens:{caller.id}"
    )  # full again (a missing bucket is full)
    follow_up = await limiter.admit(caller, cache_key=None, job_id="b", estimated_tokens=1_000)
    assert follow_up.decision.allowed


async def test_in_flight_cap_holds_under_concurrency_and_frees_on_settle(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", in_flight=2), prefix=prefix))
    caller = new_caller("t")
    admissions = await asyncio.gather(
        *(
            limiter.admit(caller, cache_key=None, job_id=f"j{index}", estimated_tokens=10)
            for index in range(10)
        )
    )
    held = [admission.reservation for admission in admissions if admission.decision.allowed]
    assert len(held) == 2
    assert {admission.decision.tripped for admission in admissions if not admission.decision.allowed} == {
        "in_flight"
    }
    assert held[0] is not None
    await limiter.settle(held[0], actual_tokens=10)
    await limiter.settle(held[0], actual_tokens=10)  # twice: must not free a second slot
    after = await asyncio.gather(
        *(
            limiter.admit(caller, cache_key=None, job_id=f"k{index}", estimated_tokens=10)
            for index in range(3)
        )
    )
    assert sum(admission.decision.allowed for admission in after) == 1


async def test_crashed_job_frees_its_slot_after_the_slot_lifetime(redis: Redis, prefix: str) -> None:
    now = [1_000_000.0]
    config = config_with(Tier("t", in_flight=1), prefix=prefix)
    limiter = Limiter(redis, config, clock=lambda: now[0])
    caller = new_caller("t")
    assert (
        await limiter.admit(caller, cache_key=None, job_id="crashed", estimated_tokens=1)
    ).decision.allowed
    assert not (await limiter.admit(caller, cache_key=None, job_id="b", estimated_tokens=1)).decision.allowed
    now[0] += config.in_flight_ttl_ms / 1000 + 1  # never settled; its slot lapses
    assert (await limiter.admit(caller, cache_key=None, job_id="c", estimated_tokens=1)).decision.allowed
