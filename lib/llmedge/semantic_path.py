"""The gateway's use of the semantic cache: best effort, never the reason a request fails.

A lookup runs only after an exact miss, for requests whose last message is plain user text (the request
key's `scope` is everything else, hashed: model, parameters, system prompt, earlier turns, tenant
partition, namespace). The embedder and numpy are imported on the first lookup of an instance, never at
cold start. Any failure of the semantic path (Redis, the embeddings endpoint) is logged and treated as a
miss: the request then goes to the model as it would without a semantic cache.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx
from upstash_redis.errors import UpstashError

from llmedge.errors import ServiceUnavailable
from llmedge.requestkey import RequestKey
from llmedge.schemas import Generation

if TYPE_CHECKING:
    from llmedge.semantic.cache import SemanticCache, SemanticHit

log = logging.getLogger("llmedge.semantic")

_FAILURES = (UpstashError, httpx.HTTPError, ServiceUnavailable, ValueError)


def semantic_plan(
    generate: Generation, key: RequestKey, carried: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """What the callback needs to store this answer semantically, or None if it never can be. `carried`:
    the lookup's query vector (`SemanticCache.portable`), so the callback need not embed the text again."""
    if key.scope is None or key.semantic_text is None:
        return None
    return {
        "scope": key.scope,
        "text": key.semantic_text,
        "namespace": generate.cache.namespace,
        "model": generate.model,
        **(carried or {}),
    }


async def lookup(
    cache: SemanticCache, generate: Generation, key: RequestKey
) -> tuple[SemanticHit | None, dict[str, str] | None]:
    """The semantic hit, if any, and the query's vector for the job record (None when not embedded)."""
    text = key.semantic_text  # None for a blank message, among others (`requestkey`): nothing embedded
    if key.scope is None or text is None or not generate.cache.semantic:
        return None, None
    try:
        vector = await cache.query_vector(text)
        hit = await cache.lookup(key.scope, text, threshold=generate.cache.threshold, vector=vector)
    except _FAILURES as error:
        log.warning("semantic lookup failed; treated as a miss", extra={"error": str(error)})
        return None, None
    return hit, cache.portable(vector)


async def store(cache: SemanticCache, plan: dict[str, Any], payload: str, ttl: int) -> None:
    try:
        await cache.store(
            plan["scope"],
            plan["text"],
            payload,
            ttl=ttl,
            namespace=plan["namespace"],
            model=plan["model"],
            vector=cache.unpacked(plan),
        )
    except _FAILURES as error:
        log.warning(
            "semantic store failed; the exact cache still has the answer", extra={"error": str(error)}
        )
