"""pytest plugin: the whole local stack (`llmedge dev`) in a subprocess, shared by the test session.

Registered in tests/conftest.py with `pytest_plugins = ["tests.stack_fixture"]`. Fixtures:

- `stack` (session): a running `llmedge dev --time-scale 0.001` on a free port with its own data folder;
  `.base_url` and `.env` (the variables it printed: UPSTASH_*, QSTASH_*, OPENAI_*, LLMEDGE_PUBLIC_URL).
- `sim` (function): reads the model simulator's counters and call log (`await sim.calls(contains=…)`).

The stack runs as a separate process with its own event loop, as real functions and QStash would. Tests
share it and run concurrently, so they find their own upstream calls by a unique marker in the prompt and
ask for faults with `[sim:…]` directives (see `llmedge.devstack.simulator_faults`), never by resetting it.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmedge.devstack import process
from llmedge.devstack.process import StackProcess, exported_variables, free_port
from tests.waiting import wait_for

__all__ = ["exported_variables", "free_port"]

STARTUP_TIMEOUT = 60.0  # two shared cores under load: redis-server, imports and the broker can be slow
STOP_TIMEOUT = 15.0


RunningStack = StackProcess


# Every test shares the stack and calls from 127.0.0.1, i.e. as one anonymous caller: its limits must not
# be what a test trips by accident. Tests of the limits use API keys of their own tiers.
TEST_LIMITS = {
    "LLMEDGE_TIERS": json.dumps(
        {
            "anonymous": {"requests": "100000/1m", "tokens": "100000000/1d", "in_flight": 1000},
            "tiny": {"requests": "2/1m"},
        }
    ),
    "LLMEDGE_GLOBAL_LIMIT": "100000/1m",
    # The shared stack serves many tests at once on two loaded cores; an admission slower than the 1 s
    # default budget would fail open by policy and make a limit test pass or fail by machine speed. The
    # fail policies are tested on their own, with stores made slow or stopped on purpose.
    "LLMEDGE_LIMITS_TIMEOUT_MS": "10000",
}
# API keys of the tiny tier (two requests a minute), one tenant per test that wants to be refused.
TINY_TIER_KEYS = {
    "browser": "llmedge-test-tiny-browser-key",
    "ask": "llmedge-test-tiny-ask-key",
    "warm": "llmedge-test-tiny-warm-key",
}
# Two tenants with roomy limits, for tests that need callers who must never see each other's cache.
TENANT_KEYS = {"tenant-a": "llmedge-test-tenant-a-key-000001", "tenant-b": "llmedge-test-tenant-b-key-000002"}
# The admin key for GET /api/stats, and a price table for a model only the stats tests use.
TEST_ADMIN_KEY = "llmedge-test-admin-key-0123456789"
STATS_TEST_MODEL = "stats-test-model"
TEST_PRICES = {STATS_TEST_MODEL: {"input": 0.15, "output": 0.6}}
TEST_SETTINGS = {
    "LLMEDGE_API_KEYS": json.dumps(
        {secret: {"tenant": f"tiny-{name}", "tier": "tiny"} for name, secret in TINY_TIER_KEYS.items()}
        | {secret: {"tenant": tenant, "tier": "pro"} for tenant, secret in TENANT_KEYS.items()}
    ),
    "LLMEDGE_ADMIN_KEY": TEST_ADMIN_KEY,
    "LLMEDGE_PRICES": json.dumps(TEST_PRICES),
}


def child_environment() -> dict[str, str]:
    """The environment for an `llmedge` subprocess: the basics of this one, no credentials, test limits."""
    return process.child_environment({**TEST_LIMITS, **TEST_SETTINGS})


def start_stack(
    data_dir: Path, *, args: Sequence[str] = (), environ: Mapping[str, str] | None = None
) -> RunningStack:
    """Run `llmedge dev` on a free port and wait until it serves; fail the test with its output if not.

    `environ` adds variables (REDIS_URL, LLMEDGE_*…) to the otherwise credential-free environment."""
    try:
        return process.start_dev_stack(
            data_dir,
            args=args,
            env={**TEST_LIMITS, **TEST_SETTINGS, **(environ or {})},
            timeout=STARTUP_TIMEOUT,
        )
    except process.StackProcessError as error:
        pytest.fail(str(error))


def stop_stack(running: RunningStack, sig: signal.Signals = signal.SIGTERM) -> int:
    """Signal the stack and wait for it to stop (killing it after a deadline); its exit code."""
    return running.stop(sig, timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("llmedge-stack"), args=["--time-scale", "0.001"])
    try:
        yield running
    finally:
        stop_stack(running)


class SimulatorProbe:
    """The simulator's control API (`/openai/_sim/...`) as seen from a test."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def stats(self) -> dict[str, Any]:
        response = await self._client.get("/_sim/stats")
        response.raise_for_status()
        return dict(response.json())

    async def calls(self, contains: str) -> list[dict[str, Any]]:
        """Every logged call whose prompt contains `contains` (use a marker unique to your test)."""
        response = await self._client.get("/_sim/calls", params={"contains": contains})
        response.raise_for_status()
        return list(response.json()["calls"])

    async def wait_for_calls(self, contains: str, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least `count` calls containing `contains` have ended; all of them."""

        async def ended() -> list[dict[str, Any]]:
            return [call for call in await self.calls(contains) if call["ended"] is not None]

        return await wait_for(ended, until=lambda calls: len(calls) >= count, timeout=within)


@pytest.fixture
async def sim(stack: RunningStack) -> AsyncIterator[SimulatorProbe]:
    async with httpx.AsyncClient(base_url=f"{stack.base_url}/openai") as client:
        yield SimulatorProbe(client)
