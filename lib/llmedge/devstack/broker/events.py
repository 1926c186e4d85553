"""The event log behind `GET /v2/events` (what the qstash SDK's `log.list()` reads), in a Redis stream.

States are the Python SDK's enum values (`qstash/log.py LogState`): CREATED, ACTIVE, RETRY, ERROR,
DELIVERED, FAILED, CANCEL_REQUESTED, CANCELED (one L: an unknown value makes the SDK raise), IN_PROGRESS.
Newest first; the cursor is the stream id to continue below.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Literal

from redis.asyncio import Redis

from llmedge.devstack.broker.records import Message, flow_control_view
from llmedge.devstack.broker.store import now_ms

State = Literal[
    "CREATED",
    "ACTIVE",
    "RETRY",
    "ERROR",
    "DELIVERED",
    "FAILED",
    "CANCEL_REQUESTED",
    "CANCELED",
    "IN_PROGRESS",
]
STATES: frozenset[str] = frozenset(State.__args__)  # type: ignore[attr-defined]
MAX_EVENTS = 10_000  # kept in the stream (approximately: XADD MAXLEN ~)
MAX_EVENT_BODY_BYTES = 8 * 1024  # larger bodies are left out of events: the log keeps 10k of them
MAX_PAGE = 1000  # the SDK: "Default and max is 1000"
_FILTERS = {
    "messageId": "messageId",
    "url": "url",
    "queueName": "queueName",
    "label": "label",
    "state": "state",
}


class EventLog:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}events"

    async def record(self, message: Message, state: State, **details: Any) -> None:
        """Append one event about `message`; `details` adds fields such as error or responseStatus."""
        event: dict[str, Any] = {
            "time": now_ms(),
            "messageId": message.message_id,
            "state": state,
            "url": message.url,
            "method": message.method,
            "header": message.delivered_headers(),
            "maxRetries": message.max_retries,
        }
        if len(message.body) <= MAX_EVENT_BODY_BYTES:
            event["body"] = base64.b64encode(message.body).decode("ascii")
        optional = {
            "queueName": message.queue,
            "label": message.label,
            "retryDelayExpr": message.retry_delay,
            "callback": message.callback.url if message.callback else None,
            "failureCallback": message.failure_callback.url if message.failure_callback else None,
        }
        event.update({name: value for name, value in optional.items() if value is not None})
        if message.flow_control is not None:
            event.update(flow_control_view(message.flow_control))
        event.update({name: value for name, value in details.items() if value is not None})
        await self._redis.xadd(self._key, {"event": json.dumps(event)}, maxlen=MAX_EVENTS, approximate=True)

    async def page(self, query: Mapping[str, str], *, cursor: str | None, count: int) -> dict[str, Any]:
        """One page of events matching `query` (messageId, messageIds, url, queueName, label, state,
        fromDate, toDate), newest first."""
        wanted_ids = set(query.get("messageIds", "").split(",")) - {""}
        from_ms = int(query.get("fromDate") or 0)
        to_ms = int(query.get("toDate") or 0)
        events: list[dict[str, Any]] = []
        upper = f"({cursor}" if cursor else "+"
        last_id: str | None = None
        while len(events) < count:
            batch = await self._redis.xrevrange(self._key, max=upper, min="-", count=max(count, 100))
            if not batch:
                last_id = None
                break
            for stream_id, fields in batch:
                last_id = str(stream_id)
                event = json.loads((fields or {})["event"])
                if _matches(event, query, wanted_ids, from_ms, to_ms):
                    events.append(event)
                    if len(events) == count:
                        break
            upper = f"({last_id}"
        page: dict[str, Any] = {"events": events}
        if last_id is not None and len(events) == count:
            page["cursor"] = last_id
        return page


def _matches(
    event: dict[str, Any], query: Mapping[str, str], wanted_ids: set[str], from_ms: int, to_ms: int
) -> bool:
    for parameter, field in _FILTERS.items():
        if parameter in query and event.get(field) != query[parameter]:
            return False
    if wanted_ids and event["messageId"] not in wanted_ids:
        return False
    return not ((from_ms and event["time"] < from_ms) or (to_ms and event["time"] > to_ms))
