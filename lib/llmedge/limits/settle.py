"""Reconcile a reservation once the job is over: the Python side of `settle.lua`.

The callback calls it with the real `usage.total_tokens`; the gateway calls it with 0 when an admitted
miss ends up not calling the model (a semantic hit, joining an identical in-flight job, a failed publish).
A refund never fills the bucket past its size; an extra charge may leave it below zero, and the caller's
next misses wait until the refills pay that back. Idempotent, so a redelivered callback is harmless.
"""

from __future__ import annotations

from upstash_redis.asyncio import Redis

from llmedge.limits.reservation import Reservation
from llmedge.limits.scripts import script_text
from llmedge.limits.stats import stats_key
from llmedge.luascript import LuaScript


class SettleScript:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._script = LuaScript(script_text("settle.lua"))
        self._stats = stats_key(prefix)

    async def run(self, reservation: Reservation, *, actual_tokens: int, now_ms: int) -> bool:
        """True when this call settled the job; False when it had been settled already or its slot expired."""
        keys = [reservation.in_flight_key, reservation.token_key, self._stats]
        args = [
            reservation.job_id,
            now_ms,
            reservation.tier,
            max(0, actual_tokens),
            reservation.estimated_tokens,
            reservation.token_size,
            reservation.token_interval_ms,
            reservation.token_refill,
        ]
        return await self._script.run(self._redis, keys, [str(arg) for arg in args]) == 1
