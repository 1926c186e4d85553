"""The broker's HTTP API: the QStash v2 paths the official `qstash` 3.4.0 SDK calls (PROTOCOLS §3).

Auth is `Authorization: Bearer <token>` or `?qstash_token=` (docs `qstash/api/authentication.mdx`).
Every refusal is `{"error": "..."}` with a 4xx; an unexpected failure is a logged JSON 500, never a trace.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llmedge.devstack.broker import manage_api, publish_api
from llmedge.devstack.broker.errors import BrokerError, Unauthorized

if TYPE_CHECKING:
    from llmedge.devstack.broker.service import QStashBroker

log = logging.getLogger("llmedge.devstack.broker")

Handler = Callable[[Request, "QStashBroker"], Awaitable[Response]]


def create_app(broker: QStashBroker) -> Starlette:
    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, _endpoint(broker, handler), methods=[method])

    routes = [
        route("/v2/publish/{destination:path}", publish_api.publish, "POST"),
        route("/v2/enqueue/{queue}/{destination:path}", publish_api.enqueue, "POST"),
        route("/v2/batch", publish_api.batch, "POST"),
        route("/v2/messages/{message_id}", manage_api.get_message, "GET"),
        route("/v2/messages/{message_id}", manage_api.cancel_message, "DELETE"),
        route("/v2/messages", manage_api.cancel_messages, "DELETE"),
        route("/v2/dlq", manage_api.list_dlq, "GET"),
        route("/v2/dlq", manage_api.delete_dlq_many, "DELETE"),
        route("/v2/dlq/retry/{dlq_id}", manage_api.retry_dlq, "POST"),
        route("/v2/dlq/{dlq_id}", manage_api.get_dlq, "GET"),
        route("/v2/dlq/{dlq_id}", manage_api.delete_dlq, "DELETE"),
        route("/v2/events", manage_api.list_events, "GET"),
        route("/v2/keys", manage_api.get_keys, "GET"),
        route("/v2/keys/rotate", manage_api.rotate_keys, "POST"),
        route("/v2/queues", manage_api.upsert_queue, "POST"),
        route("/v2/queues", manage_api.list_queues, "GET"),
        route("/v2/queues/{queue}", manage_api.get_queue, "GET"),
        route("/v2/queues/{queue}", manage_api.delete_queue, "DELETE"),
        route("/v2/queues/{queue}/pause", manage_api.pause_queue, "POST"),
        route("/v2/queues/{queue}/resume", manage_api.resume_queue, "POST"),
        route("/v2/flowControl/{key}", manage_api.get_flow_control, "GET"),
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
        given = request.query_params.get(publish_api.TOKEN_PARAMETER, "")
    if not given:
        raise Unauthorized("missing token: send Authorization: Bearer <QSTASH_TOKEN>")
    if not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("invalid token")
