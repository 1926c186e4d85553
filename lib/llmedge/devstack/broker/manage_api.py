"""Everything besides publishing: messages, DLQ, events, signing keys, queues, flow control
(PROTOCOLS §3.4–§3.6; paths and response keys as the qstash 3.4.0 SDK uses them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from llmedge.devstack.broker import dead_letters, events
from llmedge.devstack.broker.errors import BadRequest, NotFound
from llmedge.devstack.broker.http_input import count_value, page_size, parse_json, read_body, string_list

if TYPE_CHECKING:
    from llmedge.devstack.broker.service import QStashBroker


# Messages


async def get_message(request: Request, broker: QStashBroker) -> Response:
    message = await broker.store.load(request.path_params["message_id"])
    if message is None:
        raise NotFound(f"message {request.path_params['message_id']} not found")
    return JSONResponse(message.view())


async def cancel_message(request: Request, broker: QStashBroker) -> Response:
    if not await broker.cancel(request.path_params["message_id"]):
        raise NotFound(f"message {request.path_params['message_id']} not found")
    return JSONResponse({})


async def cancel_messages(request: Request, broker: QStashBroker) -> Response:
    """Bulk cancel: the Python SDK sends `{"messageIds": [...]}`, the docs use query parameters
    (`messageIds`, `queueName`, `url`, `label`, `flowControlKey`); neither means every message."""
    body = await read_body(request, broker.max_body_bytes)
    ids: list[str] | None = None
    if body.strip():
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise BadRequest('expected {"messageIds": [...]}')
        ids = string_list(payload.get("messageIds"), "messageIds")
    query_ids = [value for value in request.query_params.getlist("messageIds") for value in value.split(",")]
    if query_ids:
        ids = (ids or []) + [value for value in query_ids if value]
    filters = {name: value for name, value in request.query_params.items() if name != "messageIds"}
    return JSONResponse({"cancelled": await broker.cancel_where(ids, filters)})


# Dead-letter queue


async def list_dlq(request: Request, broker: QStashBroker) -> Response:
    count = page_size(request, dead_letters.MAX_PAGE)
    cursor = count_value(request.query_params.get("cursor"), "cursor", minimum=0) or 0
    return JSONResponse(await broker.dead_letters.page(request.query_params, cursor=cursor, count=count))


async def get_dlq(request: Request, broker: QStashBroker) -> Response:
    letter = await broker.dead_letters.get(request.path_params["dlq_id"])
    if letter is None:
        raise NotFound(f"DLQ message {request.path_params['dlq_id']} not found")
    return JSONResponse(letter.view())


async def delete_dlq(request: Request, broker: QStashBroker) -> Response:
    if not await broker.dead_letters.delete(request.path_params["dlq_id"]):
        raise NotFound(f"DLQ message {request.path_params['dlq_id']} not found")
    return JSONResponse({})


async def delete_dlq_many(request: Request, broker: QStashBroker) -> Response:
    body = await read_body(request, broker.max_body_bytes)
    payload = parse_json(body) if body.strip() else {}
    ids = string_list(payload.get("dlqIds") if isinstance(payload, dict) else None, "dlqIds") or []
    ids += [value for value in request.query_params.getlist("dlqIds") for value in value.split(",") if value]
    deleted = sum([await broker.dead_letters.delete(dlq_id) for dlq_id in ids])
    return JSONResponse({"deleted": deleted})


async def retry_dlq(request: Request, broker: QStashBroker) -> Response:
    message_id = await broker.retry_dead_letter(request.path_params["dlq_id"])
    return JSONResponse({"messageId": message_id}, status_code=201)  # openapi: 201 PublishResponse


# Events, keys, queues, flow control


async def list_events(request: Request, broker: QStashBroker) -> Response:
    count = page_size(request, events.MAX_PAGE)
    state = request.query_params.get("state")
    if state is not None and state not in events.STATES:
        raise BadRequest(f"state must be one of {', '.join(sorted(events.STATES))}")
    for name in ("fromDate", "toDate"):
        count_value(request.query_params.get(name), name, minimum=0)
    cursor = request.query_params.get("cursor") or None
    return JSONResponse(await broker.events.page(request.query_params, cursor=cursor, count=count))


async def get_keys(request: Request, broker: QStashBroker) -> Response:
    return JSONResponse(broker.keys.view())


async def rotate_keys(request: Request, broker: QStashBroker) -> Response:
    broker.keys.rotate()
    return JSONResponse(broker.keys.view())


async def upsert_queue(request: Request, broker: QStashBroker) -> Response:
    payload = parse_json(await read_body(request, broker.max_body_bytes))
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


async def list_queues(request: Request, broker: QStashBroker) -> Response:
    queues = [await broker.store.queue(name) for name in await broker.store.queue_names()]
    return JSONResponse([queue for queue in queues if queue is not None])


async def get_queue(request: Request, broker: QStashBroker) -> Response:
    queue = await broker.store.queue(request.path_params["queue"])
    if queue is None:
        raise NotFound(f"queue {request.path_params['queue']} not found")
    return JSONResponse(queue)


async def delete_queue(request: Request, broker: QStashBroker) -> Response:
    await broker.delete_queue(request.path_params["queue"])
    return JSONResponse({})


async def pause_queue(request: Request, broker: QStashBroker) -> Response:
    return await _set_paused(request, broker, paused=True)


async def resume_queue(request: Request, broker: QStashBroker) -> Response:
    return await _set_paused(request, broker, paused=False)


async def _set_paused(request: Request, broker: QStashBroker, *, paused: bool) -> Response:
    name = request.path_params["queue"]
    if await broker.store.queue(name) is None:
        raise NotFound(f"queue {name} not found")
    await broker.store.upsert_queue(name, paused=paused)
    broker.delivery.wake()
    return JSONResponse({})


async def get_flow_control(request: Request, broker: QStashBroker) -> Response:
    return JSONResponse(broker.delivery.gates.view(request.path_params["key"]))
