"""Semantic index benchmark: lookup latency, round trips, bytes and recall at 10k and 100k entries.

    llmedge bench semantic [--data semantic_dev.jsonl]
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

Random vectors flatter an index in one way: real sentence embeddings are clustered and share a common
direction, so buckets fill unevenly and a paraphrase can sit further from its source than any band above.
With `data` (a development set, format in `llmedge eval semantic`), the same sizes are also filled with
real text: the set's seeds among sentences from the comments and docstrings of this Python's own
sources, embedded with WordLlama (the default embedder); the set's paraphrases are the queries. Recall@1
is counted over the queries whose brute-force best reaches the threshold, by the cosine of that best;
"would-be hits found" counts the queries whose brute-force best is their seed *and* passes the near-miss
guards (a hit exact search would serve) and whose seed the lookup returns among its candidates. Past
`scan_limit` the real-text scope is searched twice, side by side: with the default search budget and
with a wide one (3000 ids scored of up to 15000 read), to show what recall more reading buys and at
what latency.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmedge.semantic.index import SearchBudget, SemanticIndex

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from upstash_redis.asyncio import Redis

    from llmedge.semantic.evaluation import Group

DIMENSIONS = 64
BANDS = (0.95, 0.9, 0.8, 0.7)
THRESHOLD = 0.5  # WordLlama's calibrated threshold; random-vector queries all sit above it
TEXT_BANDS = ((0.8, "cos >= 0.8"), (0.7, "0.7-0.8"), (THRESHOLD, "0.5-0.7"))
EXACT_SCAN_UP_TO = 10_000  # the whole-scope scan is linear; past this it only burns minutes
WIDE_BUDGET = SearchBudget(candidates=3000, gathered=15_000)  # LLMEDGE_SEMANTIC_CANDIDATES / _GATHERED


@dataclass(frozen=True)
class Probe:
    """One query: its vector, the band it is reported in, and what exact search says it should find."""

    band: str
    vector: npt.NDArray[np.float32]
    truth: str  # the stored text of the brute-force best
    hit: str | None = None  # the stored text exact search would serve as a hit, if any


@dataclass
class Traffic:
    """HTTP requests and bytes between the SDK and the REST endpoint."""

    requests: int = 0
    sent: int = 0
    received: int = 0

    def mark(self) -> tuple[int, int, int]:
        return self.requests, self.sent, self.received


def run(entries: tuple[int, ...] = (10_000, 100_000), queries: int = 200, data: Path | None = None) -> None:
    """Print p50/p99, round trips, bytes per lookup, recall@1 per band and memory per entry, per size;
    with `data`, the same for real text (see the module's docstring)."""
    from llmedge.semantic.evaluation import load_groups
    from llmedge.semantic.local_stack import upstash_endpoint

    groups = load_groups(data) if data else []
    with upstash_endpoint(bridge_in_child=True) as endpoint:
        print(
            f"semantic index benchmark: {'local stack' if endpoint.local else endpoint.url}, {DIMENSIONS} dims"
        )
        for size in entries:
            asyncio.run(_one_size(endpoint.url, endpoint.token, size, queries))
        if groups:
            print(
                f"\nreal text: {len(groups)} seeds of {data} among sentences of Python's sources (WordLlama)"
            )
            for size in entries:
                asyncio.run(_one_text_size(endpoint.url, endpoint.token, size, groups))


async def _one_size(url: str, token: str, size: int, queries: int) -> None:
    import numpy as np
    from upstash_redis.asyncio import Redis

    rng = np.random.RandomState(size)
    vectors = _unit(rng.standard_normal((size, DIMENSIONS)).astype(np.float32))
    texts = [f"synthetic prompt {i}" for i in range(size)]
    async with Redis(url, token, rest_retries=0, read_your_writes=False) as redis:
        traffic = _count_traffic(redis)
        index = SemanticIndex(redis, embedder_name="bench-random", dimensions=DIMENSIONS)
        scope = await _fill(index, f"bench-{size}-{int(time.time())}", vectors, texts)
        probes = _planted_probes(rng, vectors, texts, queries)
        await _measure(index, scope, probes, traffic, _path(index, size), [f"cos {band}" for band in BANDS])
        if size <= EXACT_SCAN_UP_TO:
            index.scan_limit = (
                size  # the same scope, read whole: what every lookup would cost without buckets
            )
            await _measure(index, scope, probes, traffic, "exact scan", [f"cos {band}" for band in BANDS])
        await index.purge(namespace=scope)


async def _one_text_size(url: str, token: str, size: int, groups: list[Group]) -> None:
    import numpy as np
    from upstash_redis.asyncio import Redis

    from llmedge.semantic.cache import SemanticCache

    async with Redis(url, token, rest_retries=0, read_your_writes=False) as redis:
        traffic = _count_traffic(redis)
        cache = SemanticCache.local(redis, threshold=THRESHOLD)  # the production wiring: index, guard
        seeds = [group.seed for group in groups]
        texts = seeds + _python_sentences(size - len(seeds))
        vectors = np.asarray(await cache.embedder.embed(texts), dtype=np.float32)
        queries = [(group.seed, paraphrase) for group in groups for paraphrase in group.paraphrases]
        query_vectors = np.asarray(
            await cache.embedder.embed([query for _, query in queries]), dtype=np.float32
        )
        probes = []
        for (seed, query), vector in zip(queries, query_vectors, strict=True):
            scores = vectors @ vector
            best = int(np.argmax(scores))
            if scores[best] < THRESHOLD:
                continue  # exact search finds nothing either
            band = next(label for floor, label in TEXT_BANDS if scores[best] >= floor)
            hit = seed if texts[best] == seed and cache.guard.veto(seed, query) is None else None
            probes.append(Probe(band, vector, texts[best], hit))
        if not probes:
            print(f"\n{size:,} entries: no paraphrase reaches the threshold {THRESHOLD} even by exact search")
            return
        scope = await _fill(cache.index, f"bench-text-{size}-{int(time.time())}", vectors, texts)
        bands = [label for _, label in TEXT_BANDS]
        await _measure(cache.index, scope, probes, traffic, _path(cache.index, len(texts)), bands)
        if len(texts) > cache.index.scan_limit:
            cache.index.budget = WIDE_BUDGET  # the same scope and queries: what more reading buys
            label = f"{WIDE_BUDGET.candidates}/{WIDE_BUDGET.gathered // 1000}k"
            await _measure(cache.index, scope, probes, traffic, label, bands)
        await cache.index.purge(namespace=scope)


def _path(index: SemanticIndex, size: int) -> str:
    """How the index reads a scope of `size` entries."""
    return "LSH buckets" if size > index.scan_limit else "exact scan"


def _python_sentences(count: int) -> list[str]:
    """Up to `count` distinct English sentences from the comments and docstrings of this Python's
    standard library and installed packages, in a fixed pseudo-random order: real text, offline."""
    import numpy as np

    sentence = re.compile(r"[A-Za-z][A-Za-z0-9 ,.'()?!:;-]{29,199}")
    found: set[str] = set()
    paths = sysconfig.get_paths()
    for root in dict.fromkeys((paths["stdlib"], paths["purelib"])):
        for source in sorted(Path(root).rglob("*.py")):
            try:
                lines = source.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:
                for part in re.split(r"(?<=[.?!])\s+", line.strip().lstrip("#").strip()):
                    if part.count(" ") >= 4 and sentence.fullmatch(part):
                        found.add(part)
    ordered = sorted(found)
    np.random.RandomState(0).shuffle(ordered)
    return ordered[:count]


async def _fill(index: SemanticIndex, scope: str, vectors: npt.NDArray[np.float32], texts: list[str]) -> str:
    """Store every vector under `scope` through the real store script; print time and memory per entry."""
    size = len(texts)
    memory_before = await _used_memory(index.redis)
    started = time.perf_counter()
    await index.add_many(
        scope, vectors, texts, texts, ttl_ms=3_600_000, namespace=scope, model="bench", created_ms=0
    )
    fill_seconds = time.perf_counter() - started
    memory_after = await _used_memory(index.redis)
    await _settle(index.redis)
    print(f"\n{size:,} entries: filled in {fill_seconds:.1f} s ({size / fill_seconds:,.0f} entries/s)")
    if memory_before is not None and memory_after is not None:
        print(
            f"  memory per entry (INFO used_memory delta / N): {(memory_after - memory_before) / size:,.0f} B"
        )
    return scope


def _unit(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np

    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def _planted_probes(rng: Any, vectors: npt.NDArray[np.float32], texts: list[str], count: int) -> list[Probe]:
    """`count` queries, spread over the cosine bands, each near a random stored vector."""
    import numpy as np

    probes = []
    for number in range(count):
        cosine = BANDS[number % len(BANDS)]
        source = vectors[rng.randint(len(vectors))]
        noise = rng.standard_normal(DIMENSIONS).astype(np.float32)
        noise -= (noise @ source) * source
        noise /= np.linalg.norm(noise)
        query = (cosine * source + np.sqrt(1 - cosine**2) * noise).astype(np.float32)
        probes.append(Probe(f"cos {cosine}", query, texts[int(np.argmax(vectors @ query))]))
    return probes


async def _measure(
    index: SemanticIndex, scope: str, probes: list[Probe], traffic: Traffic, label: str, bands: list[str]
) -> None:
    latencies, floors, trips, sent, received, scored = [], [], [], [], [], []
    found: dict[str, list[bool]] = {band: [] for band in bands}
    would_be_hits: list[bool] = []
    await index.search(scope, probes[0].vector, threshold=THRESHOLD)  # load the script outside the timings
    for probe in probes:
        # The floor: one bare GET through the same client, interleaved, so machine noise hits both alike.
        started = time.perf_counter()
        await index.redis.get(f"{scope}:floor")
        floors.append((time.perf_counter() - started) * 1000)
        requests, out, back = traffic.mark()
        started = time.perf_counter()
        result = await index.search(scope, probe.vector, threshold=THRESHOLD)  # top 3, as the cache asks
        latencies.append((time.perf_counter() - started) * 1000)
        trips.append(traffic.requests - requests)
        sent.append(traffic.sent - out)
        received.append(traffic.received - back)
        scored.append(result.scored)
        returned = [candidate.text for candidate in result.candidates]
        found[probe.band].append(returned[:1] == [probe.truth])
        if probe.hit is not None:
            would_be_hits.append(probe.hit in returned)
    latencies.sort()
    floor = statistics.median(floors)
    recall = "  ".join(
        f"{band}: {sum(hits) / len(hits):.3f} of {len(hits)}" for band, hits in found.items() if hits
    )
    every = [hit for hits in found.values() for hit in hits]
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]
    print(
        f"  {label:<11} lookup p50 {p50:6.2f} ms  p99 {p99:6.2f} ms   bare GET p50 {floor:.2f} ms ({p50 / floor:.1f}x)"
    )
    print(
        f"  {'':<11} round trips {statistics.mean(trips):.2f}  bytes {statistics.mean(sent):,.0f} sent"
        f" + {statistics.mean(received):,.0f} received  candidates scored {statistics.median(scored):,.0f}"
    )
    print(f"  {'':<11} recall@1 vs brute force  {sum(every) / len(every):.3f}   {recall}")
    if would_be_hits:
        print(f"  {'':<11} would-be hits found  {sum(would_be_hits)} of {len(would_be_hits)}")


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
