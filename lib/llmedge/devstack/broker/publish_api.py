"""Publish, enqueue and batch (PROTOCOLS §3.2): the destination comes raw from the request target."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llmedge.devstack.broker.errors import BadRequest, PayloadTooLarge
from llmedge.devstack.broker.headers import PublishOptions, parse_publish_headers
from llmedge.devstack.broker.http_input import caller_ip, parse_json, read_body
from llmedge.devstack.broker.records import Message

if TYPE_CHECKING:
    from llmedge.devstack.broker.service import QStashBroker

TOKEN_PARAMETER = "qstash_token"
_BATCH_BODY_FACTOR = 10  # a batch carries many messages, each up to max_body_bytes


async def publish(request: Request, broker: QStashBroker) -> Response:
    return await _publish_one(request, broker, queue=None)


async def enqueue(request: Request, broker: QStashBroker) -> Response:
    return await _publish_one(request, broker, queue=request.path_params["queue"])


async def _publish_one(request: Request, broker: QStashBroker, queue: str | None) -> Response:
    destination = destination_from_scope(request.scope)
    body = await read_body(request, broker.max_body_bytes)
    options = parse_publish_headers(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
    )
    message = broker.publisher.build(destination, body, options, queue=queue, caller_ip=caller_ip(request))
    reply, status = await broker.publisher.publish(message, options)
    return JSONResponse(reply, status_code=status)


def destination_from_scope(scope: MutableMapping[str, Any]) -> str:
    """The destination exactly as the SDK sent it (PROTOCOLS §3.2): the raw path after `/publish/` or
    `/enqueue/<queue>/` — not percent-decoded, `//` kept — plus the raw query string without our token.

    The SDK puts the URL unencoded in the path, so the destination's own query string arrives as this
    request's query string. `raw_path` holds the path as received whatever prefix the app is mounted
    under; the first `/v2/publish/` or `/v2/enqueue/` in it is ours, the mount prefix comes before it.
    """
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1")
    for marker in ("/v2/publish/", "/v2/enqueue/"):
        start = path.find(marker)
        if start >= 0:
            tail = path[start + len(marker) :]
            if marker == "/v2/enqueue/":
                tail = tail.partition("/")[2]
            break
    else:
        raise BadRequest("not a publish path")
    query = "&".join(
        part
        for part in scope.get("query_string", b"").decode("latin-1").split("&")
        if part and unquote(part.partition("=")[0]) != TOKEN_PARAMETER
    )
    return f"{tail}?{query}" if query and tail else tail


async def batch(request: Request, broker: QStashBroker) -> Response:
    items = parse_json(await read_body(request, broker.max_body_bytes * _BATCH_BODY_FACTOR))
    if not isinstance(items, list) or not items:
        raise BadRequest("a batch is a non-empty JSON array of {destination, headers, body, queue}")
    prepared: list[tuple[Message, PublishOptions]] = []
    for index, item in enumerate(items):
        try:
            prepared.append(_batch_item(item, broker, caller_ip(request)))
        except BadRequest as error:
            raise BadRequest(f"batch[{index}]: {error.message}") from None
    replies = [(await broker.publisher.publish(message, options))[0] for message, options in prepared]
    return JSONResponse(replies)


def _batch_item(item: object, broker: QStashBroker, caller_ip: str | None) -> tuple[Message, PublishOptions]:
    if not isinstance(item, dict):
        raise BadRequest("each item must be an object")
    destination, headers, body, queue = (item.get(k) for k in ("destination", "headers", "body", "queue"))
    if not isinstance(destination, str):
        raise BadRequest("destination must be a string")
    if not isinstance(headers, dict | None) or not all(isinstance(v, str) for v in (headers or {}).values()):
        raise BadRequest("headers must be an object of strings")
    if not isinstance(body, str | None) or not isinstance(queue, str | None):
        raise BadRequest("body and queue must be strings (or null)")
    raw_body = (body or "").encode()
    if len(raw_body) > broker.max_body_bytes:
        raise PayloadTooLarge(f"message body over {broker.max_body_bytes} bytes")
    options = parse_publish_headers((headers or {}).items())
    return broker.publisher.build(destination, raw_body, options, queue=queue, caller_ip=caller_ip), options
