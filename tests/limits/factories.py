"""Building blocks for the limits tests: a config with one tier under test, callers, closed ports."""

from __future__ import annotations

import socket
import uuid

from llmedge.limits.config import LimitsConfig
from llmedge.limits.identity import Caller
from llmedge.limits.policy import FailPolicy
from llmedge.limits.tiers import ANONYMOUS, DEFAULT_TIERS, Rate, Tier


def config_with(
    tier: Tier,
    *,
    prefix: str,
    global_limit: Rate | None = None,
    fail_policy: FailPolicy | None = None,
    timeout_s: float = 30.0,
) -> LimitsConfig:
    """Limits with `tier` added; a generous timeout, because this machine is shared and noisy and a
    test about limits must not turn into a test of the fail policy by accident."""
    return LimitsConfig(
        tiers={**DEFAULT_TIERS, tier.name: tier},
        global_limit=global_limit,
        fail_policy=fail_policy or FailPolicy(),
        timeout_s=timeout_s,
        prefix=prefix,
    )


def new_caller(tier: str = ANONYMOUS) -> Caller:
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    return Caller(id=f"tenant:{tenant}", tenant=tenant, tier=tier, key_id="key_test", ip=None)


def closed_port_url() -> str:
    """An http URL on a loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
