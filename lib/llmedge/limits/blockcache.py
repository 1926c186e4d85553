"""Callers known to be over their request limit until a given time, refused without a Redis call.

Only request-limit denials are remembered: that limit applies to every request, so the answer until the
stored time is certain (the admission script returns the earliest moment the sliding window could admit
again). Token budgets, in-flight caps and the global limit apply only to cache misses; a caller refused
by them may still be served from the cache, which only Redis can tell.

In-process and bounded: a flood of distinct callers evicts the entries closest to expiry first, so memory
stays flat and the worst case is an extra round trip, never a wrong refusal.
"""

from __future__ import annotations

import heapq


class BlockCache:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._until_ms: dict[str, int] = {}

    def blocked_until(self, caller_id: str, now_ms: int) -> int | None:
        """When `caller_id` may try again, if that is still in the future; else None (and forget it)."""
        until = self._until_ms.get(caller_id)
        if until is None:
            return None
        if until <= now_ms:
            del self._until_ms[caller_id]
            return None
        return until

    def block(self, caller_id: str, until_ms: int, now_ms: int) -> None:
        if until_ms <= now_ms:
            return
        self._until_ms[caller_id] = until_ms
        if len(self._until_ms) > self._max_entries:
            self._evict(now_ms)

    def __len__(self) -> int:
        return len(self._until_ms)

    def _evict(self, now_ms: int) -> None:
        expired = [caller for caller, until in self._until_ms.items() if until <= now_ms]
        for caller in expired:
            del self._until_ms[caller]
        # Down to 90% of the bound, so a flood pays for a scan once per tenth of the cache, not per insert.
        excess = len(self._until_ms) - self._max_entries * 9 // 10
        if excess > 0:
            for caller, _ in heapq.nsmallest(excess, self._until_ms.items(), key=lambda item: item[1]):
                del self._until_ms[caller]
