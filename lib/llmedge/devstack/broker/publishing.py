"""Turning a publish into a stored message: destination check, deduplication, delay, queue.

Used by the HTTP API (publish, enqueue, batch, DLQ retry) and by the delivery loop for callbacks, which
QStash also sends as messages of their own (docs `qstash/features/callbacks.mdx`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from llmedge.devstack.broker.errors import BadRequest
from llmedge.devstack.broker.events import EventLog
from llmedge.devstack.broker.headers import PublishOptions, is_http_url
from llmedge.devstack.broker.records import Message
from llmedge.devstack.broker.store import MessageStore, now_ms

DEFAULT_RETRIES = 3  # docs `qstash/features/retry.mdx` and the openapi


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(16)}"


class Publisher:
    """Stores messages and wakes the delivery loop."""

    def __init__(
        self,
        store: MessageStore,
        events: EventLog,
        *,
        time_scale: float,
        max_timeout_s: float,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._events = events
        self._time_scale = time_scale
        self._max_timeout_s = max_timeout_s
        self._wake = wake

    def build(
        self,
        destination: str,
        body: bytes,
        options: PublishOptions,
        *,
        queue: str | None,
        caller_ip: str | None,
    ) -> Message:
        """The message a publish asks for (not stored yet); BadRequest for a destination we cannot call."""
        if not destination:
            raise BadRequest("missing destination: publish to /v2/publish/<http(s) URL>")
        if not is_http_url(destination):
            raise BadRequest(
                f"destination {destination!r} is not an http(s) URL (URL groups are not supported here)"
            )
        created = now_ms()
        timeout = min(options.timeout_s or self._max_timeout_s, self._max_timeout_s)
        return Message(
            message_id=new_message_id(),
            url=destination,
            method=options.method,
            body_b64=base64.b64encode(body).decode("ascii"),
            content_type=options.content_type,
            headers=options.forward_headers,
            max_retries=DEFAULT_RETRIES if options.retries is None else options.retries,
            retry_delay=options.retry_delay,
            timeout_s=timeout,
            callback=options.callback,
            failure_callback=options.failure_callback,
            not_before_ms=self._first_attempt_ms(options, created),
            created_at_ms=created,
            queue=queue,
            flow_control=options.flow_control,
            label=options.label,
            caller_ip=caller_ip,
        )

    async def publish(self, message: Message, options: PublishOptions) -> tuple[dict[str, Any], int]:
        """Store `message` unless it duplicates one from the last 10 minutes: (response JSON, status)."""
        deduplication_id = options.deduplication_id
        if deduplication_id is None and options.content_based_deduplication:
            deduplication_id = content_deduplication_id(message)
        if deduplication_id is not None:
            existing = await self._store.claim_deduplication_id(deduplication_id, message.message_id)
            if existing is not None:
                # docs `qstash/features/deduplication.mdx`: accepted (202), not enqueued, the first id back.
                return {"messageId": existing, "deduplicated": True}, 202
        if message.queue is not None and await self._store.queue(message.queue) is None:
            await self._store.upsert_queue(message.queue)  # enqueue creates a missing queue (parallelism 1)
        await self.add(message)
        return {"messageId": message.message_id}, 200

    async def add(self, message: Message) -> None:
        """Store a message for delivery at its `not_before_ms` (or its turn in its queue)."""
        await self._store.add(message, message.not_before_ms)
        await self._events.record(message, "CREATED", nextDeliveryTime=message.not_before_ms)
        self._wake()

    def delay_ms(self, seconds: float) -> int:
        """A relative wait as the broker runs it: multiplied by the time scale."""
        return round(seconds * self._time_scale * 1000)

    def _first_attempt_ms(self, options: PublishOptions, created_ms: int) -> int:
        # Upstash-Not-Before is an absolute time and wins over Upstash-Delay (docs `delay.mdx`), so it is
        # never scaled; Upstash-Delay is relative and scaled like every other wait.
        if options.not_before_s is not None:
            return options.not_before_s * 1000
        return created_ms + self.delay_ms(options.delay_s)


def content_deduplication_id(message: Message) -> str:
    """docs `deduplication.mdx`: derived from destination, body, Content-Type and forwarded headers."""
    material = json.dumps(
        [message.queue, message.url, message.method, message.body_b64, message.content_type, message.headers],
        sort_keys=True,
    )
    return "content:" + hashlib.sha256(material.encode()).hexdigest()
