"""Messages and their schedule in Redis, so a broker restart loses nothing.

Keys (under the prefix, `qstash:` by default):
  msg:<id>            the message (JSON `records.Message`), from publish until delivered/cancelled/DLQ
  due                 sorted set: id → unix ms of its next attempt
  claimed             sorted set: id → unix ms it was taken by the running delivery loop (in flight, or
                      waiting for its flow-control key). `start()` puts every claim back into `due`: a
                      delivery that was in progress when the broker died is made again (at-least-once).
  queue:<name>        list: ids waiting in a queue, FIFO; queue:<name>:active  set: ids dispatched from it
  queues              hash: queue name → JSON settings
  dedup:<id>          message id of the first publish with that deduplication id; expires after 10 min
One broker process per prefix: the claim is not a lease that a second broker could take over.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis

from llmedge.devstack.broker.records import Message

DEDUPLICATION_WINDOW_S = 600  # docs `qstash/features/deduplication.mdx`: 10 minutes

# Take the due ids (score <= now) into `claimed` in one step, and report when the next one falls due.
_CLAIM_DUE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[1], id)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {ids, nxt[2] or false}
"""

_RELEASE_CLAIMS = """
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[1], id)
end
redis.call('DEL', KEYS[2])
return #ids
"""

# A retry is scheduled only if the message still exists: a cancel during the attempt wins.
_RESCHEDULE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# Move queue heads into `due` while the queue has free slots (its parallelism).
_DISPATCH_QUEUE = """
local moved = 0
while redis.call('SCARD', KEYS[2]) < tonumber(ARGV[1]) do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  redis.call('SADD', KEYS[2], id)
  redis.call('ZADD', KEYS[3], ARGV[2], id)
  moved = moved + 1
end
return moved
"""


def now_ms() -> int:
    return int(time.time() * 1000)


class MessageStore:
    """Messages, the due schedule, claims, queues and deduplication ids."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._due = f"{prefix}due"
        self._claimed = f"{prefix}claimed"
        self._queues = f"{prefix}queues"
        self._claim_due = redis.register_script(_CLAIM_DUE)
        self._release_claims = redis.register_script(_RELEASE_CLAIMS)
        self._reschedule = redis.register_script(_RESCHEDULE)
        self._dispatch_queue = redis.register_script(_DISPATCH_QUEUE)

    def _message_key(self, message_id: str) -> str:
        return f"{self._prefix}msg:{message_id}"

    def _queue_keys(self, queue: str) -> tuple[str, str]:
        return f"{self._prefix}queue:{queue}", f"{self._prefix}queue:{queue}:active"

    async def claim_deduplication_id(self, deduplication_id: str, message_id: str) -> str | None:
        """None if `deduplication_id` is new (now taken by `message_id`), else the first message's id."""
        key = f"{self._prefix}dedup:{deduplication_id}"
        if await self._redis.set(key, message_id, nx=True, ex=DEDUPLICATION_WINDOW_S):
            return None
        existing = await self._redis.get(key)
        return str(existing) if existing is not None else message_id

    async def add(self, message: Message, due_ms: int) -> None:
        """Store a new message: due at `due_ms`, or at the back of its queue."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._message_key(message.message_id), message.model_dump_json())
            if message.queue is None:
                pipe.zadd(self._due, {message.message_id: due_ms})
            else:
                waiting, _ = self._queue_keys(message.queue)
                pipe.rpush(waiting, message.message_id)
            await pipe.execute()

    async def load(self, message_id: str) -> Message | None:
        raw = await self._redis.get(self._message_key(message_id))
        return None if raw is None else Message.model_validate_json(raw)

    async def claim_due(self, limit: int) -> tuple[list[str], int | None]:
        """Claim up to `limit` due messages; also returns when the next unclaimed one falls due (ms)."""
        ids, next_due = await self._claim_due(keys=[self._due, self._claimed], args=[now_ms(), limit])
        return list(ids), None if next_due is None else int(float(next_due))

    async def release_claims(self) -> int:
        """Make every claimed message due now (at startup: the previous broker's claims are void)."""
        return int(await self._release_claims(keys=[self._due, self._claimed], args=[now_ms()]))

    async def unclaim(self, message_id: str) -> None:
        await self._redis.zrem(self._claimed, message_id)

    async def reschedule(self, message: Message, due_ms: int) -> bool:
        """Save `message` and make it due at `due_ms`; False if it was cancelled meanwhile."""
        keys = [self._message_key(message.message_id), self._due, self._claimed]
        args: list[str | int] = [message.model_dump_json(), due_ms, message.message_id]
        return bool(await self._reschedule(keys=keys, args=args))

    async def requeue(self, message_id: str, due_ms: int) -> None:
        """Give up a claim: the message (if it still exists) is due again at `due_ms`."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self._claimed, message_id)
            pipe.exists(self._message_key(message_id))
            _, exists = await pipe.execute()
        if exists:
            await self._redis.zadd(self._due, {message_id: due_ms})

    async def remove(self, message: Message) -> bool:
        """Forget a message (delivered, dead-lettered or cancelled); False if it was already gone."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._message_key(message.message_id))
            pipe.zrem(self._due, message.message_id)
            pipe.zrem(self._claimed, message.message_id)
            if message.queue is not None:
                waiting, active = self._queue_keys(message.queue)
                pipe.lrem(waiting, 0, message.message_id)
                pipe.srem(active, message.message_id)
            deleted, *_ = await pipe.execute()
        return bool(deleted)

    async def message_ids(self) -> list[str]:
        """Every message not yet finished (due, claimed or waiting in a queue)."""
        ids = {str(id_) for id_ in await self._redis.zrange(self._due, 0, -1)}
        ids.update(str(id_) for id_ in await self._redis.zrange(self._claimed, 0, -1))
        for queue in await self.queue_names():
            waiting, _ = self._queue_keys(queue)
            ids.update(str(id_) for id_ in await self._redis.lrange(waiting, 0, -1))
        return sorted(ids)

    # Queues (docs `qstash/features/queues.mdx`): FIFO, `parallelism` messages at a time, each holding its
    # slot through its retries until it is delivered or dead-lettered.

    async def upsert_queue(
        self, name: str, *, parallelism: int | None = None, paused: bool | None = None
    ) -> None:
        current = await self.queue(name)
        now = now_ms()
        settings = current or {"name": name, "parallelism": 1, "paused": False, "createdAt": now}
        if parallelism is not None:
            settings["parallelism"] = parallelism
        if paused is not None:
            settings["paused"] = paused
        settings["updatedAt"] = now
        await self._redis.hset(self._queues, name, json.dumps(settings))

    async def queue(self, name: str) -> dict[str, Any] | None:
        raw = await self._redis.hget(self._queues, name)
        if raw is None:
            return None
        settings: dict[str, Any] = json.loads(raw)
        waiting, _ = self._queue_keys(name)
        settings["lag"] = int(await self._redis.llen(waiting))
        return settings

    async def queue_names(self) -> list[str]:
        return sorted(str(name) for name in await self._redis.hkeys(self._queues))

    async def delete_queue(self, name: str) -> list[str]:
        """Remove a queue; returns the ids still waiting in it (the caller cancels them)."""
        waiting, _ = self._queue_keys(name)
        ids = [str(id_) for id_ in await self._redis.lrange(waiting, 0, -1)]
        await self._redis.hdel(self._queues, name)
        return ids

    async def dispatch_queues(self) -> int:
        """Move the heads of every unpaused queue into `due`, up to each queue's parallelism."""
        moved = 0
        for name in await self.queue_names():
            settings = await self.queue(name)
            if settings is None or settings["paused"]:
                continue
            waiting, active = self._queue_keys(name)
            keys = [waiting, active, self._due]
            moved += int(await self._dispatch_queue(keys=keys, args=[settings["parallelism"], now_ms()]))
        return moved
