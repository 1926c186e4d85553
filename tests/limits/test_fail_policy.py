"""Redis down or too slow: each limit does what its fail policy says, logs it, and the decision says so."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest
from upstash_redis.asyncio import Redis

from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import serve_in_background
from llmedge.devstack.rest_bridge import UpstashBridge
from llmedge.limits.limiter import Limiter
from llmedge.limits.policy import FailPolicy
from llmedge.limits.tiers import Rate, Tier
from tests.limits.factories import closed_port_url, config_with, new_caller
from tests.upstash_fixture import TOKEN, upstash_client

REQUESTS_ONLY = Tier("requests-only", requests=Rate(10, 60_000))
WITH_BUDGET = Tier("with-budget", requests=Rate(10, 60_000), tokens=Rate(1_000, 86_400_000), in_flight=2)
WITH_CAP = Tier("with-cap", requests=Rate(10, 60_000), in_flight=2)


@pytest.fixture
def silent_server_url() -> Iterator[str]:
    """Accepts connections (the kernel's backlog does) and never answers: Redis slower than any budget."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def limiter_for(
    redis: Redis, tier: Tier, policy: FailPolicy | None = None, timeout_s: float = 5.0
) -> Limiter:
    config = config_with(
        tier, prefix="unused", global_limit=Rate(100, 60_000), fail_policy=policy, timeout_s=timeout_s
    )
    return Limiter(redis, config)


@pytest.mark.parametrize(
    ("tier", "policy", "allowed", "tripped"),
    [
        (REQUESTS_ONLY, FailPolicy(), True, None),  # requests and global fail open by default
        (WITH_BUDGET, FailPolicy(), False, "tokens"),  # the token budget fails closed by default
        (WITH_CAP, FailPolicy(), True, None),  # in-flight fails open by default
        (WITH_CAP, FailPolicy(in_flight="closed"), False, "in_flight"),
        (REQUESTS_ONLY, FailPolicy(requests="closed"), False, "requests"),
        (REQUESTS_ONLY, FailPolicy(global_="closed"), False, "global"),
        (WITH_BUDGET, FailPolicy(tokens="open"), True, None),
    ],
)
async def test_redis_down_follows_each_limits_policy(
    tier: Tier, policy: FailPolicy, allowed: bool, tripped: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with upstash_client(closed_port_url()) as redis:
        limiter = limiter_for(redis, tier, policy)
        with caplog.at_level(logging.WARNING, logger="llmedge.limits"):
            admission = await limiter.admit(
                new_caller(tier.name), cache_key="c", job_id="j", estimated_tokens=10
            )

    decision = admission.decision
    assert (decision.allowed, decision.tripped) == (allowed, tripped)
    assert admission.cached is None and admission.reservation is None  # nothing was charged
    [record] = [record for record in caplog.records if getattr(record, "event", None) == "limits.fail_policy"]
    if allowed:
        assert decision.fail_policy_applied == "open"
        assert decision.headers["X-RateLimit-Status"] == "fail-open"
        assert record.__dict__["policy"] == "open" and record.__dict__["limit"] is None
    else:
        assert decision.fail_policy_applied == "closed"
        assert decision.headers["X-RateLimit-Status"] == f"fail-closed; limit={tripped}"
        error = decision.to_error()
        assert error.status == 503 and error.body()["error"]["limit"] == tripped
        assert record.__dict__["policy"] == "closed" and record.__dict__["limit"] == tripped
    assert record.__dict__["tier"] == tier.name and "ConnectError" in record.__dict__["error"]


async def test_redis_slower_than_the_budget_applies_the_policy(silent_server_url: str) -> None:
    async with upstash_client(silent_server_url) as redis:
        limiter = limiter_for(redis, WITH_BUDGET, timeout_s=0.2)
        admission = await limiter.admit(
            new_caller(WITH_BUDGET.name), cache_key="c", job_id="j", estimated_tokens=1
        )
    assert (admission.decision.allowed, admission.decision.tripped) == (False, "tokens")
    assert admission.decision.fail_policy_applied == "closed"


async def test_redis_server_stopped_behind_the_bridge(prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    """The literal outage: redis-server stops, the bridge answers with an error; known-blocked callers are
    still refused by the block cache, others get the fail policy."""
    tier = Tier("t", requests=Rate(1, 3_600_000))
    caller, stranger = new_caller("t"), new_caller("t")
    with RedisServer() as server, serve_in_background(UpstashBridge(server.url, TOKEN).app) as url:
        async with upstash_client(url) as redis:
            limiter = Limiter(redis, config_with(tier, prefix=prefix, timeout_s=5))
            assert (
                await limiter.admit(caller, cache_key=None, job_id="1", estimated_tokens=0)
            ).decision.allowed
            assert not (
                await limiter.admit(caller, cache_key=None, job_id="2", estimated_tokens=0)
            ).decision.allowed
            server.stop()
            with caplog.at_level(logging.WARNING, logger="llmedge.limits"):
                blocked = (
                    await limiter.admit(caller, cache_key=None, job_id="3", estimated_tokens=0)
                ).decision
                other = (
                    await limiter.admit(stranger, cache_key=None, job_id="4", estimated_tokens=0)
                ).decision
    assert (blocked.allowed, blocked.tripped, blocked.fail_policy_applied) == (False, "requests", None)
    assert (other.allowed, other.fail_policy_applied) == (True, "open")
    limits_records = [record for record in caplog.records if record.name == "llmedge.limits"]
    assert [record.__dict__["caller"] for record in limits_records] == [stranger.id]
