"""Wait on a condition with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    timeout: float = 10.0,
    every: float = 0.02,
) -> T:
    """Call `probe` until `until(result)` holds; fail with the last result once `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}")
        await asyncio.sleep(every)


def wait_for_sync(
    probe: Callable[[], T], *, until: Callable[[T], bool], timeout: float = 10.0, every: float = 0.02
) -> T:
    """Blocking twin of `wait_for`, for tests that drive sync clients."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}")
        time.sleep(every)
