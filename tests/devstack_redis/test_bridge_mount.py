"""The bridge mounted inside a larger Starlette app, as `llmedge dev` serves it (under /redis)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from upstash_redis import Redis

from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_bridge import UpstashBridge
from tests.devstack_redis.conftest import TOKEN


@pytest.fixture(scope="module")
def mounted_url(redis_url: str) -> Iterator[str]:
    bridge = UpstashBridge(redis_url, TOKEN)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await bridge.aclose()  # sub-apps get no lifespan events: the host app closes the bridge

    async def other(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(request.url_for("other")))

    app = Starlette(
        routes=[*bridge.routes("/redis"), Route("/api/other", other, name="other")], lifespan=lifespan
    )
    with serve_in_background(app) as url:
        yield url


@pytest.mark.parametrize("suffix", ["/redis", "/redis/"], ids=["bare", "trailing-slash"])
def test_sdk_works_with_and_without_a_trailing_slash(mounted_url: str, suffix: str) -> None:
    # The SDK builds "{url}/pipeline" by concatenation, so the trailing-slash URL posts to //pipeline.
    with Redis(mounted_url + suffix, TOKEN, rest_retries=0) as client:
        assert client.set(f"mount:{suffix}", "v") is True
        assert client.get(f"mount:{suffix}") == "v"
        pipeline = client.pipeline()
        pipeline.incr(f"mount:{suffix}:n")
        pipeline.incr(f"mount:{suffix}:n")
        assert pipeline.exec() == [1, 2]
        transaction = client.multi()
        transaction.incr(f"mount:{suffix}:n")
        assert transaction.exec() == [3]


def test_path_form_under_the_mount(mounted_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{mounted_url}/redis/set/mount:path/v", headers=headers).json() == {"result": "OK"}
    assert httpx.get(f"{mounted_url}/redis/get/mount:path", headers=headers).json() == {"result": "v"}


def test_the_host_apps_url_for_still_works(mounted_url: str) -> None:
    # Starlette's url_for walks every mounted app's `routes`; the bridge must not trip it.
    assert httpx.get(f"{mounted_url}/api/other").text == f"{mounted_url}/api/other"


async def test_unreachable_redis_is_a_json_503() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bridge = UpstashBridge(f"redis://127.0.0.1:{port}/0", TOKEN)
    transport = httpx.ASGITransport(app=bridge.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        response = await client.post("/", json=["PING"], headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 503
    assert response.json()["error"].startswith(
        "ERR Redis is unavailable: cannot connect to Redis at 127.0.0.1"
    )
    await bridge.aclose()
