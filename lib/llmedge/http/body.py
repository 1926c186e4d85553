"""Reading request bodies: a size limit before reading, a clear error for what is not a JSON object."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from llmedge.errors import InvalidJSON, PayloadTooLarge


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `max_bytes` (a lying Content-Length included)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"request body is larger than the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"request body is larger than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise InvalidJSON("request body is empty; expected a JSON object")
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidJSON("request body is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise InvalidJSON(f"request body is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(document, dict):
        raise InvalidJSON("request body must be a JSON object")
    return document
