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
        document = json.loads(raw, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise InvalidJSON("request body is not valid UTF-8") from None
    except json.JSONDecodeError as error:
        raise InvalidJSON(f"request body is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(document, dict):
        raise InvalidJSON("request body must be a JSON object")
    if b"\\u" in raw and not _encodes_as_utf8(document):
        raise InvalidJSON(
            "request body has an unpaired surrogate escape (\\ud800–\\udfff) that encodes no character"
        )
    return document


def _refuse_constant(name: str) -> None:
    """Python's json reads NaN and Infinity, which JSON does not have: passed on, they would make the body
    sent to the model API invalid JSON."""
    raise InvalidJSON(f"request body is not valid JSON: {name} is not a JSON value")


def _encodes_as_utf8(document: dict[str, Any]) -> bool:
    """JSON allows an escaped lone surrogate ("\\ud800"); Python decodes it into a string that cannot be
    encoded again, so hashing or storing it would fail later. Only an escape can produce one, hence the
    cheap `\\u` test before this full check."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
