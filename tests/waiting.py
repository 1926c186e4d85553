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


def seconds_left_in_window(window_s: float) -> float:
    return window_s - time.time() % window_s


def wait_for_room_in_window(window_s: float = 60.0, room_s: float = 15.0) -> None:
    """Wait until the current fixed window (as the limits count them) has `room_s` seconds left.

    Tests that trip a rate limit need all their requests inside one window: across a boundary the sliding
    window weights the previous window's count (upstash-ratelimit's approximation), which would admit
    one request more for up to half a window.
    """
    wait_for_sync(
        lambda: seconds_left_in_window(window_s),
        until=lambda left: left > room_s,
        timeout=room_s + 5,
        every=0.25,
    )
