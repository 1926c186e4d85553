"""Who is calling: spoofable headers are ignored, platform headers used where the platform sets them."""

from __future__ import annotations

import json

import pytest
from upstash_redis.asyncio import Redis

from llmedge.errors import AuthenticationError, StoreUnavailable
from llmedge.limits.apikeys import ApiKeyStore, hash_secret
from llmedge.limits.config import LimitsConfig
from llmedge.limits.identity import CallerResolver, client_ip
from tests.limits.factories import closed_port_url
from tests.upstash_fixture import upstash_client


def test_spoofed_forwarded_for_is_ignored_by_default() -> None:
    headers = {"x-forwarded-for": "6.6.6.6", "x-real-ip": "7.7.7.7", "x-vercel-forwarded-for": "8.8.8.8"}
    assert client_ip(headers, "203.0.113.9", on_vercel=False, trusted_proxy_hops=0) == "203.0.113.9"


def test_vercel_headers_used_on_vercel_only() -> None:
    headers = {"x-forwarded-for": "6.6.6.6", "x-vercel-forwarded-for": "198.51.100.7", "x-real-ip": "1.1.1.1"}
    assert client_ip(headers, "10.0.0.1", on_vercel=True, trusted_proxy_hops=0) == "198.51.100.7"
    assert client_ip({"x-real-ip": "198.51.100.8"}, "10.0.0.1", on_vercel=True, trusted_proxy_hops=0) == (
        "198.51.100.8"
    )
    # A garbage value is not an address: fall through to the next source rather than trust it.
    assert client_ip(
        {"x-vercel-forwarded-for": "evil"}, "10.0.0.1", on_vercel=True, trusted_proxy_hops=0
    ) == ("10.0.0.1")


def test_forwarded_for_counted_from_the_right_when_trusted() -> None:
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.5, 10.0.0.2"}  # client wrote 6.6.6.6 itself
    assert client_ip(headers, "10.0.0.3", on_vercel=False, trusted_proxy_hops=1) == "10.0.0.2"
    assert client_ip(headers, "10.0.0.3", on_vercel=False, trusted_proxy_hops=2) == "203.0.113.5"
    # Fewer entries than trusted proxies: the header is not what our proxies wrote; use the peer.
    assert client_ip({"x-forwarded-for": "6.6.6.6"}, "10.0.0.3", on_vercel=False, trusted_proxy_hops=2) == (
        "10.0.0.3"
    )


def test_unknown_peer() -> None:
    assert client_ip({}, "testclient", on_vercel=False, trusted_proxy_hops=0) is None
    assert client_ip({}, None, on_vercel=False, trusted_proxy_hops=0) is None


async def test_anonymous_callers_by_ip_and_ipv6_by_64() -> None:
    resolver = CallerResolver(upstash_client(closed_port_url()), LimitsConfig())
    caller = await resolver.resolve({"X-Forwarded-For": "6.6.6.6"}, "203.0.113.9")
    assert (caller.id, caller.tier, caller.tenant, caller.key_id, caller.ip) == (
        "ip:203.0.113.9",
        "anonymous",
        "anonymous",
        None,
        "203.0.113.9",
    )
    first = await resolver.resolve({}, "2001:db8:1:2:aaaa::1")
    second = await resolver.resolve({}, "2001:db8:1:2:bbbb::7")
    assert first.id == second.id == "ip:2001:db8:1:2::/64"
    assert (await resolver.resolve({}, "::ffff:192.0.2.1")).id == "ip:192.0.2.1"
    assert (await resolver.resolve({}, None)).id == "ip:unknown"


async def test_api_gateway_v2_source_ip_reaches_the_resolver_through_mangum() -> None:
    """Lambda: Mangum turns requestContext.http.sourceIp into the ASGI client; no header is read."""
    from mangum.handlers.api_gateway import HTTPGateway

    event = {
        "version": "2.0",
        "rawPath": "/api/generate",
        "rawQueryString": "",
        "headers": {"x-forwarded-for": "6.6.6.6", "host": "abc.lambda-url.eu-west-1.on.aws"},
        "requestContext": {"http": {"method": "POST", "path": "/api/generate", "sourceIp": "192.0.2.44"}},
        "body": "",
        "isBase64Encoded": False,
    }
    scope = HTTPGateway(event, {}, {"api_gateway_base_path": "/"}).scope  # type: ignore[arg-type]
    headers = {name.decode(): value.decode() for name, value in scope["headers"]}
    caller = await CallerResolver(upstash_client(closed_port_url()), LimitsConfig()).resolve(
        headers, scope["client"][0]
    )
    assert caller.id == "ip:192.0.2.44"


async def test_configured_key_needs_no_round_trip() -> None:
    config = LimitsConfig.from_environ(
        {"LLMEDGE_API_KEYS": json.dumps({"llme_cfg": {"tenant": "acme", "tier": "pro"}})}
    )
    resolver = CallerResolver(upstash_client(closed_port_url()), config)  # Redis unreachable on purpose
    caller = await resolver.resolve({"Authorization": "Bearer llme_cfg"}, "203.0.113.1")
    assert (caller.id, caller.tenant, caller.tier, caller.ip) == ("tenant:acme", "acme", "pro", None)
    assert caller.key_id == f"cfg_{hash_secret('llme_cfg')[:12]}"


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwdw==", "Bearer", "Bearer   ", "llme_nobearer"])
async def test_malformed_authorization_is_401(authorization: str) -> None:
    resolver = CallerResolver(upstash_client(closed_port_url()), LimitsConfig())
    with pytest.raises(AuthenticationError, match="Bearer"):
        await resolver.resolve({"Authorization": authorization}, "203.0.113.1")


async def test_key_required_when_configured() -> None:
    resolver = CallerResolver(upstash_client(closed_port_url()), LimitsConfig(require_api_key=True))
    with pytest.raises(AuthenticationError) as raised:
        await resolver.resolve({}, "203.0.113.1")
    assert raised.value.status == 401


async def test_unreachable_key_store_is_503_not_401() -> None:
    resolver = CallerResolver(upstash_client(closed_port_url()), LimitsConfig(timeout_s=5))
    with pytest.raises(StoreUnavailable):
        await resolver.resolve({"Authorization": "Bearer llme_unknown"}, "203.0.113.1")


async def test_stored_key_resolves_then_revocation_takes_effect_after_the_cache_ttl(
    redis: Redis, prefix: str
) -> None:
    now = [1_000.0]
    config = LimitsConfig(prefix=prefix, key_cache_ttl_s=30, timeout_s=30)
    store = ApiKeyStore(redis, prefix)
    created = await store.create(tenant="acme", tier="pro")
    resolver = CallerResolver(redis, config, clock=lambda: now[0])
    headers = {"authorization": f"Bearer {created.secret}"}

    caller = await resolver.resolve(headers, "203.0.113.1")
    assert (caller.id, caller.tier, caller.key_id) == ("tenant:acme", "pro", created.record.id)

    assert await store.revoke(created.record.id)
    now[0] += 29  # still inside the documented revocation delay: the warm instance trusts its cache
    assert (await resolver.resolve(headers, "203.0.113.1")).key_id == created.record.id
    now[0] += 2
    with pytest.raises(AuthenticationError, match="unknown or revoked"):
        await resolver.resolve(headers, "203.0.113.1")


async def test_unknown_key_is_401_and_cached(redis: Redis, prefix: str) -> None:
    resolver = CallerResolver(redis, LimitsConfig(prefix=prefix, timeout_s=30))
    for _ in range(2):
        with pytest.raises(AuthenticationError) as raised:
            await resolver.resolve({"Authorization": "Bearer llme_guess"}, "203.0.113.1")
        assert raised.value.status == 401
    await redis.close()  # the second refusal above came from the cache; a third needs no Redis either
    with pytest.raises(AuthenticationError):
        await resolver.resolve({"Authorization": "Bearer llme_guess"}, "203.0.113.1")


async def test_key_with_a_tier_no_longer_configured_is_limited_as_anonymous(
    redis: Redis, prefix: str
) -> None:
    created = await ApiKeyStore(redis, prefix).create(tenant="old", tier="gold")
    resolver = CallerResolver(redis, LimitsConfig(prefix=prefix, timeout_s=30))
    caller = await resolver.resolve({"authorization": f"bearer {created.secret}"}, None)
    assert (caller.tenant, caller.tier) == ("old", "anonymous")
