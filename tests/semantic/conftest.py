"""A real redis-server behind the Upstash REST bridge (loopback HTTP) for the semantic cache tests.

Tests isolate themselves by scope and namespace (random per test), so they share one server.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from upstash_redis.asyncio import Redis

from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_bridge import UpstashBridge
from llmedge.semantic.cache import SemanticCache

TOKEN = "semantic-test-token"


@pytest.fixture(scope="session")
def bridge_url() -> Iterator[str]:
    with RedisServer() as server, serve_in_background(UpstashBridge(server.url, TOKEN).app) as url:
        yield url


@pytest.fixture
async def redis(bridge_url: str) -> AsyncIterator[Redis]:
    # rest_retries=0: a broken reply fails the test at once instead of after the SDK's retry sleep.
    async with Redis(bridge_url, TOKEN, rest_retries=0) as client:
        yield client


@pytest.fixture
def cache(redis: Redis) -> SemanticCache:
    return SemanticCache.local(redis)


@pytest.fixture
def scope() -> str:
    return f"test-{secrets.token_hex(6)}"
