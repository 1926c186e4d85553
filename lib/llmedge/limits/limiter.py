"""The limits as the gateway sees them: `admit` before a request, `settle` after its job.

    admission = await limiter.admit(caller, cache_key=key, job_id=job_id, estimated_tokens=estimate)
    if not admission.decision.allowed:
        raise admission.decision.to_error()          # 429 (or 503 when a fail-closed limit is unreachable)
    if admission.cached is not None: ...             # exact-cache hit, read in the same round trip
    ... later, in the callback: await limiter.settle(reservation, actual_tokens=usage["total_tokens"])

A warm instance refuses callers it already knows to be over their request limit without asking Redis
(`blockcache.py`); when Redis fails or exceeds `LLMEDGE_LIMITS_TIMEOUT_MS`, each limit's fail policy
decides (`policy.py`), the choice is logged and reported in the decision and its headers. A round trip
cut short by the time budget may still have run on the server: its charges then stand (tokens until the
bucket refills, the in-flight slot until `LLMEDGE_IN_FLIGHT_TTL`), erring on the side of the limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

from msgspec import Struct
from upstash_redis.asyncio import Redis

from llmedge.errors import StoreUnavailable
from llmedge.limits import decision as decisions
from llmedge.limits.admission import AdmissionOutcome, AdmissionRequest, AdmissionScript
from llmedge.limits.blockcache import BlockCache
from llmedge.limits.config import LimitsConfig
from llmedge.limits.decision import LimitDecision, LimitState
from llmedge.limits.identity import Caller
from llmedge.limits.policy import LimitName
from llmedge.limits.reservation import Reservation
from llmedge.limits.settle import SettleScript
from llmedge.limits.store import STORE_ERRORS
from llmedge.limits.tiers import ANONYMOUS, Tier

logger = logging.getLogger("llmedge.limits")


class Admission(Struct, frozen=True):
    decision: LimitDecision
    cached: str | None  # the exact-cache entry's raw value when admitted and present
    reservation: Reservation | None  # set for an admitted miss of a tier with a token budget or in-flight cap


class Limiter:
    def __init__(self, redis: Redis, config: LimitsConfig, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = clock
        self._admission = AdmissionScript(redis, config.prefix)
        self._settle = SettleScript(redis, config.prefix)
        self._blocked = BlockCache()
        self._local_counts: Counter[str] = Counter()

    async def admit(
        self, caller: Caller, *, cache_key: str | None, job_id: str, estimated_tokens: int
    ) -> Admission:
        """Read the exact cache and check every limit in one round trip; charge only if all pass."""
        now = self._now_ms()
        tier = self._config.tiers.get(caller.tier) or self._config.tiers[ANONYMOUS]
        blocked_until = self._blocked.blocked_until(caller.id, now) if tier.requests else None
        if tier.requests and blocked_until is not None:
            self._local_counts.update([f"denied:requests:{tier.name}", f"denied:all:{tier.name}"])
            state = LimitState(
                "requests", tier.requests.limit, tier.requests.window_ms, 0, blocked_until, blocked_until
            )
            return Admission(decisions.refused([state], tier, now, cost=estimated_tokens), None, None)

        local_counts, self._local_counts = self._local_counts, Counter()
        request = AdmissionRequest(
            caller_id=caller.id,
            tier=tier,
            global_limit=self._config.global_limit,
            cache_key=cache_key,
            job_id=job_id,
            cost=max(0, estimated_tokens),
            in_flight_ttl_ms=self._config.in_flight_ttl_ms,
            now_ms=now,
            local_counts=local_counts,
        )
        try:
            outcome = await asyncio.wait_for(self._admission.run(request), self._config.timeout_s)
        except STORE_ERRORS as error:
            self._local_counts.update(local_counts)  # not recorded; try again with the next round trip
            return Admission(self._fail_policy(caller, tier, error), None, None)
        return self._admission_from(outcome, request)

    async def settle(self, reservation: Reservation, *, actual_tokens: int) -> None:
        """Refund or charge the difference from the estimate and free the in-flight slot (idempotent).

        Raises `StoreUnavailable` if Redis cannot be reached, so the callback fails and QStash redelivers
        it; the second attempt settles exactly once thanks to the script's guard.
        """
        try:
            settled = await self._settle.run(reservation, actual_tokens=actual_tokens, now_ms=self._now_ms())
        except STORE_ERRORS as error:
            raise StoreUnavailable("could not settle the job's token budget; retry") from error
        if not settled:
            logger.info(
                "reservation of job %s was already settled or its in-flight slot expired",
                reservation.job_id,
                extra={"event": "limits.settle_skipped", "job_id": reservation.job_id},
            )

    def _now_ms(self) -> int:
        return round(self._clock() * 1000)

    def _admission_from(self, outcome: AdmissionOutcome, request: AdmissionRequest) -> Admission:
        tier, now = request.tier, request.now_ms
        if not outcome.allowed:
            for state in outcome.states:
                if state.name == "requests" and state.retry_at_ms is not None:
                    self._blocked.block(request.caller_id, state.retry_at_ms, now)
            return Admission(decisions.refused(outcome.states, tier, now, cost=request.cost), None, None)
        reservation = None
        if not outcome.hit and (tier.tokens is not None or tier.in_flight is not None):
            reservation = Reservation(
                job_id=request.job_id,
                caller_id=request.caller_id,
                tier=tier.name,
                estimated_tokens=request.cost if tier.tokens else 0,
                in_flight_key=self._admission.keys.in_flight(request.caller_id),
                token_key=self._admission.keys.tokens(request.caller_id),
                token_size=tier.tokens.limit if tier.tokens else 0,
                token_interval_ms=tier.tokens.window_ms if tier.tokens else 0,
                token_refill=tier.tokens.limit if tier.tokens else 0,
            )
        return Admission(decisions.admitted(outcome.states, tier, now), outcome.cached, reservation)

    def _fail_policy(self, caller: Caller, tier: Tier, error: Exception) -> LimitDecision:
        # Redis could not say whether this is a cache hit, so every limit a miss would meet applies.
        applicable: list[LimitName] = []
        if tier.requests:
            applicable.append("requests")
        if self._config.global_limit:
            applicable.append("global")
        if tier.tokens:
            applicable.append("tokens")
        if tier.in_flight:
            applicable.append("in_flight")
        closed = self._config.fail_policy.first_closed(tuple(applicable))
        logger.warning(
            "limits store unavailable (%r): failing %s for %s",
            error,
            f"closed on {closed}" if closed else "open",
            caller.id,
            extra={
                "event": "limits.fail_policy",
                "policy": "closed" if closed else "open",
                "limit": closed,
                "limits": applicable,
                "caller": caller.id,
                "tier": tier.name,
                "error": repr(error),
            },
        )
        return decisions.failed_closed(closed, tier) if closed else decisions.failed_open(tier)
