"""Caller identity, tiers, rate limits, token budgets and in-flight caps, checked in one Redis round trip.

The gateway's whole surface:

    config = LimitsConfig.from_environ(os.environ)
    resolver = CallerResolver(redis, config)
    limiter = Limiter(redis, config)
    caller = await resolver.resolve(request.headers, request.client.host if request.client else None)
    admission = await limiter.admit(caller, cache_key=..., job_id=..., estimated_tokens=estimate_tokens(...))
    await limiter.settle(Reservation.from_dict(stored), actual_tokens=...)
"""

from llmedge.limits.config import LimitsConfig
from llmedge.limits.decision import LimitDecision
from llmedge.limits.estimate import estimate_tokens
from llmedge.limits.identity import Caller, CallerResolver
from llmedge.limits.limiter import Admission, Limiter
from llmedge.limits.reservation import Reservation
from llmedge.limits.stats import read_stats

__all__ = [
    "Admission",
    "Caller",
    "CallerResolver",
    "LimitDecision",
    "Limiter",
    "LimitsConfig",
    "Reservation",
    "estimate_tokens",
    "read_stats",
]
