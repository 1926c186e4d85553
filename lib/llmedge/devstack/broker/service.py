"""`QStashBroker`: the parts of the broker wired together, with the actions that span several of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import httpx
from redis.asyncio import Redis

from llmedge.devstack.broker.dead_letters import DeadLetters
from llmedge.devstack.broker.delivery import DeliveryLoop
from llmedge.devstack.broker.errors import NotFound
from llmedge.devstack.broker.events import EventLog
from llmedge.devstack.broker.publishing import Publisher, new_message_id
from llmedge.devstack.broker.records import Message
from llmedge.devstack.broker.signing import SigningKeys
from llmedge.devstack.broker.store import MessageStore, now_ms

log = logging.getLogger("llmedge.devstack.broker")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # QStash's free plan: 1 MB per message (upstash.com/pricing/qstash)
DEFAULT_MAX_TIMEOUT_S = 15 * 60.0  # free plan's "Max HTTP Response Duration"; Upstash-Timeout only shortens


class QStashBroker:
    """A QStash-compatible broker: `app` is its HTTP API (ASGI), `start()`/`stop()` run its delivery loop.

    The app may be mounted (`Mount("/qstash", broker.app)`); Starlette runs no lifespan for mounted apps,
    so whoever hosts it calls `start()` and `stop()`. Everything lives in Redis under `key_prefix`, so a
    new broker on the same Redis resumes where a stopped one left off. Relative waits (retry backoff,
    `Upstash-Retry-Delay`, `Upstash-Delay`, `Retry-After`, flow-control periods) are multiplied by
    `time_scale`; absolute times (`Upstash-Not-Before`), HTTP timeouts and JWT lifetimes are not.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        token: str,
        current_signing_key: str,
        next_signing_key: str,
        time_scale: float = 1.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_timeout_s: float = DEFAULT_MAX_TIMEOUT_S,
        max_concurrency: int = 64,
        key_prefix: str = "qstash:",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.keys = SigningKeys(current_signing_key, next_signing_key)
        self.redis: Redis = Redis.from_url(redis_url, protocol=2, decode_responses=True)
        self.store = MessageStore(self.redis, key_prefix)
        self.events = EventLog(self.redis, key_prefix)
        self.dead_letters = DeadLetters(self.redis, key_prefix)
        self.publisher = Publisher(
            self.store, self.events, time_scale=time_scale, max_timeout_s=max_timeout_s, wake=self._wake
        )
        self.delivery = DeliveryLoop(
            self.store,
            self.dead_letters,
            self.events,
            self.publisher,
            self.keys,
            time_scale=time_scale,
            max_timeout_s=max_timeout_s,
            max_concurrency=max_concurrency,
            max_response_bytes=max_body_bytes,
        )
        self._given_http = http
        self._loop_task: asyncio.Task[None] | None = None

        from llmedge.devstack.broker.app import create_app  # the app needs this class: import late

        self.app = create_app(self)

    async def start(self) -> None:
        """Start delivering; messages another broker had claimed (in flight when it died) are due again."""
        if self._loop_task is not None:
            return
        self.delivery.http = self._given_http or httpx.AsyncClient(follow_redirects=False)
        released = await self.store.release_claims()
        if released:
            log.info("resuming %d message(s) that were in flight when the broker last stopped", released)
        self._loop_task = asyncio.create_task(self.delivery.run(), name="qstash-delivery-loop")

    async def stop(self) -> None:
        """Stop delivering; attempts in flight are abandoned and made again by the next `start()`."""
        task, self._loop_task = self._loop_task, None
        if task is not None:
            self.delivery.stop_soon()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.delivery.cancel_attempts()
        if self.delivery.http is not None and self._given_http is None:
            await self.delivery.http.aclose()
        self.delivery.http = None
        await self.redis.aclose()

    async def cancel(self, message_id: str) -> bool:
        """Cancel one message: a delayed or waiting message is never delivered; one in flight may be."""
        message = await self.store.load(message_id)
        if message is None:
            return False
        await self.events.record(message, "CANCEL_REQUESTED")
        removed = await self.store.remove(message)
        if removed:
            await self.events.record(message, "CANCELED")
        return removed

    async def cancel_where(self, message_ids: list[str] | None, filters: Mapping[str, str]) -> int:
        """Bulk cancel: the given ids, else every message matching `filters` (all when there are none)."""
        candidates = message_ids if message_ids is not None else await self.store.message_ids()
        cancelled = 0
        for message_id in candidates:
            message = await self.store.load(message_id)
            if message is not None and _matches(message, filters) and await self.cancel(message_id):
                cancelled += 1
        return cancelled

    async def retry_dead_letter(self, dlq_id: str) -> str:
        """Publish a dead-lettered message again, now, as a new message; the DLQ entry is removed."""
        letter = await self.dead_letters.get(dlq_id)
        if letter is None:
            raise NotFound(f"DLQ message {dlq_id} not found")
        now = now_ms()
        message = letter.message.model_copy(
            update={"message_id": new_message_id(), "retried": 0, "not_before_ms": now, "created_at_ms": now}
        )
        if message.queue is not None and await self.store.queue(message.queue) is None:
            await self.store.upsert_queue(message.queue)
        await self.publisher.add(message)
        await self.dead_letters.delete(dlq_id)
        return message.message_id

    async def delete_queue(self, name: str) -> None:
        for message_id in await self.store.delete_queue(name):
            await self.cancel(message_id)

    def _wake(self) -> None:
        self.delivery.wake()


def _matches(message: Message, filters: Mapping[str, str]) -> bool:
    fields = {
        "queueName": message.queue,
        "url": message.url,
        "label": message.label,
        "flowControlKey": message.flow_control.key if message.flow_control else None,
    }
    return all(fields.get(name) == value for name, value in filters.items() if name in fields)
