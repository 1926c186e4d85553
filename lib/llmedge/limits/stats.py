"""Admitted and denied counters per limit and tier, kept in one Redis hash by the scripts.

Fields: `admitted:<limit>:<tier>`, `denied:<limit>:<tier>` (limit one of requests, global, tokens,
in_flight, or `all` for whole requests), `tokens_used:<tier>` and `settled:<tier>` from settle.
A refusal by the local block cache reaches the hash with the instance's next admission round trip.
"""

from __future__ import annotations

from upstash_redis.asyncio import Redis


def stats_key(prefix: str) -> str:
    return f"{prefix}:limits:stats"


async def read_stats(redis: Redis, prefix: str = "llmedge") -> dict[str, dict[str, dict[str, int]]]:
    """{"admitted": {tier: {limit: n}}, "denied": {…}, "tokens_used": {tier: {"all": n}}, "settled": {…}}."""
    raw = await redis.hgetall(stats_key(prefix))
    stats: dict[str, dict[str, dict[str, int]]] = {}
    for name, count in raw.items():
        kind, _, rest = name.partition(":")
        limit, _, tier = rest.rpartition(":")
        stats.setdefault(kind, {}).setdefault(tier, {})[limit or "all"] = int(count)
    return stats
