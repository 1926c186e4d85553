"""The stats report that `GET /api/stats` returns and `llmedge stats` prints, computed from counters.

`summarize()` is pure: the stats hash written by `llmedge.stats.StatsRecorder`, the limits' counters and
the price table in, the report out. Money is computed in `Decimal` from the token counts, so dollars saved
are exactly tokens × the table's price, whatever the number of requests.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from upstash_redis.asyncio import Redis

from llmedge.limits.stats import read_stats
from llmedge.stats import Outcome, PriceKind, Prices, Usage, dollars, percentile, stats_key

LOOKUPS: tuple[Outcome, ...] = ("exact_hit", "semantic_hit", "miss", "joined")
REQUEST_OUTCOMES: tuple[Outcome, ...] = (*LOOKUPS, "bypass", "refused")
JOB_OUTCOMES: tuple[Outcome, ...] = ("done", "failed")
SAVED: tuple[Outcome, ...] = ("exact_hit", "semantic_hit")
# A bypass answered by calling the model directly (the store was down) is billed like a done job.
BILLED: tuple[Outcome, ...] = ("done", "bypass")
QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


async def snapshot(redis: Redis, prices: Prices, *, prefix: str = "llmedge") -> dict[str, Any]:
    """Read the stats hash and the limits' counters (concurrently) and compute the report."""
    raw, limits = await asyncio.gather(redis.hgetall(stats_key(prefix)), read_stats(redis, prefix))
    return summarize(raw, limits, prices)


@dataclass
class _Tally:
    counts: dict[str, Counter[str]]  # outcome -> model -> n
    tokens: dict[tuple[str, str], Usage]  # (outcome, model) -> usage
    latency: dict[str, dict[float, int]]  # outcome -> bucket bound -> n
    refused: Counter[tuple[str, str]]  # (limit, tier) -> n
    since: int | None

    @classmethod
    def parse(cls, raw: Mapping[str, str]) -> _Tally:
        tally = cls({}, {}, {}, Counter(), None)
        for name, value in raw.items():
            kind, _, rest = name.partition(":")
            if kind == "since":
                tally.since = int(value)
                continue
            first, _, second = rest.partition(":")  # a model label may itself contain ':'
            amount = int(value)
            if kind == "count":
                tally.counts.setdefault(first, Counter())[second] += amount
            elif kind in ("tokens_in", "tokens_out"):
                usage = tally.tokens.get((first, second), Usage())
                tally.tokens[(first, second)] = (
                    Usage(usage.input_tokens + amount, usage.output_tokens)
                    if kind == "tokens_in"
                    else Usage(usage.input_tokens, usage.output_tokens + amount)
                )
            elif kind == "latency":
                tally.latency.setdefault(first, {})[float(second)] = amount
            elif kind == "refused":
                tally.refused[(first, second)] += amount
        return tally

    def count(self, outcome: str, model: str | None = None) -> int:
        counts = self.counts.get(outcome, Counter())
        return counts[model] if model is not None else sum(counts.values())

    def usage(self, outcomes: tuple[Outcome, ...], model: str | None = None) -> Usage:
        picked = [u for (o, m), u in self.tokens.items() if o in outcomes and model in (None, m)]
        return Usage(sum(u.input_tokens for u in picked), sum(u.output_tokens for u in picked))

    def models(self) -> list[str]:
        return sorted({model for counts in self.counts.values() for model in counts})


def summarize(
    raw: Mapping[str, str], limits: Mapping[str, Mapping[str, Mapping[str, int]]], prices: Prices
) -> dict[str, Any]:
    """The report, from the stats hash fields and `llmedge.limits.read_stats()` output. Pure."""
    tally = _Tally.parse(raw)
    priced = [model for model in tally.models() if model in prices]
    return {
        "since": tally.since,
        **_section(tally, None, None),
        "dollars": {
            "saved": float(sum((dollars(tally.usage(SAVED, m), prices[m]) for m in priced), Decimal(0))),
            "billed": float(sum((dollars(tally.usage(BILLED, m), prices[m]) for m in priced), Decimal(0))),
        },
        "models": {model: _section(tally, model, prices.get(model)) for model in tally.models()},
        "refused": _refused(tally, limits),
        "latency_ms": {
            outcome: {
                "count": sum(histogram.values()),
                **{name: percentile(histogram, q) for name, q in QUANTILES.items()},
            }
            for outcome, histogram in sorted(tally.latency.items())
        },
    }


def _section(tally: _Tally, model: str | None, price: Mapping[PriceKind, float] | None) -> dict[str, Any]:
    requests = {outcome: tally.count(outcome, model) for outcome in REQUEST_OUTCOMES}
    lookups = sum(requests[outcome] for outcome in LOOKUPS)
    saved, billed = tally.usage(SAVED, model), tally.usage(BILLED, model)
    section: dict[str, Any] = {
        "requests": {**requests, "total": sum(requests.values())},
        "jobs": {outcome: tally.count(outcome, model) for outcome in JOB_OUTCOMES},
        "hit_rate": {
            "exact": _ratio(requests["exact_hit"], lookups),
            "semantic": _ratio(requests["semantic_hit"], lookups),
            "total": _ratio(requests["exact_hit"] + requests["semantic_hit"], lookups),
        },
        "tokens": {"saved": _tokens(saved), "billed": _tokens(billed)},
    }
    if model is not None:
        section["price"] = dict(price) if price is not None else None
        if price is not None:
            section["dollars"] = {
                "saved": float(dollars(saved, price)),
                "billed": float(dollars(billed, price)),
            }
    return section


def _refused(tally: _Tally, limits: Mapping[str, Mapping[str, Mapping[str, int]]]) -> dict[str, Any]:
    """Per limit and tier. The limits' own counters are exact (written by the admission script), so they
    win when present; the gateway's events are the fallback."""
    denied = limits.get("denied") or {}
    if denied:
        by_limit: Counter[str] = Counter()
        for per_limit in denied.values():
            by_limit.update({name: n for name, n in per_limit.items() if name != "all"})
        by_tier = {tier: per_limit.get("all", 0) for tier, per_limit in denied.items()}
        source = "limits"
    else:
        by_limit, tiers = Counter[str](), Counter[str]()
        for (limit, tier), n in tally.refused.items():
            by_limit[limit] += n
            tiers[tier] += n
        by_tier, source = dict(tiers), "gateway"
    return {
        "total": sum(by_tier.values()),
        "by_limit": dict(sorted(by_limit.items())),
        "by_tier": dict(sorted(by_tier.items())),
        "source": source,
    }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _tokens(usage: Usage) -> dict[str, int]:
    return {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "total": usage.input_tokens + usage.output_tokens,
    }
