"""Semantic index benchmark: lookup latency, round trips, bytes and recall at 10k and 100k entries.

    python -m llmedge.bench.semantic [SIZE ...]        # default 10000 100000; or run(entries=..., queries=...)

Against the Upstash named by UPSTASH_REDIS_REST_URL/TOKEN, or a private local stack (redis-server +
the REST bridge over loopback HTTP). One scope is filled with N entries through the real store script
(pipelined, 1000 per request) and searched through the real lookup script with the official async SDK.

The vectors are random unit vectors of the production width (64), not text embeddings: the index only
sees geometry, and random vectors are its hard case (no clusters; buckets fill evenly). Each query is a
stored vector moved to a chosen cosine (0.95, 0.9, 0.8, 0.7) from its source, standing in for a
paraphrase; recall@1 is whether the lookup's best entry is the exact brute-force best over all N (float
vectors, numpy). The same queries also run through an exact scan of the whole scope (the small-scope
path) at 10k, side by side, to show what the buckets save.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from upstash_redis.asyncio import Redis

DIMENSIONS = 64
BANDS = (0.95, 0.9, 0.8, 0.7)
EXACT_SCAN_UP_TO = 10_000  # the whole-scope scan is linear; past this it only burns minutes


@dataclass
class Traffic:
    """HTTP requests and bytes between the SDK and the REST endpoint."""

    requests: int = 0
    sent: int = 0
    received: int = 0
    samples: list[tuple[int, int, int]] = field(default_factory=list)

    def mark(self) -> tuple[int, int, int]:
        return self.requests, self.sent, self.received


def run(entries: tuple[int, ...] = (10_000, 100_000), queries: int = 200) -> None:
    """Print p50/p99, round trips, bytes per lookup, recall@1 per band and memory per entry, per size."""
    from llmedge.semantic.local_stack import upstash_endpoint

    with upstash_endpoint(bridge_in_child=True) as endpoint:
        print(
            f"semantic index benchmark: {'local stack' if endpoint.local else endpoint.url}, {DIMENSIONS} dims"
        )
        for size in entries:
            asyncio.run(_one_size(endpoint.url, endpoint.token, size, queries))


async def _one_size(url: str, token: str, size: int, queries: int) -> None:
    import numpy as np
    from upstash_redis.asyncio import Redis

    from llmedge.semantic.index import SemanticIndex

    rng = np.random.RandomState(size)
    vectors = _unit(rng.standard_normal((size, DIMENSIONS)).astype(np.float32))
    async with Redis(url, token, rest_retries=0, read_your_writes=False) as redis:
        traffic = _count_traffic(redis)
        index = SemanticIndex(redis, embedder_name="bench-random", dimensions=DIMENSIONS)
        scope = f"bench-{size}-{int(time.time())}"
        memory_before = await _used_memory(redis)
        started = time.perf_counter()
        texts = [f"synthetic prompt {i}" for i in range(size)]
        await index.add_many(
            scope, vectors, texts, texts, ttl_ms=3_600_000, namespace=scope, model="bench", created_ms=0
        )
        fill_seconds = time.perf_counter() - started
        memory_after = await _used_memory(redis)
        await _settle(redis)
        print(f"\n{size:,} entries: filled in {fill_seconds:.1f} s ({size / fill_seconds:,.0f} entries/s)")
        if memory_before is not None and memory_after is not None:
            print(
                f"  memory per entry (INFO used_memory delta / N): {(memory_after - memory_before) / size:,.0f} B"
            )

        planted = _planted_queries(rng, vectors, queries)
        await _measure(index, scope, vectors, planted, traffic, "LSH buckets")
        if size <= EXACT_SCAN_UP_TO:
            index.scan_limit = (
                size  # the same scope, read whole: what every lookup would cost without buckets
            )
            await _measure(index, scope, vectors, planted, traffic, "exact scan")
        await index.purge(namespace=scope)


def _unit(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np

    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _planted_queries(
    rng: Any, vectors: npt.NDArray[np.float32], count: int
) -> list[tuple[float, npt.NDArray[np.float32]]]:
    """`count` queries, spread over the cosine bands, each near a random stored vector."""
    import numpy as np

    planted = []
    for number in range(count):
        cosine = BANDS[number % len(BANDS)]
        source = vectors[rng.randint(len(vectors))]
        noise = rng.standard_normal(DIMENSIONS).astype(np.float32)
        noise -= (noise @ source) * source
        noise /= np.linalg.norm(noise)
        planted.append((cosine, (cosine * source + np.sqrt(1 - cosine**2) * noise).astype(np.float32)))
    return planted


async def _measure(
    index: Any,
    scope: str,
    vectors: npt.NDArray[np.float32],
    planted: list[tuple[float, npt.NDArray[np.float32]]],
    traffic: Traffic,
    label: str,
) -> None:
    import numpy as np

    latencies, floors, trips, sent, received, scored = [], [], [], [], [], []
    found: dict[float, list[bool]] = {band: [] for band in BANDS}
    await index.search(scope, planted[0][1], threshold=0.5)  # load the script once, outside the timings
    for cosine, query in planted:
        # The floor: one bare GET through the same client, interleaved, so machine noise hits both alike.
        started = time.perf_counter()
        await index.redis.get(f"{scope}:floor")
        floors.append((time.perf_counter() - started) * 1000)
        requests, out, back = traffic.mark()
        started = time.perf_counter()
        result = await index.search(scope, query, threshold=0.5, top_k=1)
        latencies.append((time.perf_counter() - started) * 1000)
        trips.append(traffic.requests - requests)
        sent.append(traffic.sent - out)
        received.append(traffic.received - back)
        scored.append(result.scored)
        truth = int(np.argmax(vectors @ query))
        best = result.candidates[0].text if result.candidates else None
        found[cosine].append(best == f"synthetic prompt {truth}")
    latencies.sort()
    floor = statistics.median(floors)
    recall = "  ".join(f"cos {band}: {sum(hits) / len(hits):.3f}" for band, hits in found.items())
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]
    print(
        f"  {label:<11} lookup p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   bare GET p50 {floor:.2f} ms ({p50 / floor:.1f}x)"
    )
    print(
        f"  {'':<11} round trips {statistics.mean(trips):.2f}  bytes {statistics.mean(sent):,.0f} sent"
        f" + {statistics.mean(received):,.0f} received  candidates scored {statistics.median(scored):,.0f}"
    )
    print(f"  {'':<11} recall@1 vs brute force  {recall}")


def _count_traffic(redis: Redis) -> Traffic:
    """Count requests and body bytes with httpx event hooks on the SDK's own client.

    The SDK builds its httpx.AsyncClient privately (`upstash_redis/http.py`, `AsyncHttpClient._client`),
    so this reaches into it; benchmark-only.
    """
    import httpx

    traffic = Traffic()

    async def on_request(request: httpx.Request) -> None:
        traffic.requests += 1
        traffic.sent += len(request.content)

    async def on_response(response: httpx.Response) -> None:
        await response.aread()
        traffic.received += len(response.content)

    redis._http._client.event_hooks = {"request": [on_request], "response": [on_response]}
    return traffic


async def _info(redis: Redis, section: str) -> dict[str, str]:
    try:
        text = str(await redis.execute(["INFO", section]))
    except Exception:  # some hosted plans refuse INFO; the figures that need it are left out
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


async def _used_memory(redis: Redis) -> int | None:
    value = (await _info(redis, "memory")).get("used_memory")
    return int(value) if value else None


async def _settle(redis: Redis, patience: float = 120.0) -> None:
    """Wait (bounded) for the append-only-file rewrite a big fill triggers: a forked child writing
    hundreds of MB competes for the same two cores as the lookups being timed."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        persistence = await _info(redis, "persistence")
        if (
            persistence.get("aof_rewrite_in_progress", "0") == "0"
            and persistence.get("rdb_bgsave_in_progress", "0") == "0"
        ):
            return
        await asyncio.sleep(0.2)


if __name__ == "__main__":
    import sys

    run(tuple(int(size) for size in sys.argv[1:]) or (10_000, 100_000))
