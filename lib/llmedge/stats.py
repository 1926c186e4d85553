"""Gateway statistics: what was served from the cache, what the model was paid for, what was refused.

Recording is off the critical path. `StatsRecorder.record()` adds increments to an in-memory counter and
returns at once; one background task sends whatever has accumulated as a single pipeline of HINCRBYs to
one Redis hash, so under load many requests share one round trip and one HINCRBY per distinct field.
A failure to record is logged and dropped, never raised into a request.

On Lambda (Mangum reuses one event loop per warm instance) a send still pending when the response goes
out continues on the next invocation; an instance that is reclaimed first loses those increments. Stats
are an estimate of that kind; the limits' own counters (`llmedge.limits.stats`) are exact.

Hash `<prefix>:stats` fields:
    count:<outcome>:<model>       requests / jobs by outcome
    tokens_in:<outcome>:<model>   prompt tokens: saved (hits, from the cached answer's usage) or billed (done)
    tokens_out:<outcome>:<model>  completion tokens, likewise
    latency:<outcome>:<bucket>    histogram with fixed bucket bounds (ms), so percentiles come from counts
    refused:<limit>:<tier>        refusals as the gateway saw them
    since                         unix seconds of the first increment

`<model>` is the price-table entry the model maps to, or `other`: callers choose model names, so only
priced models get fields of their own (the hash cannot grow without bound). `llmedge.stats_report`
turns the hash into the report.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Literal

from msgspec import Struct
from upstash_redis.asyncio import Redis

log = logging.getLogger("llmedge.stats")

Outcome = Literal["exact_hit", "semantic_hit", "miss", "joined", "bypass", "refused", "done", "failed"]
PriceKind = Literal["input", "output"]
Prices = Mapping[str, Mapping[PriceKind, float]]
OTHER_MODEL = "other"

# OpenAI list prices in USD per million tokens (platform.openai.com/docs/pricing, 2025). LLMEDGE_PRICES
# entries replace these per model; add yours (0 is a valid price) to see a model separately.
DEFAULT_PRICES: dict[str, dict[PriceKind, float]] = {
    "gpt-4o": {"input": 2.5, "output": 10.0},
    "gpt-4o-mini": {"input": 0.15, "output": 0.6},
    "gpt-4.1": {"input": 2.0, "output": 8.0},
    "gpt-4.1-mini": {"input": 0.4, "output": 1.6},
    "gpt-4.1-nano": {"input": 0.1, "output": 0.4},
    "o3-mini": {"input": 1.1, "output": 4.4},
    "o4-mini": {"input": 1.1, "output": 4.4},
    "gpt-image-1": {"input": 5.0, "output": 40.0},
}
# Upper bounds (ms) of the latency buckets; a slower value counts in the last one.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 900_000,
)  # fmt: skip
_DATED_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")  # gpt-4o-mini-2024-07-18


def stats_key(prefix: str = "llmedge") -> str:
    return f"{prefix}:stats"


def effective_prices(configured: Prices) -> dict[str, dict[PriceKind, float]]:
    """The default table with the configured entries replacing theirs."""
    return {**DEFAULT_PRICES, **{model: dict(price) for model, price in configured.items()}}


def price_label(model: str, prices: Prices) -> str:
    """The price-table entry `model` is billed as (a dated snapshot as its base model), else `other`."""
    if model in prices:
        return model
    dated = _DATED_SNAPSHOT.match(model)
    if dated and dated["base"] in prices:
        return dated["base"]
    return OTHER_MODEL


class Usage(Struct, frozen=True):
    input_tokens: int = 0
    output_tokens: int = 0

    @classmethod
    def of(cls, result: Mapping[str, Any] | None) -> Usage:
        """The `usage` of a model API answer: chat (prompt/completion) or images (input/output) naming."""
        usage = result.get("usage") if result else None
        if not isinstance(usage, Mapping):
            return cls()
        given = usage.get("prompt_tokens", usage.get("input_tokens"))
        produced = usage.get("completion_tokens", usage.get("output_tokens"))
        return cls(_count(given), _count(produced))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def latency_bucket(latency_ms: float) -> float:
    index = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
    return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]


def bucket_field(bound: float) -> str:
    return f"{bound:g}"


class StatsRecorder:
    """Counts gateway events into Redis without ever delaying or failing the request that reports them."""

    def __init__(
        self,
        redis: Redis,
        prices: Prices,
        *,
        prefix: str = "llmedge",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prices = prices
        self._key = stats_key(prefix)
        self._clock = clock
        self._pending: Counter[str] = Counter()
        self._sender: asyncio.Task[None] | None = None

    def record(
        self,
        outcome: Outcome,
        *,
        model: str | None = None,
        result: Mapping[str, Any] | None = None,
        latency_ms: float | None = None,
        limit: str | None = None,
        tier: str | None = None,
    ) -> None:
        """Count one event. `result` is the model API answer whose `usage` was saved (hits) or billed (done)."""
        try:
            self._count(outcome, model, result, latency_ms, limit, tier)
            if self._sender is None or self._sender.done():
                self._sender = asyncio.get_running_loop().create_task(self._send())
        except Exception:  # a stats bug must never become a failed request
            log.exception("stats: could not record an event", extra={"outcome": outcome})

    async def flush(self) -> None:
        """Wait until everything recorded so far has been sent (or failed to be)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    def _count(
        self,
        outcome: Outcome,
        model: str | None,
        result: Mapping[str, Any] | None,
        latency_ms: float | None,
        limit: str | None,
        tier: str | None,
    ) -> None:
        label = price_label(model, self._prices) if model else OTHER_MODEL
        pending = self._pending
        pending[f"count:{outcome}:{label}"] += 1
        if result is not None:
            usage = Usage.of(result)
            pending[f"tokens_in:{outcome}:{label}"] += usage.input_tokens
            pending[f"tokens_out:{outcome}:{label}"] += usage.output_tokens
        if latency_ms is not None:
            pending[f"latency:{outcome}:{bucket_field(latency_bucket(latency_ms))}"] += 1
        if outcome == "refused":
            pending[f"refused:{limit or 'unknown'}:{tier or 'unknown'}"] += 1

    async def _send(self) -> None:
        # Loop: increments recorded while a pipeline is in flight go out in the next one.
        while self._pending:
            batch, self._pending = self._pending, Counter()
            pipeline = self._redis.pipeline()
            pipeline.hsetnx(self._key, "since", int(self._clock()))
            for name, amount in batch.items():
                if amount:
                    pipeline.hincrby(self._key, name, amount)
            try:
                await pipeline.exec()
            except Exception as error:  # Redis down or slow: these increments are lost, the gateway is not
                log.warning("stats: could not send %d counters: %s", len(batch), error)


def dollars(usage: Usage, price: Mapping[PriceKind, float]) -> Decimal:
    """Exact cost in USD of `usage` at `price` (USD per million tokens); floats enter as their decimal text."""
    per_million = Decimal(usage.input_tokens) * Decimal(str(price.get("input", 0))) + Decimal(
        usage.output_tokens
    ) * Decimal(str(price.get("output", 0)))
    return per_million / Decimal(1_000_000)


def percentile(histogram: Mapping[float, int], quantile: float) -> float | None:
    """The upper bound of the bucket holding the `quantile` of the counts (the true value is at most that)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    needed = quantile * total
    seen = 0
    for bound in sorted(histogram):
        seen += histogram[bound]
        if seen >= needed:
            return bound
    return max(histogram)
