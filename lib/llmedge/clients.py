"""The outbound clients of one function instance, built once per cold start and reused while warm.

Both Upstash SDKs build their own httpx clients with generous timeouts (upstash-redis: none at all, plus a
3 s sleep before its one retry; qstash: 600 s and five retries spread over ~12 s). A serverless function
with a 10 s limit cannot afford either, so the timeouts and retry counts are set here, in one place.

The QStash SDK (and PyJWT under it) is imported on first use: a cache hit never needs it, and importing it
costs ~50 ms of every cold start here.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx
from upstash_redis.asyncio import Redis

from llmedge.settings import Settings

if TYPE_CHECKING:
    from qstash import AsyncQStash, Receiver

# A publish that QStash did not answer within this is reported as 503 rather than waited for.
_QSTASH_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# One quick retry covers a dropped keep-alive connection; more would eat the function's time limit.
_QSTASH_RETRY: dict[str, Any] = {"retries": 1, "backoff": lambda attempt: 100.0}


class Clients:
    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._transport = transport
        self.redis = Redis(settings.redis_url, settings.redis_token, rest_retries=0, allow_telemetry=False)
        # upstash-redis offers no timeout option; its http client is the only place to set one.
        self._configure(self.redis._http, httpx.Timeout(settings.redis_timeout))

    def _configure(self, sdk_http: Any, timeout: httpx.Timeout) -> None:
        """Set the timeout on the httpx client an SDK made for itself. Each new httpx client loads the CA
        bundle (~35 ms here), so at cold start the SDK's own client is kept; only a test's transport
        needs a client of its own."""
        if self._transport is None:
            sdk_http._client.timeout = timeout
        else:
            sdk_http._client = httpx.AsyncClient(timeout=timeout, transport=self._transport)

    @cached_property
    def qstash(self) -> AsyncQStash:
        from qstash import AsyncQStash

        client = AsyncQStash(
            self._settings.qstash_token,
            retry=_QSTASH_RETRY,  # type: ignore[arg-type]
            base_url=self._settings.qstash_url,
        )
        self._configure(client.http, _QSTASH_TIMEOUT)
        return client

    @cached_property
    def receiver(self) -> Receiver:
        from qstash import Receiver

        return Receiver(self._settings.qstash_current_signing_key, self._settings.qstash_next_signing_key)

    @cached_property
    def upstream(self) -> httpx.AsyncClient:
        """The model API, called directly only in bypass mode (Redis unreachable)."""
        return httpx.AsyncClient(timeout=self._settings.bypass_timeout, transport=self._transport)

    async def aclose(self) -> None:
        await self.redis._http.close()
        if "qstash" in self.__dict__:
            await self.qstash.http._client.aclose()
        if "upstream" in self.__dict__:
            await self.upstream.aclose()
