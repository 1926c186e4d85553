"""The dead-letter queue (docs `qstash/features/dlq.mdx`; PROTOCOLS §3.5), in Redis.

Keys: `dlq` (sorted set dlqId → unix ms it failed) and `dlq:<dlqId>` (JSON `records.DeadLetter`).
DLQ ids look like Redis stream ids (`1725323658779-0`), as in the docs' examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from llmedge.devstack.broker.records import DeadLetter, DestinationResponse, Message
from llmedge.devstack.broker.store import now_ms

MAX_PAGE = 100  # openapi: count ≤ 100, default 100
_FILTERS = {"messageId", "url", "queueName", "label", "responseStatus"}


class DeadLetters:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._index = f"{prefix}dlq"

    def _key(self, dlq_id: str) -> str:
        return f"{self._prefix}dlq:{dlq_id}"

    async def add(self, message: Message, response: DestinationResponse) -> DeadLetter:
        failed_at = now_ms()
        sequence = await self._redis.incr(f"{self._prefix}dlq-sequence")
        letter = DeadLetter(
            dlq_id=f"{failed_at}-{sequence}", message=message, response=response, failed_at_ms=failed_at
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(letter.dlq_id), letter.model_dump_json())
            pipe.zadd(self._index, {letter.dlq_id: failed_at})
            await pipe.execute()
        return letter

    async def get(self, dlq_id: str) -> DeadLetter | None:
        raw = await self._redis.get(self._key(dlq_id))
        return None if raw is None else DeadLetter.model_validate_json(raw)

    async def delete(self, dlq_id: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(dlq_id))
            pipe.zrem(self._index, dlq_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def page(self, query: Mapping[str, str], *, cursor: int, count: int) -> dict[str, Any]:
        """Newest first; `cursor` is an offset into the matching entries."""
        matching: list[dict[str, Any]] = []
        from_ms = int(query.get("fromDate") or 0)
        to_ms = int(query.get("toDate") or 0)
        for dlq_id in await self._redis.zrevrange(self._index, 0, -1):
            letter = await self.get(str(dlq_id))
            if letter is None:
                continue
            view = letter.view()
            if any(name in query and str(view.get(name)) != query[name] for name in _FILTERS):
                continue
            if (from_ms and letter.failed_at_ms < from_ms) or (to_ms and letter.failed_at_ms > to_ms):
                continue
            matching.append(view)
        page: dict[str, Any] = {"messages": matching[cursor : cursor + count]}
        if cursor + count < len(matching):
            page["cursor"] = str(cursor + count)
        return page
