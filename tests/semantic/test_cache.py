"""`SemanticCache` against a real redis-server through the Upstash REST bridge and the official SDK."""

from __future__ import annotations

import json
import secrets

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upstash_redis.asyncio import Redis

from llmedge import semantic_path
from llmedge.requestkey import build_request_key
from llmedge.schemas import Generation
from llmedge.semantic.cache import SemanticCache
from llmedge.semantic.embedders import WordLlamaEmbedder
from llmedge.semantic.embedding_cache import CachedEmbedder
from llmedge.semantic.index import SearchBudget, SemanticIndex, split_entry_id
from llmedge.semantic.vectors import HyperplaneLSH, decode, encode
from tests.waiting import wait_for

SEED = "python check if key exists in dict"
PARAPHRASE = "pyton - check if a key exists in a dictionary"


async def test_store_then_lookup_hits_with_payload_similarity_and_age(redis: Redis, scope: str) -> None:
    clock = [1_000.0]
    cache = SemanticCache(redis, WordLlamaEmbedder(), clock=lambda: clock[0])
    entry_id = await cache.store(scope, SEED, '{"answer": 1}', ttl=60, namespace="n", model="m")
    clock[0] += 42
    hit = await cache.lookup(scope, PARAPHRASE)
    assert hit is not None
    assert (hit.payload, hit.entry_id, hit.age) == ('{"answer": 1}', entry_id, 42)
    assert cache.threshold <= hit.similarity <= 1.0


async def test_near_miss_in_the_same_scope_is_refused(cache: SemanticCache, scope: str) -> None:
    await cache.store(scope, SEED, "python answer", ttl=60, namespace="n", model="m")
    judged = await cache.judge(scope, "javascript check if key exists in object", floor=0.0)
    assert judged and judged[0].veto is not None
    assert await cache.lookup(scope, "javascript check if key exists in object") is None


async def test_no_hit_ever_crosses_scopes(cache: SemanticCache) -> None:
    tenant_a, tenant_b, tenant_c = (f"scope-{secrets.token_hex(4)}" for _ in range(3))
    await cache.store(tenant_a, SEED, "answer for a", ttl=60, namespace="n", model="m")
    await cache.store(tenant_b, SEED, "answer for b", ttl=60, namespace="n", model="m")
    hit_a, hit_b = await cache.lookup(tenant_a, SEED), await cache.lookup(tenant_b, SEED)
    assert hit_a is not None and hit_a.payload == "answer for a"
    assert hit_b is not None and hit_b.payload == "answer for b"
    assert await cache.lookup(tenant_c, SEED) is None  # identical text, other scope: nothing


async def test_request_threshold_only_tightens(redis: Redis, scope: str) -> None:
    cache = SemanticCache(redis, WordLlamaEmbedder(), threshold=0.5)
    await cache.store(scope, SEED, "answer", ttl=60, namespace="n", model="m")
    similarity = (await cache.judge(scope, PARAPHRASE, floor=0.0))[0].candidate.similarity
    assert 0.5 < similarity < 0.99
    assert cache.effective_threshold(0.1) == 0.5 and cache.effective_threshold(0.99) == 0.99
    assert await cache.lookup(scope, PARAPHRASE, threshold=0.1) is not None  # looser: server's bar holds
    assert await cache.lookup(scope, PARAPHRASE, threshold=0.99) is None  # tighter: refused
    with pytest.raises(ValueError, match="between 0 and 1"):
        await cache.lookup(scope, PARAPHRASE, threshold=1.5)


async def test_evict_removes_a_reported_false_hit(cache: SemanticCache, scope: str) -> None:
    entry_id = await cache.store(scope, SEED, "answer", ttl=60, namespace="n", model="m")
    assert await cache.evict(entry_id) is True
    assert await cache.lookup(scope, SEED) is None
    assert await cache.evict(entry_id) is False
    assert await cache.evict("not-an-entry-id") is False


async def test_purge_by_namespace_model_both_and_all(cache: SemanticCache) -> None:
    run = secrets.token_hex(4)
    entries = {
        (namespace, model): await cache.store(
            f"{run}-{namespace}-{model}",
            SEED,
            "answer",
            ttl=60,
            namespace=f"{run}-{namespace}",
            model=f"{run}-{model}",
        )
        for namespace in ("ns1", "ns2")
        for model in ("m1", "m2")
    }

    async def alive() -> set[tuple[str, str]]:
        return {key for key in entries if await cache.lookup(f"{run}-{key[0]}-{key[1]}", SEED)}

    assert await cache.purge(namespace=f"{run}-ns1", model=f"{run}-m1") == 1
    assert await alive() == {("ns1", "m2"), ("ns2", "m1"), ("ns2", "m2")}
    assert await cache.purge(namespace=f"{run}-ns2") == 2
    assert await alive() == {("ns1", "m2")}
    assert await cache.purge(model=f"{run}-m2") == 1
    assert await alive() == set()
    assert await cache.purge(namespace=f"{run}-ns1") == 0


async def test_expired_entries_miss_and_leave_the_index(redis: Redis, scope: str) -> None:
    cache = SemanticCache.local(redis)
    index = cache.index
    vector = (await cache.embedder.embed([SEED]))[0]
    await index.add(scope, vector, SEED, "answer", ttl_ms=50, namespace="n", model="m", created_ms=0)
    members = f"{index.base}s:{scope}:all"
    assert await redis.scard(members) == 1
    await wait_for(lambda: cache.lookup(scope, SEED), until=lambda hit: hit is None, timeout=5)
    assert await redis.scard(members) == 0  # the lookup that found it expired dropped it


async def test_second_candidate_is_served_when_the_best_is_vetoed(redis: Redis, scope: str) -> None:
    class RefuseExact:
        def veto(self, stored: str, query: str) -> str | None:
            return "refused" if stored == query else None

    cache = SemanticCache(redis, WordLlamaEmbedder(), guard=RefuseExact())  # type: ignore[arg-type]
    await cache.store(scope, SEED, "exact answer", ttl=60, namespace="n", model="m")
    await cache.store(scope, PARAPHRASE, "paraphrase answer", ttl=60, namespace="n", model="m")
    hit = await cache.lookup(scope, SEED)
    assert hit is not None and hit.payload == "paraphrase answer"


async def test_bad_arguments_are_value_errors(cache: SemanticCache, scope: str) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await cache.store(scope, SEED, "answer", ttl=0, namespace="n", model="m")
    with pytest.raises(ValueError, match="empty"):
        await cache.store("", SEED, "answer", ttl=60, namespace="n", model="m")
    assert await cache.lookup(scope, "   ") is None
    with pytest.raises(ValueError, match="not a semantic cache entry id"):
        split_entry_id("2305843009213693952:scope")


def test_quantised_vectors_keep_cosine() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        a, b = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        text, norm = encode(a)
        assert all(32 <= ord(char) <= 126 for char in text) and norm > 0
        assert abs(float(decode(text) @ decode(encode(b)[0])) - float(a @ b)) < 0.02


@st.composite
def small_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    count = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((count + 1, 64)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix[:count], matrix[count]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=small_sets())
async def test_lookup_best_match_agrees_with_brute_force(
    redis: Redis, data: tuple[np.ndarray, np.ndarray]
) -> None:
    stored, query = data
    index = SemanticIndex(redis, embedder_name="property", dimensions=64)
    scope = f"prop-{secrets.token_hex(6)}"
    ids = await index.add_many(
        scope,
        stored,
        [str(i) for i in range(len(stored))],
        ["p"] * len(stored),
        ttl_ms=60_000,
        namespace=scope,
        model="m",
        created_ms=0,
    )
    result = await index.search(scope, query, threshold=-1.0, top_k=1)
    quantised = np.stack([decode(encode(vector)[0]) for vector in stored])
    expected = quantised @ decode(encode(query)[0])
    assert result.scored == len(stored)
    best = result.candidates[0]
    # Ties aside, the script's best is brute force's best, and its score is the quantised cosine.
    assert expected[ids.index(best.entry_id)] >= expected.max() - 1e-4
    assert abs(best.similarity - expected.max()) < 1e-3
    await index.purge(namespace=scope)


def _unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    matrix = rng.standard_normal((count, 64)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


async def _filled(index: SemanticIndex, vectors: np.ndarray) -> tuple[str, list[str]]:
    scope = f"lsh-{secrets.token_hex(6)}"
    texts = [str(i) for i in range(len(vectors))]
    await index.add_many(
        scope, vectors, texts, texts, ttl_ms=60_000, namespace=scope, model="m", created_ms=0
    )
    return scope, texts


async def test_a_large_scope_is_read_through_its_buckets_within_the_budget(redis: Redis) -> None:
    rng = np.random.default_rng(11)
    vectors = _unit_rows(rng, 400)
    index = SemanticIndex(
        redis, embedder_name="buckets", dimensions=64, scan_limit=50, budget=SearchBudget(candidates=40)
    )
    scope, texts = await _filled(index, vectors)
    for source in rng.choice(len(vectors), size=15, replace=False):
        noise = _unit_rows(rng, 1)[0]
        query = vectors[source] * 0.97 + noise * 0.25  # cosine ~0.97 to its source, ~0 to the rest
        result = await index.search(scope, query, threshold=0.5, top_k=1)
        assert result.scored <= 40  # not the 400 an exact scan reads
        assert [candidate.text for candidate in result.candidates] == [texts[source]]
    await index.purge(namespace=scope)


def _coarse_index(redis: Redis, name: str, budget: SearchBudget, **options: int) -> SemanticIndex:
    """8 tables of 2 bits: every bucket holds about a quarter of the entries; always read by bucket."""
    lsh = HyperplaneLSH(64, tables=8, bits=2, seed=3)
    return SemanticIndex(
        redis, embedder_name=name, dimensions=64, lsh=lsh, scan_limit=10, budget=budget, **options
    )


async def test_past_the_budget_the_ids_sharing_most_buckets_are_scored(redis: Redis) -> None:
    # 8 tables of 2 bits: every bucket holds about a quarter of the entries, so the ids met first are
    # mostly far ones; only the query's own vector shares all 8 of its buckets.
    vectors = _unit_rows(np.random.default_rng(5), 120)
    index = _coarse_index(redis, "collisions", SearchBudget(candidates=1), max_flips=0)
    scope, texts = await _filled(index, vectors)
    for target in (7, 42, 99):
        result = await index.search(scope, vectors[target], threshold=-1.0, top_k=1)
        assert result.scored == 1
        assert result.candidates[0].text == texts[target] and result.candidates[0].similarity > 0.99
    await index.purge(namespace=scope)


async def test_reading_stops_at_the_gathering_budget(redis: Redis) -> None:
    # A budget of one member read: the first probed bucket (the query's own in table 0) is read whole,
    # and nothing after it.
    vectors = _unit_rows(np.random.default_rng(8), 120)
    index = _coarse_index(redis, "gathering", SearchBudget(candidates=1000, gathered=1))
    scope, _ = await _filled(index, vectors)
    home = index.lsh.buckets(vectors[0])[0]
    # Entries are hashed as stored (quantised).
    sharing = sum(index.lsh.buckets(decode(encode(vector)[0]))[0] == home for vector in vectors)
    result = await index.search(scope, vectors[0], threshold=-1.0, top_k=1)
    assert 1 < sharing < len(vectors)
    assert result.scored == sharing
    await index.purge(namespace=scope)


def test_a_search_budget_must_allow_some_work() -> None:
    with pytest.raises(ValueError, match="at least one"):
        SearchBudget(candidates=0)
    with pytest.raises(ValueError, match="at least one"):
        SearchBudget(gathered=0)


async def test_a_small_scope_is_scored_whole_whatever_the_budget(redis: Redis) -> None:
    vectors = _unit_rows(np.random.default_rng(2), 30)
    index = SemanticIndex(
        redis, embedder_name="small", dimensions=64, scan_limit=50, budget=SearchBudget(candidates=5)
    )
    scope, texts = await _filled(index, vectors)
    result = await index.search(scope, vectors[29], threshold=-1.0, top_k=1)
    assert result.scored == 30 and result.candidates[0].text == texts[29]
    await index.purge(namespace=scope)


async def test_the_callback_stores_with_the_vector_the_lookup_carried(redis: Redis, scope: str) -> None:
    # /api/generate embeds the text for its lookup and puts the vector in the job's plan; /api/callback,
    # another instance with its own cache object, stores the answer with it and never embeds.
    generate = Generation.parse({"model": "m", "prompt": SEED, "cache": {"namespace": scope}})
    key = build_request_key(generate, partition="tenant-x", key_version="1")
    submitting, calling_back = SemanticCache.local(redis), SemanticCache.local(redis)
    hit, carried = await semantic_path.lookup(submitting, generate, key)
    assert hit is None and carried is not None
    plan = semantic_path.semantic_plan(generate, key, carried)
    assert plan is not None
    await semantic_path.store(calling_back, json.loads(json.dumps(plan)), '{"answer": 1}', ttl=60)
    assert isinstance(calling_back.embedder, CachedEmbedder)
    assert calling_back.embedder.misses == 0  # the text was not embedded a second time
    assert key.scope is not None
    found = await submitting.lookup(key.scope, PARAPHRASE)
    assert found is not None and found.payload == '{"answer": 1}'


async def test_a_blank_message_is_neither_looked_up_nor_embedded(redis: Redis, scope: str) -> None:
    generate = Generation.parse({"model": "m", "prompt": "  \n ", "cache": {"namespace": scope}})
    key = build_request_key(generate, partition="tenant-x", key_version="1")
    cache = SemanticCache.local(redis)
    assert await semantic_path.lookup(cache, generate, key) == (None, None)
    assert isinstance(cache.embedder, CachedEmbedder) and cache.embedder.misses == 0


async def test_a_plan_without_a_usable_vector_is_embedded_again(redis: Redis, scope: str) -> None:
    cache = SemanticCache.local(redis)
    vector = await cache.query_vector(SEED)
    carried = cache.portable(vector)
    assert cache.unpacked(carried) is not None
    unusable = [
        {},
        {**carried, "embedder": "another-model-64"},  # the embedder changed between submit and callback
        {**carried, "vector": carried["vector"][:-1]},
        {**carried, "vector": "é" * len(carried["vector"])},
        {**carried, "vector": 7},
    ]
    for plan in unusable:
        assert cache.unpacked(plan) is None
    plan = {"scope": scope, "text": SEED, "namespace": scope, "model": "m", **unusable[1]}
    other = SemanticCache.local(redis)
    await semantic_path.store(other, plan, '{"answer": 2}', ttl=60)
    assert isinstance(other.embedder, CachedEmbedder) and other.embedder.misses == 1
    hit = await cache.lookup(scope, SEED)
    assert hit is not None and hit.payload == '{"answer": 2}' and hit.similarity > 0.99


async def test_a_carried_vector_lands_where_a_fresh_one_would(redis: Redis, scope: str) -> None:
    cache = SemanticCache.local(redis)
    vector = await cache.query_vector(SEED)
    carried = cache.unpacked(cache.portable(vector))
    assert carried is not None and float(carried @ vector) > 0.99
    index = cache.index
    fresh = index._store_command(scope, vector, SEED, "a", 1000, "n", "m", 0)[2]
    again = index._store_command(scope, carried, SEED, "a", 1000, "n", "m", 0)[2]
    assert fresh[0] == again[0]  # the stored characters
    assert fresh[11:] == again[11:]  # the buckets: hashed as stored
