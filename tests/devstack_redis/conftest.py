"""One real redis-server and one bridge (served by uvicorn over loopback HTTP) for the whole session.

The official SDKs speak httpx to a URL, so the bridge is served for real rather than driven in-process.
Tests isolate themselves by key prefix, not by flushing, so they can share the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis

from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_bridge import UpstashBridge

TOKEN = "test-token"
READONLY_TOKEN = "test-readonly-token"
MAX_BODY_BYTES = 64 * 1024


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def bridge_url(redis_url: str) -> Iterator[str]:
    bridge = UpstashBridge(redis_url, TOKEN, READONLY_TOKEN, max_body_bytes=MAX_BODY_BYTES)
    with serve_in_background(bridge.app) as url:
        yield url


@pytest.fixture(scope="session")
def direct(redis_url: str) -> Iterator[redis.Redis]:
    """redis-py straight to the same server; RESP2, like the bridge, so replies have the same shapes."""
    client = redis.Redis.from_url(redis_url, decode_responses=True, protocol=2)
    yield client
    client.close()


@pytest.fixture(scope="session")
def upstash(bridge_url: str) -> Iterator[Redis]:
    # rest_retries=0: a broken response must fail the test at once, not after the SDK's 3 s retry sleep.
    with Redis(bridge_url, TOKEN, rest_retries=0) as client:
        yield client


@pytest.fixture
async def async_upstash(bridge_url: str) -> AsyncIterator[AsyncRedis]:
    async with AsyncRedis(bridge_url, TOKEN, rest_retries=0) as client:
        yield client
