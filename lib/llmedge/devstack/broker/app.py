"""The broker's HTTP API: the QStash v2 paths the official `qstash` 3.4.0 SDK calls (PROTOCOLS §3).

Auth is `Authorization: Bearer <token>` or `?qstash_token=` (docs `qstash/api/authentication.mdx`).
Every refusal is `{"error": "..."}` with a 4xx; an unexpected failure is a logged JSON 500, never a trace.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llmedge.devstack.broker import dead_letters, events
from llmedge.devstack.broker.errors import BadRequest, BrokerError, NotFound, PayloadTooLarge, Unauthorized
from llmedge.devstack.broker.headers import PublishOptions, parse_publish_headers
from llmedge.devstack.broker.records import Message

if TYPE_CHECKING:
    from llmedge.devstack.broker.service import QStashBroker

log = logging.getLogger("llmedge.devstack.broker")

Handler = Callable[[Request, "QStashBroker"], Awaitable[Response]]
_TOKEN_PARAMETER = "qstash_token"
_BATCH_BODY_FACTOR = 10  # a batch carries many messages, each up to max_body_bytes


def create_app(broker: QStashBroker) -> Starlette:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _endpoint(broker, handler), methods=[method])

    routes = [
        route("/v2/publish/{destination:path}", _publish, "POST"),
        route("/v2/enqueue/{queue}/{destination:path}", _enqueue, "POST"),
        route("/v2/batch", _batch, "POST"),
        route("/v2/messages/{message_id}", _get_message, "GET"),
        route("/v2/messages/{message_id}", _cancel_message, "DELETE"),
        route("/v2/messages", _cancel_messages, "DELETE"),
        route("/v2/dlq", _list_dlq, "GET"),
        route("/v2/dlq", _delete_dlq_many, "DELETE"),
        route("/v2/dlq/retry/{dlq_id}", _retry_dlq, "POST"),
        route("/v2/dlq/{dlq_id}", _get_dlq, "GET"),
        route("/v2/dlq/{dlq_id}", _delete_dlq, "DELETE"),
        route("/v2/events", _list_events, "GET"),
        route("/v2/keys", _get_keys, "GET"),
        route("/v2/keys/rotate", _rotate_keys, "POST"),
        route("/v2/queues", _upsert_queue, "POST"),
        route("/v2/queues", _list_queues, "GET"),
        route("/v2/queues/{queue}", _get_queue, "GET"),
        route("/v2/queues/{queue}", _delete_queue, "DELETE"),
        route("/v2/queues/{queue}/pause", _pause_queue, "POST"),
        route("/v2/queues/{queue}/resume", _resume_queue, "POST"),
        route("/v2/flowControl/{key}", _get_flow_control, "GET"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def _endpoint(broker: QStashBroker, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            _authorize(request, broker.token)
            return await handler(request, broker)
        except BrokerError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        except Exception:
            log.exception("broker error on %s %s", request.method, request.url.path)
            return JSONResponse({"error": "internal error in the local QStash broker"}, status_code=500)

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return JSONResponse({"error": f"{detail}: {request.method} {request.url.path}"}, status_code=status)


def _authorize(request: Request, token: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        given = request.query_params.get(_TOKEN_PARAMETER, "")
    if not given:
        raise Unauthorized("missing token: send Authorization: Bearer <QSTASH_TOKEN>")
    if not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("invalid token")


# Publishing


async def _publish(request: Request, broker: QStashBroker) -> Response:
    return await _publish_one(request, broker, queue=None)


async def _enqueue(request: Request, broker: QStashBroker) -> Response:
    return await _publish_one(request, broker, queue=request.path_params["queue"])


async def _publish_one(request: Request, broker: QStashBroker, queue: str | None) -> Response:
    destination = destination_from_scope(request.scope)
    body = await _read_body(request, broker.max_body_bytes)
    options = parse_publish_headers(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw
    )
    message = broker.publisher.build(destination, body, options, queue=queue, caller_ip=_caller_ip(request))
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
        if part and unquote(part.partition("=")[0]) != _TOKEN_PARAMETER
    )
    return f"{tail}?{query}" if query and tail else tail


async def _batch(request: Request, broker: QStashBroker) -> Response:
    items = _json(await _read_body(request, broker.max_body_bytes * _BATCH_BODY_FACTOR))
    if not isinstance(items, list) or not items:
        raise BadRequest("a batch is a non-empty JSON array of {destination, headers, body, queue}")
    prepared: list[tuple[Message, PublishOptions]] = []
    for index, item in enumerate(items):
        try:
            prepared.append(_batch_item(item, broker, _caller_ip(request)))
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


# Messages


async def _get_message(request: Request, broker: QStashBroker) -> Response:
    message = await broker.store.load(request.path_params["message_id"])
    if message is None:
        raise NotFound(f"message {request.path_params['message_id']} not found")
    return JSONResponse(message.view())


async def _cancel_message(request: Request, broker: QStashBroker) -> Response:
    if not await broker.cancel(request.path_params["message_id"]):
        raise NotFound(f"message {request.path_params['message_id']} not found")
    return JSONResponse({})


async def _cancel_messages(request: Request, broker: QStashBroker) -> Response:
    """Bulk cancel: the Python SDK sends `{"messageIds": [...]}`, the docs use query parameters
    (`messageIds`, `queueName`, `url`, `label`, `flowControlKey`); neither means every message."""
    body = await _read_body(request, broker.max_body_bytes)
    ids: list[str] | None = None
    if body.strip():
        payload = _json(body)
        if not isinstance(payload, dict):
            raise BadRequest('expected {"messageIds": [...]}')
        ids = _string_list(payload.get("messageIds"), "messageIds")
    query_ids = [value for value in request.query_params.getlist("messageIds") for value in value.split(",")]
    if query_ids:
        ids = (ids or []) + [value for value in query_ids if value]
    filters = {name: value for name, value in request.query_params.items() if name != "messageIds"}
    return JSONResponse({"cancelled": await broker.cancel_where(ids, filters)})


# Dead-letter queue


async def _list_dlq(request: Request, broker: QStashBroker) -> Response:
    count = _count(request, dead_letters.MAX_PAGE)
    cursor = _count_value(request.query_params.get("cursor"), "cursor", minimum=0) or 0
    return JSONResponse(await broker.dead_letters.page(request.query_params, cursor=cursor, count=count))


async def _get_dlq(request: Request, broker: QStashBroker) -> Response:
    letter = await broker.dead_letters.get(request.path_params["dlq_id"])
    if letter is None:
        raise NotFound(f"DLQ message {request.path_params['dlq_id']} not found")
    return JSONResponse(letter.view())


async def _delete_dlq(request: Request, broker: QStashBroker) -> Response:
    if not await broker.dead_letters.delete(request.path_params["dlq_id"]):
        raise NotFound(f"DLQ message {request.path_params['dlq_id']} not found")
    return JSONResponse({})


async def _delete_dlq_many(request: Request, broker: QStashBroker) -> Response:
    body = await _read_body(request, broker.max_body_bytes)
    payload = _json(body) if body.strip() else {}
    ids = _string_list(payload.get("dlqIds") if isinstance(payload, dict) else None, "dlqIds") or []
    ids += [value for value in request.query_params.getlist("dlqIds") for value in value.split(",") if value]
    deleted = sum([await broker.dead_letters.delete(dlq_id) for dlq_id in ids])
    return JSONResponse({"deleted": deleted})


async def _retry_dlq(request: Request, broker: QStashBroker) -> Response:
    message_id = await broker.retry_dead_letter(request.path_params["dlq_id"])
    return JSONResponse({"messageId": message_id}, status_code=201)  # openapi: 201 PublishResponse


# Events, keys, queues, flow control


async def _list_events(request: Request, broker: QStashBroker) -> Response:
    count = _count(request, events.MAX_PAGE)
    state = request.query_params.get("state")
    if state is not None and state not in events.STATES:
        raise BadRequest(f"state must be one of {', '.join(sorted(events.STATES))}")
    for name in ("fromDate", "toDate"):
        _count_value(request.query_params.get(name), name, minimum=0)
    cursor = request.query_params.get("cursor") or None
    return JSONResponse(await broker.events.page(request.query_params, cursor=cursor, count=count))


async def _get_keys(request: Request, broker: QStashBroker) -> Response:
    return JSONResponse(broker.keys.view())


async def _rotate_keys(request: Request, broker: QStashBroker) -> Response:
    broker.keys.rotate()
    return JSONResponse(broker.keys.view())


async def _upsert_queue(request: Request, broker: QStashBroker) -> Response:
    payload = _json(await _read_body(request, broker.max_body_bytes))
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("queueName"), str)
        or not payload["queueName"]
    ):
        raise BadRequest('expected {"queueName": str, "parallelism": int, "paused": bool}')
    parallelism = payload.get("parallelism", 1)
    paused = payload.get("paused", False)
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise BadRequest("parallelism must be a positive integer")
    if not isinstance(paused, bool):
        raise BadRequest("paused must be true or false")
    await broker.store.upsert_queue(payload["queueName"], parallelism=parallelism, paused=paused)
    broker.delivery.wake()
    return JSONResponse({})


async def _list_queues(request: Request, broker: QStashBroker) -> Response:
    queues = [await broker.store.queue(name) for name in await broker.store.queue_names()]
    return JSONResponse([queue for queue in queues if queue is not None])


async def _get_queue(request: Request, broker: QStashBroker) -> Response:
    queue = await broker.store.queue(request.path_params["queue"])
    if queue is None:
        raise NotFound(f"queue {request.path_params['queue']} not found")
    return JSONResponse(queue)


async def _delete_queue(request: Request, broker: QStashBroker) -> Response:
    await broker.delete_queue(request.path_params["queue"])
    return JSONResponse({})


async def _pause_queue(request: Request, broker: QStashBroker) -> Response:
    return await _set_paused(request, broker, paused=True)


async def _resume_queue(request: Request, broker: QStashBroker) -> Response:
    return await _set_paused(request, broker, paused=False)


async def _set_paused(request: Request, broker: QStashBroker, *, paused: bool) -> Response:
    name = request.path_params["queue"]
    if await broker.store.queue(name) is None:
        raise NotFound(f"queue {name} not found")
    await broker.store.upsert_queue(name, paused=paused)
    broker.delivery.wake()
    return JSONResponse({})


async def _get_flow_control(request: Request, broker: QStashBroker) -> Response:
    return JSONResponse(broker.delivery.gates.view(request.path_params["key"]))


# Request parsing


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("the body is not valid JSON") from None


def _string_list(value: object, name: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{name} must be an array of strings")
    return value


def _count(request: Request, maximum: int) -> int:
    """A page size; more than the page maximum is served as the maximum, as QStash does."""
    return min(_count_value(request.query_params.get("count"), "count", minimum=1) or maximum, maximum)


def _count_value(raw: str | None, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
        bound = f" between {minimum} and {maximum}" if maximum is not None else f" ≥ {minimum}"
        raise BadRequest(f"{name} must be an integer{bound}")
    return int(raw)


def _caller_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
