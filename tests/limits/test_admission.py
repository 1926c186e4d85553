"""The admission round trip against a real Redis through the bridge: cache read, limits, counters."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from upstash_redis.asyncio import Redis

from llmedge.limits.limiter import Limiter
from llmedge.limits.stats import read_stats
from llmedge.limits.tiers import Rate, Tier
from tests.limits.factories import config_with, new_caller

DAY = 86_400_000
HOUR = 3_600_000


def count_round_trips(redis: Redis) -> list[list[Any]]:
    """Record every command the client sends (the instance's `execute`, which every call goes through)."""
    sent: list[list[Any]] = []
    original: Callable[[list[Any]], Awaitable[Any]] = redis.execute

    async def execute(command: list[Any]) -> Any:
        sent.append(command)
        return await original(command)

    redis.execute = execute  # type: ignore[method-assign]
    return sent


async def test_hit_returns_the_entry_in_one_round_trip_and_spends_no_tokens(
    redis: Redis, prefix: str
) -> None:
    tier = Tier("t", requests=Rate(10, HOUR), tokens=Rate(1_000, DAY), in_flight=1)
    limiter = Limiter(redis, config_with(tier, prefix=prefix, global_limit=Rate(100, HOUR)))
    caller = new_caller("t")
    await redis.set(f"{prefix}:cache:a", '{"answer": 42}')
    await limiter.admit(
        caller, cache_key=f"{prefix}:cache:a", job_id="warm", estimated_tokens=0
    )  # loads the script

    sent = count_round_trips(redis)
    admission = await limiter.admit(caller, cache_key=f"{prefix}:cache:a", job_id="j1", estimated_tokens=900)

    assert len(sent) == 1 and sent[0][0] == "EVALSHA"
    assert admission.decision.allowed and admission.cached == '{"answer": 42}'
    assert admission.reservation is None  # a hit holds no slot and owes no tokens
    assert admission.decision.headers["RateLimit-Limit"] == "10"
    assert admission.decision.headers["RateLimit-Remaining"] == "8"
    # The hit spent nothing: the whole budget and the single in-flight slot are left for a miss.
    miss = await limiter.admit(caller, cache_key=f"{prefix}:cache:b", job_id="j2", estimated_tokens=1_000)
    assert miss.decision.allowed and miss.cached is None and miss.reservation is not None


async def test_first_call_on_a_fresh_server_falls_back_from_evalsha(redis: Redis, prefix: str) -> None:
    await redis.script_flush()
    limiter = Limiter(redis, config_with(Tier("t", requests=Rate(5, HOUR)), prefix=prefix))
    sent = count_round_trips(redis)
    admission = await limiter.admit(new_caller("t"), cache_key=None, job_id="j", estimated_tokens=1)
    assert admission.decision.allowed
    assert [command[0] for command in sent] == ["EVALSHA", "EVAL"]
    await limiter.admit(new_caller("t"), cache_key=None, job_id="j", estimated_tokens=1)
    assert [command[0] for command in sent] == ["EVALSHA", "EVAL", "EVALSHA"]


async def test_nothing_is_charged_when_one_limit_refuses(redis: Redis, prefix: str) -> None:
    tier = Tier("t", requests=Rate(3, HOUR), tokens=Rate(1_000, DAY), in_flight=5)
    limiter = Limiter(redis, config_with(tier, prefix=prefix))
    caller = new_caller("t")

    too_big = await limiter.admit(caller, cache_key=None, job_id="big", estimated_tokens=1_001)
    assert not too_big.decision.allowed and too_big.decision.tripped == "tokens"
    assert "more than the whole budget" in (too_big.decision.message or "")

    for index in range(3):
        admission = await limiter.admit(caller, cache_key=None, job_id=f"j{index}", estimated_tokens=10)
        assert admission.decision.allowed, index  # the refused request above used no request slot
    assert await redis.hget(f"{prefix}:limits:tokens:{caller.id}", "tokens") == "970"
    assert await redis.zcard(f"{prefix}:limits:inflight:{caller.id}") == 3


async def test_refusal_headers_and_message(redis: Redis, prefix: str) -> None:
    tier = Tier("t", requests=Rate(2, 60_000), tokens=Rate(500, DAY))
    limiter = Limiter(redis, config_with(tier, prefix=prefix))
    caller = new_caller("t")
    for index in range(2):
        assert (
            await limiter.admit(caller, cache_key=None, job_id=f"{index}", estimated_tokens=1)
        ).decision.allowed
    refused = (await limiter.admit(caller, cache_key=None, job_id="x", estimated_tokens=1)).decision
    assert not refused.allowed and refused.tripped == "requests" and refused.fail_policy_applied is None
    assert refused.headers["RateLimit-Limit"] == "2"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert 0 <= int(refused.headers["RateLimit-Reset"]) <= 60
    assert refused.headers["RateLimit-Policy"] == '2;w=60;comment="requests", 500;w=86400;comment="tokens"'
    error = refused.to_error()
    assert error.status == 429 and error.headers == refused.headers
    assert error.body()["error"]["limit"] == "requests"
    assert "2 requests per 1m" in error.message


async def test_block_cache_refuses_without_a_round_trip_and_counts_later(redis: Redis, prefix: str) -> None:
    tier = Tier("t", requests=Rate(1, HOUR))
    limiter = Limiter(redis, config_with(tier, prefix=prefix))
    caller, other = new_caller("t"), new_caller("t")
    assert (await limiter.admit(caller, cache_key=None, job_id="1", estimated_tokens=0)).decision.allowed
    assert not (await limiter.admit(caller, cache_key=None, job_id="2", estimated_tokens=0)).decision.allowed

    sent = count_round_trips(redis)
    for _ in range(5):
        again = await limiter.admit(caller, cache_key=None, job_id="3", estimated_tokens=0)
        assert not again.decision.allowed and again.decision.tripped == "requests"
        assert int(again.decision.headers["Retry-After"]) >= 1
    assert sent == []

    # The local refusals reach the shared counters with the next round trip (another caller's).
    await limiter.admit(other, cache_key=None, job_id="4", estimated_tokens=0)
    stats = await read_stats(redis, prefix)
    assert stats["denied"]["t"]["requests"] == 6
    assert stats["denied"]["t"]["all"] == 6
    assert stats["admitted"]["t"]["all"] == 2


async def test_global_limit_counts_misses_only(redis: Redis, prefix: str) -> None:
    tier = Tier("t", requests=Rate(100, HOUR))
    limiter = Limiter(redis, config_with(tier, prefix=prefix, global_limit=Rate(2, HOUR)))
    await redis.set(f"{prefix}:cache:hit", "cached")
    for _ in range(4):  # hits never reach the upstream, so the global limit does not see them
        hit = await limiter.admit(
            new_caller("t"), cache_key=f"{prefix}:cache:hit", job_id="h", estimated_tokens=5
        )
        assert hit.decision.allowed and hit.cached == "cached"
    outcomes = [
        await limiter.admit(new_caller("t"), cache_key=f"{prefix}:cache:none", job_id="m", estimated_tokens=5)
        for _ in range(3)
    ]
    assert [admission.decision.allowed for admission in outcomes] == [True, True, False]
    assert outcomes[2].decision.tripped == "global"
    assert outcomes[2].decision.headers["RateLimit-Limit"] == "2"


async def test_no_cache_read_when_the_request_bypasses_it(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", tokens=Rate(100, DAY)), prefix=prefix))
    admission = await limiter.admit(new_caller("t"), cache_key=None, job_id="j", estimated_tokens=40)
    assert admission.decision.allowed and admission.cached is None
    assert admission.reservation is not None and admission.reservation.estimated_tokens == 40
    assert admission.decision.headers["RateLimit-Remaining"] == "60"


async def test_admitted_headers_show_the_tightest_limit(redis: Redis, prefix: str) -> None:
    tier = Tier("t", requests=Rate(100, HOUR), tokens=Rate(1_000, DAY))
    limiter = Limiter(redis, config_with(tier, prefix=prefix))
    admission = await limiter.admit(new_caller("t"), cache_key=None, job_id="j", estimated_tokens=900)
    assert admission.decision.headers["RateLimit-Limit"] == "1000"
    assert admission.decision.headers["RateLimit-Remaining"] == "100"


async def test_in_flight_refusal_retries_soon(redis: Redis, prefix: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t", in_flight=1), prefix=prefix))
    caller = new_caller("t")
    assert (await limiter.admit(caller, cache_key=None, job_id="a", estimated_tokens=1)).decision.allowed
    refused = (await limiter.admit(caller, cache_key=None, job_id="b", estimated_tokens=1)).decision
    assert refused.tripped == "in_flight" and refused.headers["Retry-After"] == "5"


@pytest.mark.parametrize("tier_name", ["missing-tier"])
async def test_unknown_tier_is_limited_as_anonymous(redis: Redis, prefix: str, tier_name: str) -> None:
    limiter = Limiter(redis, config_with(Tier("t"), prefix=prefix))
    caller = new_caller(tier_name)
    admission = await limiter.admit(caller, cache_key=None, job_id=uuid.uuid4().hex, estimated_tokens=1)
    assert admission.decision.allowed
    assert admission.decision.headers["RateLimit-Policy"].startswith("30;w=60;")  # the anonymous default
