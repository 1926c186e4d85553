"""A limit decision and the headers that tell the client about it.

Headers follow draft-ietf-httpapi-ratelimit-headers (the -06 field names the issue asks for):
`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (delta seconds, not a timestamp) for the limit
closest to running out (or, on a refusal, the one that tripped); `RateLimit-Policy` lists the tier's
windowed limits, e.g. `60;w=60;comment="requests", 250000;w=86400;comment="tokens"`; `Retry-After` on
refusals. `X-RateLimit-Status` says when Redis could not be asked and a fail policy decided instead.
"""

from __future__ import annotations

import math

from msgspec import Struct, field

from llmedge.errors import LLMEdgeError, RateLimited, StoreUnavailable
from llmedge.limits.policy import FailMode, LimitName
from llmedge.limits.tiers import Tier

# An outage of the limit store is usually short; clients should come back soon, not after a window.
FAIL_CLOSED_RETRY_AFTER_S = 5
_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000))


class LimitState(Struct, frozen=True):
    """One limit's answer. `retry_at_ms` is set only when this limit refused."""

    name: LimitName
    limit: int
    window_ms: int | None  # None for the in-flight cap, which has no window
    remaining: int
    reset_ms: int
    retry_at_ms: int | None = None


class LimitDecision(Struct):
    allowed: bool
    tripped: LimitName | None
    headers: dict[str, str] = field(default_factory=dict)
    fail_policy_applied: FailMode | None = None  # set when Redis could not answer and the policy decided
    message: str | None = None

    def to_error(self) -> LLMEdgeError:
        """The error for a refusal: 429 when a limit tripped, 503 when a fail-closed limit could not be checked."""
        details = {"limit": self.tripped}
        if self.fail_policy_applied == "closed":
            return StoreUnavailable(
                self.message or "limits unavailable", headers=self.headers, details=details
            )
        return RateLimited(self.message or "rate limited", headers=self.headers, details=details)


def format_window(window_ms: int) -> str:
    for unit, size in _UNITS:
        if window_ms % size == 0:
            return f"{window_ms // size}{unit}"
    return f"{window_ms}ms"


def policy_header(tier: Tier) -> dict[str, str]:
    items = [
        f'{rate.limit};w={rate.window_seconds};comment="{name}"'
        for name, rate in (("requests", tier.requests), ("tokens", tier.tokens))
        if rate is not None
    ]
    return {"RateLimit-Policy": ", ".join(items)} if items else {}


def _seconds_until(moment_ms: int, now_ms: int) -> int:
    return max(0, math.ceil((moment_ms - now_ms) / 1000))


def _state_headers(state: LimitState, now_ms: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(state.limit),
        "RateLimit-Remaining": str(max(0, state.remaining)),
        "RateLimit-Reset": str(_seconds_until(state.reset_ms, now_ms)),
    }


def admitted(states: list[LimitState], tier: Tier, now_ms: int) -> LimitDecision:
    """Admitted: headers of the caller's own limit closest to running out (the global one is not theirs)."""
    headers = policy_header(tier)
    own = [state for state in states if state.name != "global"]
    if own:
        tightest = min(own, key=lambda state: state.remaining / state.limit)
        headers.update(_state_headers(tightest, now_ms))
    return LimitDecision(allowed=True, tripped=None, headers=headers)


def refused(states: list[LimitState], tier: Tier, now_ms: int, *, cost: int) -> LimitDecision:
    """Refused: the limit that keeps the caller out longest is the one reported."""
    refusing = [state for state in states if state.retry_at_ms is not None]
    tripped = max(refusing, key=lambda state: state.retry_at_ms or 0)
    headers = policy_header(tier) | _state_headers(tripped, now_ms)
    headers["RateLimit-Remaining"] = "0"
    headers["Retry-After"] = str(max(1, _seconds_until(tripped.retry_at_ms or now_ms, now_ms)))
    return LimitDecision(
        allowed=False, tripped=tripped.name, headers=headers, message=_message(tripped, tier.name, cost)
    )


def _message(state: LimitState, tier: str, cost: int) -> str:
    per = f" per {format_window(state.window_ms)}" if state.window_ms else ""
    if state.name == "requests":
        return f"request limit reached: {state.limit} requests{per} for tier {tier!r}"
    if state.name == "global":
        return f"the gateway is at its global limit of {state.limit} model calls{per}; retry later"
    if state.name == "tokens" and cost > state.limit:
        return (
            f"this request is estimated at {cost} tokens, more than the whole budget of {state.limit} "
            f"tokens{per} of tier {tier!r}; lower max_tokens or the prompt"
        )
    if state.name == "tokens":
        return f"token budget exhausted: {state.limit} tokens{per} for tier {tier!r} (this request needs ~{cost})"
    return f"{state.limit} jobs already in flight for this caller (tier {tier!r}); retry when one finishes"


def failed_open(tier: Tier) -> LimitDecision:
    headers = policy_header(tier) | {"X-RateLimit-Status": "fail-open"}
    return LimitDecision(allowed=True, tripped=None, headers=headers, fail_policy_applied="open")


def failed_closed(limit: LimitName, tier: Tier) -> LimitDecision:
    headers = policy_header(tier) | {
        "X-RateLimit-Status": f"fail-closed; limit={limit}",
        "Retry-After": str(FAIL_CLOSED_RETRY_AFTER_S),
    }
    message = f"the {limit} limit cannot be checked right now (limit store unavailable); retry shortly"
    return LimitDecision(
        allowed=False, tripped=limit, headers=headers, fail_policy_applied="closed", message=message
    )
