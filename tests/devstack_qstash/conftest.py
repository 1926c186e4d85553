"""One real redis-server for the session; per test, a broker served by uvicorn under `/qstash` (as
`llmedge dev` mounts it), the official async SDK pointed at it, and a recording destination server.

Tests isolate themselves by key prefix, so they share the Redis server. `TIME_SCALE` makes the
documented backoff (12 s, 2m28s, …) take 12 ms, 148 ms, … .
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest
from qstash import AsyncQStash, Receiver
from starlette.applications import Starlette
from starlette.routing import Mount

from llmedge.devstack.broker import QStashBroker
from llmedge.devstack.redis_server import RedisServer
from tests.devstack_qstash.harness import Destination, serve

TOKEN = "test-qstash-token"
CURRENT_KEY = "sig_CurrentTestKey1234567890abcd"  # 32 bytes, like real keys (PyJWT warns below)
NEXT_KEY = "sig_NextTestKey0987654321zyxwvut"
TIME_SCALE = 0.001
MAX_BODY_BYTES = 64 * 1024


@dataclass
class RunningBroker:
    broker: QStashBroker
    url: str  # what QSTASH_URL would be: the server's base URL + "/qstash"
    client: AsyncQStash


BrokerFactory = Callable[..., AbstractAsyncContextManager[RunningBroker]]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def key_prefix() -> str:
    return f"qstash-test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(CURRENT_KEY, NEXT_KEY)


@pytest.fixture
def broker_factory(redis_url: str, key_prefix: str) -> BrokerFactory:
    """Start a broker (on this test's key prefix) behind uvicorn; stop it when the block ends."""

    @contextlib.asynccontextmanager
    async def running(**options: object) -> AsyncIterator[RunningBroker]:
        settings: dict[str, object] = {
            "token": TOKEN,
            "current_signing_key": CURRENT_KEY,
            "next_signing_key": NEXT_KEY,
            "time_scale": TIME_SCALE,
            "max_body_bytes": MAX_BODY_BYTES,
            "key_prefix": key_prefix,
            **options,
        }
        broker = QStashBroker(redis_url, **settings)  # type: ignore[arg-type]
        async with serve(Starlette(routes=[Mount("/qstash", broker.app)])) as base:
            await broker.start()
            client = AsyncQStash(TOKEN, base_url=f"{base}/qstash", retry=False)
            try:
                yield RunningBroker(broker, f"{base}/qstash", client)
            finally:
                await client.http._client.aclose()  # AsyncQStash has no close() of its own (qstash 3.4.0)
                await broker.stop()

    return running


@pytest.fixture
async def qstash(broker_factory: BrokerFactory) -> AsyncIterator[RunningBroker]:
    async with broker_factory() as running:
        yield running


@dataclass
class ServedDestination:
    app: Destination
    url: str


@pytest.fixture
async def destination() -> AsyncIterator[ServedDestination]:
    app = Destination()
    async with serve(app) as url:
        yield ServedDestination(app, url)
