"""Reading what a request brings: a size-capped body, JSON, lists and page sizes; all errors are 4xx."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from llmedge.devstack.broker.errors import BadRequest, PayloadTooLarge
from llmedge.errors import PayloadTooLarge as GatewayPayloadTooLarge
from llmedge.http.body import read_body as read_limited


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit` (declared or streamed)."""
    try:
        return await read_limited(request, limit)
    except GatewayPayloadTooLarge:
        raise PayloadTooLarge(f"request body over {limit} bytes") from None


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("the body is not valid JSON") from None


def string_list(value: object, name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{name} must be an array of strings")
    return value


def page_size(request: Request, maximum: int) -> int:
    """The `count` query parameter; leniently, more than the page maximum is served as the maximum."""
    return min(count_value(request.query_params.get("count"), "count", minimum=1) or maximum, maximum)


def count_value(raw: str | None, name: str, *, minimum: int) -> int | None:
    """A non-negative integer query parameter (None when absent); 400 otherwise."""
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise BadRequest(f"{name} must be an integer ≥ {minimum}")
    return int(raw)


def caller_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
