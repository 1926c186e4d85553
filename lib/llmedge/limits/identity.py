"""Who is calling: an API key (`Authorization: Bearer <key>`), else the client IP the platform vouches for.

Where the client IP comes from, in order:
1. On Vercel (the runtime sets `VERCEL=1`): `x-vercel-forwarded-for`, then `x-real-ip`. Vercel's edge sets
   both itself and overwrites `X-Forwarded-For` "to prevent IP spoofing"; `x-vercel-forwarded-for` is the
   one a proxy in front of Vercel cannot overwrite (https://vercel.com/docs/headers/request-headers).
   Anywhere else a client can send these headers itself, so they are ignored off Vercel.
2. `X-Forwarded-For`, only when `LLMEDGE_TRUST_PROXY_HEADERS` says how many proxies of yours append to it:
   the entry that many places from the right is the one your outermost proxy saw. The left part of the
   header is whatever the client wrote and is never used.
3. The socket peer (`client_host`, the ASGI scope's client). On AWS this is already the platform's answer:
   for API Gateway v2 (HTTP API) and Lambda function URLs (same payload format 2.0), Mangum copies
   `requestContext.http.sourceIp` into `scope["client"]` (mangum/handlers/api_gateway.py, HTTPGateway.scope).

IPv6 clients are counted per /64, the block one subscriber usually holds, so rotating addresses inside it
does not buy a fresh limit.

Resolved keys are cached in-process for `LLMEDGE_API_KEY_CACHE_TTL` seconds (default 30): a warm instance
then spends no round trip on identity, and a revoked key keeps working on warm instances for at most
that long.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from msgspec import Struct
from upstash_redis.asyncio import Redis

from llmedge.errors import AuthenticationError, StoreUnavailable
from llmedge.limits.apikeys import ApiKeyRecord, ApiKeyStore, hash_secret
from llmedge.limits.config import LimitsConfig
from llmedge.limits.store import STORE_ERRORS
from llmedge.limits.tiers import ANONYMOUS

logger = logging.getLogger("llmedge.limits")

_KEY_CACHE_SIZE = 10_000


class Caller(Struct, frozen=True):
    id: str  # what limits count against: "tenant:<name>" for a key, "ip:<address or /64>" without one
    tenant: str
    tier: str
    key_id: str | None
    ip: str | None


def client_ip(
    headers: Mapping[str, str], client_host: str | None, *, on_vercel: bool, trusted_proxy_hops: int
) -> str | None:
    """The caller's IP as the platform reports it (see the module docstring), or None if unknown."""
    if on_vercel:
        for name in ("x-vercel-forwarded-for", "x-real-ip"):
            address = _valid_ip(headers.get(name, "").split(",")[0])
            if address:
                return address
    if trusted_proxy_hops > 0:
        hops = [entry.strip() for entry in headers.get("x-forwarded-for", "").split(",") if entry.strip()]
        if len(hops) >= trusted_proxy_hops:
            address = _valid_ip(hops[-trusted_proxy_hops])
            if address:
                return address
    return _valid_ip(client_host or "")


def rate_limit_subject(address: str) -> str:
    """IPv4 as is; IPv6 as its /64 network."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _valid_ip(text: str) -> str | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


class CallerResolver:
    def __init__(self, redis: Redis, config: LimitsConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._store = ApiKeyStore(redis, config.prefix)
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, ApiKeyRecord | None]] = OrderedDict()

    async def resolve(self, headers: Mapping[str, str], client_host: str | None) -> Caller:
        """The caller of a request; `AuthenticationError` (401) for a malformed, unknown or revoked key."""
        lowered = {name.lower(): value for name, value in headers.items()}
        authorization = lowered.get("authorization", "").strip()
        if authorization:
            return await self._from_key(authorization)
        if self._config.require_api_key:
            raise AuthenticationError("an API key is required: send Authorization: Bearer <key>")
        ip = client_ip(
            lowered,
            client_host,
            on_vercel=self._config.on_vercel,
            trusted_proxy_hops=self._config.trusted_proxy_hops,
        )
        subject = f"ip:{rate_limit_subject(ip)}" if ip else "ip:unknown"
        return Caller(id=subject, tenant=ANONYMOUS, tier=ANONYMOUS, key_id=None, ip=ip)

    async def _from_key(self, authorization: str) -> Caller:
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise AuthenticationError("the Authorization header must be 'Bearer <api key>'")
        digest = hash_secret(secret)
        configured = self._config.configured_keys.get(digest)
        if configured is not None:
            return self._caller(configured.key_id, configured.tenant, configured.tier)
        record = await self._lookup(digest)
        if record is None:
            raise AuthenticationError("unknown or revoked API key")
        return self._caller(record.id, record.tenant, record.tier)

    def _caller(self, key_id: str, tenant: str, tier: str) -> Caller:
        if tier not in self._config.tiers:
            logger.warning(
                "API key %s names tier %r, which is not configured; limiting it as %s",
                key_id,
                tier,
                ANONYMOUS,
                extra={"event": "limits.unknown_tier", "key_id": key_id, "tier": tier},
            )
            tier = ANONYMOUS
        return Caller(id=f"tenant:{tenant}", tenant=tenant, tier=tier, key_id=key_id, ip=None)

    async def _lookup(self, digest: str) -> ApiKeyRecord | None:
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            record = await asyncio.wait_for(self._store.lookup_hash(digest), self._config.timeout_s)
        except STORE_ERRORS as error:
            logger.error(
                "API key lookup failed: %r",
                error,
                extra={"event": "limits.key_lookup_failed", "error": repr(error)},
            )
            raise StoreUnavailable("the API key could not be checked right now; retry shortly") from None
        # Unknown keys are cached too: a client retrying a bad key must not cost a round trip each time.
        self._cache[digest] = (now + self._config.key_cache_ttl_s, record)
        self._cache.move_to_end(digest)
        while len(self._cache) > _KEY_CACHE_SIZE:
            self._cache.popitem(last=False)
        return record
