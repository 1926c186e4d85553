"""The official upstash-redis client, sync and asyncio, through the bridge gives the same answers as
redis-py connected straight to the same server."""

from __future__ import annotations

import pytest
import redis
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis

from tests.devstack_redis.battery import FAMILIES, Family, run_async, run_direct, run_sync

by_name = pytest.mark.parametrize("family", FAMILIES, ids=[family.name for family in FAMILIES])


@by_name
def test_sync_sdk_matches_direct_redis(family: Family, upstash: Redis, direct: redis.Redis) -> None:
    expected = run_direct(direct, family, prefix=f"{family.name}:direct-for-sync:")
    assert run_sync(upstash, family, prefix=f"{family.name}:sync:") == expected


@by_name
async def test_async_sdk_matches_direct_redis(
    family: Family, async_upstash: AsyncRedis, direct: redis.Redis
) -> None:
    expected = run_direct(direct, family, prefix=f"{family.name}:direct-for-async:")
    assert await run_async(async_upstash, family, prefix=f"{family.name}:async:") == expected
