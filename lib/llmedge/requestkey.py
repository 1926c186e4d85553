"""The canonical request key: a hash of everything that changes the answer, and nothing else.

Two requests that the model API would answer the same way must get the same key: key order does not
matter, an omitted parameter equals its provider default (an omitted temperature is 1, not 0), `1` equals
`1.0`, and a single text content part equals a plain string. Everything that can change the answer — model,
kind, every parameter, every message including the system prompt, tools, response format, seed — is in it,
plus the cache namespace, the caller's partition (per tenant unless configured shared) and a key version
that invalidates everything at once when bumped.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from msgspec import Struct

from llmedge.schemas import Generation

# OpenAI's documented defaults (API reference, "Create chat completion" / "Create image").
_CHAT_DEFAULTS: dict[str, Any] = {
    "temperature": 1,
    "top_p": 1,
    "n": 1,
    "presence_penalty": 0,
    "frequency_penalty": 0,
}
_IMAGE_DEFAULTS: dict[str, Any] = {"n": 1, "size": "1024x1024"}
_SEMANTIC_SLOT = "\u0000llmedge:semantic-text\u0000"


class RequestKey(Struct, frozen=True):
    """`cache_key` names the exact-cache entry; `scope` is the semantic cache's hard filter."""

    digest: str
    cache_key: str
    lease_key: str
    scope: str | None
    semantic_text: str | None


def model_slug(model: str) -> str:
    """The model name as it appears in key names: no glob or separator characters."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", model)


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(key): _normalise(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    return str(value)


def _normalise_message(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list) and all(part.get("type") == "text" for part in content):
        # OpenAI reads a list of text parts as their concatenation.
        message = {**message, "content": "".join(str(part.get("text", "")) for part in content)}
    return _normalise(message)


def _digest(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_request(request: Generation) -> dict[str, Any]:
    """The request as the model API sees it, with defaults made explicit."""
    defaults = _IMAGE_DEFAULTS if request.kind == "image" else _CHAT_DEFAULTS
    params = _normalise({**defaults, **request.passed_params()})
    document: dict[str, Any] = {"model": request.model, "kind": request.kind, "params": params}
    if request.kind == "image":
        document["prompt"] = request.prompt
    else:
        document["messages"] = [_normalise_message(message) for message in request.chat_messages()]
    return document


def build_request_key(request: Generation, *, partition: str, key_version: str) -> RequestKey:
    document = canonical_request(request)
    envelope = {"v": key_version, "ns": request.cache.namespace, "partition": partition, "request": document}
    digest = _digest(envelope)
    prefix = f"llmedge:v{key_version}"
    scope, text = _semantic_scope(envelope)
    # Namespace and model are in the key's name so that a purge can find them with SCAN MATCH.
    return RequestKey(
        digest=digest,
        cache_key=f"{prefix}:exact:{request.cache.namespace}:{model_slug(request.model)}:{digest}",
        lease_key=f"{prefix}:lease:{digest}",
        scope=scope,
        semantic_text=text,
    )


def _semantic_scope(envelope: dict[str, Any]) -> tuple[str | None, str | None]:
    """Everything but the last user message, hashed: a semantic hit may only differ in that message.

    Returns (None, None) when the request has no trailing plain-text user message (images, tool turns,
    multimodal content): those are only ever served from the exact cache.
    """
    messages = envelope["request"].get("messages")
    if not messages:
        return None, None
    last = messages[-1]
    if last.get("role") != "user" or not isinstance(last.get("content"), str) or not last["content"].strip():
        return None, None
    if set(last) - {"role", "content"}:
        return None, None
    slotted = [*messages[:-1], {"role": "user", "content": _SEMANTIC_SLOT}]
    scoped = {**envelope, "request": {**envelope["request"], "messages": slotted}}
    return _digest(scoped), last["content"]
