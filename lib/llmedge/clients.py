"""The outbound clients of one function instance, built once per cold start and reused while warm.

Both Upstash SDKs build their own httpx clients with generous timeouts (upstash-redis: none at all, plus a
3 s sleep before its one retry; qstash: 600 s and five retries spread over ~12 s). A serverless function
with a 10 s limit cannot afford either, so the timeouts and retry counts are set here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from qstash import AsyncQStash, Receiver
from upstash_redis.asyncio import Redis

from llmedge.settings import Settings

# A publish that QStash did not answer within this is reported as 503 rather than waited for.
_QSTASH_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
# One quick retry covers a dropped keep-alive connection; more would eat the function's time limit.
_QSTASH_RETRY = {"retries": 1, "backoff": lambda attempt: 100.0}


@dataclass
class Clients:
    redis: Redis
    qstash: AsyncQStash
    receiver: Receiver

    async def aclose(self) -> None:
        await self.redis._http.close()
        await self.qstash.http._client.aclose()


def build_clients(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Clients:
    """Clients configured for a function's time budget; `transport` lets tests route them in-process."""
    redis = Redis(
        settings.redis_url,
        settings.redis_token,
        rest_retries=0,
        allow_telemetry=False,
    )
    # upstash-redis offers no timeout option; its http client is the only place to set one.
    redis._http._client = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.redis_timeout), transport=transport
    )
    qstash = AsyncQStash(settings.qstash_token, retry=_QSTASH_RETRY, base_url=settings.qstash_url)  # type: ignore[arg-type]
    qstash.http._client = httpx.AsyncClient(timeout=_QSTASH_TIMEOUT, transport=transport)
    receiver = Receiver(settings.qstash_current_signing_key, settings.qstash_next_signing_key)
    return Clients(redis=redis, qstash=qstash, receiver=receiver)
