"""One round trip for the exact-cache read and every limit: the Python side of `admission.lua`.

Why one custom script rather than upstash-ratelimit's limiters one after another: a request meets up to
four limits (requests, global, tokens, in-flight) plus the cache read. As separate calls that is five
round trips in sequence, or five concurrent requests with asyncio.gather; either way a refusal by one
limit comes after the others have already charged the caller (no all-or-nothing), gathered calls cannot
spare a cache hit the token and in-flight checks (the script sees the hit first), and in-flight has no
upstash-ratelimit algorithm at all. The script keeps SlidingWindow's and TokenBucket's arithmetic exactly
(tests/limits/test_oracle.py checks it against upstash-ratelimit itself) and `python -m
llmedge.bench.limits` measures both ways side by side.

The script carries no `allow-key-locking` flag: every admission writes the shared stats hash (and every
miss the global window), so locking only the declared keys would serialise admissions all the same.
Key layout (every key is still declared in KEYS, as Upstash asks of scripts):
`<prefix>:limits:req:<caller>:<window index>`, `<prefix>:limits:global:<window index>`,
`<prefix>:limits:tokens:<caller>`, `<prefix>:limits:inflight:<caller>`, `<prefix>:limits:stats`.
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import Struct
from upstash_redis.asyncio import Redis

from llmedge.limits.decision import LimitState
from llmedge.limits.policy import LIMIT_NAMES, LimitName
from llmedge.limits.scripts import script_text
from llmedge.limits.stats import stats_key
from llmedge.limits.tiers import Rate, Tier
from llmedge.luascript import LuaScript

# A refused in-flight request is told to come back after this at most: a slot frees when any job of the
# caller finishes, usually long before the slot's worst-case expiry that the script reports.
IN_FLIGHT_RETRY_HINT_MS = 5_000


class AdmissionRequest(Struct, frozen=True):
    caller_id: str
    tier: Tier
    global_limit: Rate | None
    cache_key: str | None  # None: do not read the cache (no-cache / refresh), treat as a miss
    job_id: str
    cost: int
    in_flight_ttl_ms: int
    now_ms: int
    local_counts: Mapping[str, int]  # stats fields decided locally since the last round trip


class AdmissionOutcome(Struct, frozen=True):
    states: list[LimitState]
    hit: bool
    cached: str | None  # the exact-cache entry, only when admitted

    @property
    def allowed(self) -> bool:
        return all(state.retry_at_ms is None for state in self.states)


class LimitKeys:
    def __init__(self, prefix: str) -> None:
        self.stats = stats_key(prefix)
        self._base = f"{prefix}:limits"

    def window(self, scope: str, rate: Rate | None, now_ms: int) -> tuple[str, str]:
        """(current, previous) window keys, named by window index as upstash-ratelimit names them."""
        index = now_ms // rate.window_ms if rate else 0
        return f"{self._base}:{scope}:{index}", f"{self._base}:{scope}:{index - 1}"

    def tokens(self, caller_id: str) -> str:
        return f"{self._base}:tokens:{caller_id}"

    def in_flight(self, caller_id: str) -> str:
        return f"{self._base}:inflight:{caller_id}"


class AdmissionScript:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._script = LuaScript(script_text("admission.lua"))
        self.keys = LimitKeys(prefix)

    async def run(self, request: AdmissionRequest) -> AdmissionOutcome:
        tier, now = request.tier, request.now_ms
        requests_keys = self.keys.window(f"req:{request.caller_id}", tier.requests, now)
        global_keys = self.keys.window("global", request.global_limit, now)
        keys = [
            request.cache_key or self.keys.stats,  # a placeholder when the cache is not read
            self.keys.stats,
            *requests_keys,
            *global_keys,
            self.keys.tokens(request.caller_id),
            self.keys.in_flight(request.caller_id),
        ]
        tracks_job = tier.tokens is not None or tier.in_flight is not None
        args = [
            now,
            int(request.cache_key is not None),
            tier.name,
            *_rate_args(tier.requests),
            *_rate_args(request.global_limit),
            *_rate_args(tier.tokens),
            tier.tokens.limit if tier.tokens else 0,  # refilled in one go per window (TokenBucket semantics)
            request.cost,
            tier.in_flight or 0,
            request.in_flight_ttl_ms,
            int(tracks_job),
            request.job_id,
        ]
        for field, count in request.local_counts.items():
            args += [field, count]
        reply = await self._script.run(self._redis, keys, [str(arg) for arg in args])
        return _outcome(reply, request)


def _rate_args(rate: Rate | None) -> tuple[int, int]:
    return (rate.limit, rate.window_ms) if rate else (0, 1)


def _outcome(reply: object, request: AdmissionRequest) -> AdmissionOutcome:
    if not isinstance(reply, list) or len(reply) < 14:
        raise ValueError(f"unexpected admission script reply: {reply!r}")
    mask, hit = int(reply[0]), bool(reply[1])
    tier = request.tier
    configured: dict[LimitName, tuple[int, int | None]] = {}
    if tier.requests:
        configured["requests"] = (tier.requests.limit, tier.requests.window_ms)
    if not hit and request.global_limit:
        configured["global"] = (request.global_limit.limit, request.global_limit.window_ms)
    if not hit and tier.tokens:
        configured["tokens"] = (tier.tokens.limit, tier.tokens.window_ms)
    if not hit and tier.in_flight:
        configured["in_flight"] = (tier.in_flight, None)
    states = []
    for bit, name in enumerate(LIMIT_NAMES):
        if name not in configured:
            continue
        remaining, reset, retry = (int(value) for value in reply[2 + 3 * bit : 5 + 3 * bit])
        if name == "in_flight":
            retry = min(retry, request.now_ms + IN_FLIGHT_RETRY_HINT_MS)
        limit, window = configured[name]
        refused = bool(mask & (1 << bit))
        states.append(LimitState(name, limit, window, remaining, reset, retry if refused else None))
    cached = reply[14] if len(reply) > 14 and isinstance(reply[14], str) else None
    return AdmissionOutcome(states=states, hit=hit, cached=cached)
