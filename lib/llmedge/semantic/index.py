"""The vector index in plain Redis (no modules), scored inside one Lua script.

Key layout (`<base>` = `<prefix>:<embedder name>:<lsh tag>`, so vectors of two embedders or two hash
families never meet; every per-entry key carries the scope, which makes scope a hard filter):

    <base>:s:<scope>:e:<id>      hash   v vector · n its norm · t prompt · a payload · c created ms · ns · m
    <base>:s:<scope>:all         set    ids in the scope (exact scan while the scope is small)
    <base>:s:<scope>:b:<t>.<c>   set    ids whose vector hashes to code c in LSH table t
    <base>:ns:<namespace>        set    entry ids, for purge by namespace
    <base>:m:<model>             set    entry ids, for purge by model
    <base>:ids                   set    every entry id, for purge of everything (no SCAN)

Entries carry their TTL; index sets expire with their longest-lived member, and ids of expired entries
are dropped from the sets a lookup reads. Lookup cost is bounded by a `SearchBudget`, not by the number
of entries: a scope above `scan_limit` entries is read through its LSH buckets only; at most
`gathered` bucket members are read (a set read, cheap), and of the ids found only the `candidates`
that share the most probed buckets with the query are scored (a hash read and a dot product, several
µs each in Lua). Counting shared buckets is what makes many tables affordable: on real
text (dev-set paraphrases among 100k sentences, `llmedge bench semantic --data`), 16 tables of 15 bits
scoring ids in the order met had recall@1 0.76 at 8.5 ms; 32 tables of 13 bits scoring the 300 most
shared of up to 6000 members read have 0.90 at 12-13 ms (and 0.985 on the random-vector bands).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from llmedge.semantic.vectors import HyperplaneLSH, decode, encode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from upstash_redis.asyncio import Redis

from llmedge.luascript import LuaScript

# Short ids are 19-digit integers (random in [2**61, 2**62)): Redis keeps small sets of integers as
# intsets, 8 bytes a member instead of ~70, which is most of an entry's memory (16 LSH buckets each).
_SHORT_ID_DIGITS = 19  # remove.lua splits "<19 digits>.<scope>" by position
_PURGE_BATCH = 500


@dataclass(frozen=True, slots=True)
class SearchBudget:
    """What one lookup in a scope past `scan_limit` may read and score: latency traded for recall.

    On real text at 100k entries (`llmedge bench semantic --data`, one run), the default (300 scored of
    up to 6000 read) has recall@1 0.903 at 12.0 ms p50, every miss below cosine 0.8; 3000 of up to 15000
    has 0.956 at 37 ms (3.1x). The extra recall is of best matches at cosine 0.5-0.8, mostly sentences
    the guards refuse anyway: 57 of 57 would-be hits found against 56."""

    candidates: int = 300  # distinct ids scored (a hash read and a dot product each, ~7 µs in Lua)
    gathered: int = 6000  # bucket members read before probing stops (~1 µs each)

    def __post_init__(self) -> None:
        if self.candidates < 1 or self.gathered < 1:
            raise ValueError("a search budget must let a lookup read and score at least one entry")


@dataclass(frozen=True, slots=True)
class Candidate:
    entry_id: str
    similarity: float
    text: str  # the stored prompt, for the near-miss guards
    created_ms: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    candidates: list[Candidate]  # above the threshold, best first
    best_payload: str | None  # payload of candidates[0], fetched in the same round trip
    scored: int  # how many stored vectors the script compared


def _script(filename: str) -> LuaScript:
    return LuaScript(resources.files("llmedge.semantic").joinpath("lua", filename).read_text())


_LOOKUP = _script("lookup.lua")
_STORE = _script("store.lua")
_REMOVE = _script("remove.lua")


def split_entry_id(entry_id: str) -> tuple[str, str]:
    """(short id, scope) of an entry id; ValueError when it is not one."""
    short, dot, scope = (
        entry_id[:_SHORT_ID_DIGITS],
        entry_id[_SHORT_ID_DIGITS : _SHORT_ID_DIGITS + 1],
        entry_id[20:],
    )
    if dot != "." or not scope or not short.isdigit():
        raise ValueError("not a semantic cache entry id")
    return short, scope


class SemanticIndex:
    """Store, search and remove vectors with their prompt and payload, per scope, in Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        embedder_name: str,
        dimensions: int,
        prefix: str = "llmedge:sem",
        lsh: HyperplaneLSH | None = None,
        scan_limit: int = 1000,
        budget: SearchBudget | None = None,
        max_flips: int = 13,
    ) -> None:
        self.redis = redis
        self.lsh = lsh or HyperplaneLSH(dimensions)
        if self.lsh.dimensions != dimensions:
            raise ValueError("the LSH family and the embedder disagree on dimensions")
        self.base = f"{prefix}:{embedder_name}:{self.lsh.tag}:"
        self.scan_limit = scan_limit
        self.budget = budget or SearchBudget()
        self.max_flips = max_flips

    def _scope_prefix(self, scope: str) -> str:
        return f"{self.base}s:{scope}:"

    async def add(
        self,
        scope: str,
        vector: npt.NDArray[np.float32],
        text: str,
        payload: str,
        *,
        ttl_ms: int,
        namespace: str,
        model: str,
        created_ms: int,
    ) -> str:
        """Store one entry; returns its id (`<19 digits>.<scope>`). One round trip."""
        entry_id, keys, args = self._store_command(
            scope, vector, text, payload, ttl_ms, namespace, model, created_ms
        )
        await _STORE.run(self.redis, keys, args)
        return entry_id

    async def add_many(
        self,
        scope: str,
        vectors: npt.NDArray[np.float32],
        texts: list[str],
        payloads: list[str],
        *,
        ttl_ms: int,
        namespace: str,
        model: str,
        created_ms: int,
        batch: int = 1000,
    ) -> list[str]:
        """Store many entries of one scope, `batch` store scripts per pipelined request."""
        await self.redis.script_load(_STORE.source)  # EVALSHA inside a pipeline cannot fall back to EVAL
        entry_ids: list[str] = []
        for start in range(0, len(texts), batch):
            pipeline = self.redis.pipeline()
            for index in range(start, min(start + batch, len(texts))):
                entry_id, keys, args = self._store_command(
                    scope, vectors[index], texts[index], payloads[index], ttl_ms, namespace, model, created_ms
                )
                pipeline.evalsha(_STORE.sha, keys, args)
                entry_ids.append(entry_id)
            for reply in await pipeline.exec():
                if reply != 1:
                    raise RuntimeError(f"store script failed in a pipeline: {reply!r}")
        return entry_ids

    def _store_command(
        self,
        scope: str,
        vector: npt.NDArray[np.float32],
        text: str,
        payload: str,
        ttl_ms: int,
        namespace: str,
        model: str,
        created_ms: int,
    ) -> tuple[str, list[str], list[Any]]:
        short = str(secrets.randbits(61) | 1 << 61)
        entry_id = f"{short}.{scope}"
        scope_prefix = self._scope_prefix(scope)
        stored, norm = encode(vector)
        keys = [
            f"{scope_prefix}e:{short}",
            f"{scope_prefix}all",
            f"{self.base}ns:{namespace}",
            f"{self.base}m:{model}",
            f"{self.base}ids",
        ]
        args: list[Any] = [stored, norm, text, payload, created_ms, ttl_ms, namespace, model, short, entry_id]
        # Hashed as stored (quantised): an entry lands in the same buckets whether its vector was just
        # embedded or carried over from the lookup in the job record (`SemanticCache.portable`).
        return entry_id, keys, [*args, f"{scope_prefix}b:", *self.lsh.buckets(decode(stored))]

    async def search(
        self, scope: str, vector: npt.NDArray[np.float32], *, threshold: float, top_k: int = 3
    ) -> SearchResult:
        """The stored vectors of `scope` at or above `threshold`, best first: one round trip."""
        stored, norm = encode(vector)
        scope_prefix = self._scope_prefix(scope)
        args: list[Any] = [
            scope_prefix,
            stored,
            norm,
            repr(float(threshold)),
            top_k,
            self.scan_limit,
            self.budget.candidates,
            self.budget.gathered,
            *self.lsh.probes(vector, self.max_flips),
        ]
        reply = await _LOOKUP.run(self.redis, [f"{scope_prefix}all"], args)
        scored, payload, rest = int(reply[0]), reply[1], reply[2:]
        candidates = [
            Candidate(f"{rest[i]}.{scope}", float(rest[i + 1]), rest[i + 2], int(rest[i + 3]))
            for i in range(0, len(rest), 4)
        ]
        return SearchResult(candidates, payload, scored)

    async def payload(self, entry_id: str) -> str | None:
        """The payload of one entry (None once it has expired or been evicted)."""
        short, scope = split_entry_id(entry_id)
        value = await self.redis.hget(f"{self._scope_prefix(scope)}e:{short}", "a")
        return None if value is None else str(value)

    async def remove(self, entry_ids: list[str], *, listed_in: str = "") -> int:
        """Delete entries and their index memberships; returns how many still existed."""
        removed = 0
        for start in range(0, len(entry_ids), _PURGE_BATCH):
            batch = entry_ids[start : start + _PURGE_BATCH]
            removed += int(await _REMOVE.run(self.redis, [], [self.base, listed_in, *batch]))
        return removed

    async def purge(self, namespace: str | None = None, model: str | None = None) -> int:
        """Delete every entry of a namespace, of a model, of both, or (neither given) all of them."""
        namespace_key, model_key = f"{self.base}ns:{namespace}", f"{self.base}m:{model}"
        if namespace is not None and model is not None:
            ids = sorted(await self.redis.sinter(namespace_key, model_key))
            removed = await self.remove(ids, listed_in=namespace_key)
            if ids:  # expired entries no longer name their model: drop them from its set too
                await self.redis.srem(model_key, *ids)
            return removed
        listed_in = (
            namespace_key if namespace is not None else model_key if model is not None else f"{self.base}ids"
        )
        return await self.remove(sorted(await self.redis.smembers(listed_in)), listed_in=listed_in)
