"""The SDKs' clients get a function's time budget, not their own defaults (no timeout; 600 s)."""

from __future__ import annotations

import httpx

from llmedge.clients import Clients
from llmedge.settings import Settings


async def test_sdk_clients_get_our_timeouts_and_keep_their_own_http_client(settings: Settings) -> None:
    clients = Clients(settings)
    try:
        redis_http = clients.redis._http._client
        assert redis_http.timeout == httpx.Timeout(settings.redis_timeout)
        qstash_http = clients.qstash.http._client
        assert qstash_http.timeout.read == 5.0 and qstash_http.timeout.connect == 2.0
        assert clients.qstash.http._retry["retries"] == 1
    finally:
        await clients.aclose()


async def test_a_test_transport_carries_every_sdk_request(settings: Settings) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(
            200,
            json={"result": "UE9ORw=="},  # base64 of PONG (Upstash-Encoding: base64)
        )

    clients = Clients(settings, transport=httpx.MockTransport(answer))
    try:
        assert await clients.redis.ping() == "PONG"
        assert seen == ["redis.invalid"]
    finally:
        await clients.aclose()
