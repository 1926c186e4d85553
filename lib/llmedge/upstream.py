"""What llmedge knows about the OpenAI-compatible model API: where to call and how to read its answers."""

from __future__ import annotations

import json
from typing import Any

from msgspec import Struct

from llmedge.schemas import Generation

# finish_reason values of a complete answer; "length" (truncated) and "content_filter" are never cached.
_COMPLETE_FINISH_REASONS = {"stop", "tool_calls", "function_call", "end_turn"}
# Statuses worth retrying: the model API may answer differently next time.
_RETRYABLE_STATUSES = {408, 409, 425, 429}


class UpstreamCall(Struct, frozen=True):
    url: str
    body: dict[str, Any]


def build_call(request: Generation, base_url: str) -> UpstreamCall:
    if request.kind == "image":
        body = {"model": request.model, "prompt": request.prompt, **request.passed_params()}
        return UpstreamCall(url=f"{base_url}/images/generations", body=body)
    body = {"model": request.model, "messages": request.chat_messages(), **request.passed_params()}
    return UpstreamCall(url=f"{base_url}/chat/completions", body=body)


def is_complete(result: dict[str, Any], kind: str) -> bool:
    """Only complete answers are cached: no truncation, no filtered content, no empty image list."""
    if kind == "image":
        data = result.get("data")
        return isinstance(data, list) and bool(data)
    choices = result.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(isinstance(c, dict) and c.get("finish_reason") in _COMPLETE_FINISH_REASONS for c in choices)


def usage_tokens(result: dict[str, Any]) -> int | None:
    usage = result.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        return int(usage["total_tokens"])
    return None


def is_retryable(status: int) -> bool:
    return status >= 500 or status in _RETRYABLE_STATUSES


def error_message(status: int, body: bytes) -> str:
    """The upstream's own words for a failure, from OpenAI's `{"error": {"message"}}` shape when present."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str):
            return error
    text = body.decode("utf-8", errors="replace").strip()
    return text[:500] if text else f"upstream answered HTTP {status}"
