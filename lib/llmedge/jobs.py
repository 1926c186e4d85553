"""Job records in Redis: single-flight creation, idempotent state transitions, polling reads.

A job is a Redis hash `llmedge:job:<id>`. The model's answer is kept as the raw JSON text it arrived as,
never decoded and re-encoded inside Lua (cjson would turn `[]` into `{}` and round floats). Every write is
one Lua script, so concurrent submitters and duplicate or out-of-order QStash callbacks cannot interleave:

- `create_or_join`: identical requests in flight share one job. A lease key names the running job. A job
  whose publisher crashed (or timed out) before QStash took it is never marked published; after a short
  grace period a new identical request takes the key over instead of joining a job that will never run.
- `transition`: applies a callback at most once per QStash message id; `done` and `failed` are final; a
  late "retrying" callback never overwrites a newer attempt. The exact-cache fill and the lease release
  happen in the same script as the transition to `done`, so they cannot be lost between two round trips.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal

from msgspec import Struct, field
from upstash_redis.asyncio import Redis

from llmedge.luascript import LuaScript

JobStatus = Literal["pending", "retrying", "done", "failed"]
TERMINAL: frozenset[str] = frozenset({"done", "failed"})
# How long a created job may wait for its publish before identical requests stop joining it.
PUBLISH_GRACE_SECONDS = 15

_CREATE_OR_JOIN = LuaScript("""
local lease, job = KEYS[1], KEYS[2]
local job_id, caller, lease_ttl, job_ttl, take_over = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if take_over == '0' then
  local running = redis.call('GET', lease)
  if running then
    local running_key = ARGV[6] .. running
    local state = redis.call('HMGET', running_key, 'status', 'message_id', 'created_at')
    local status, published = state[1], state[2]
    -- A job never published within the grace period lost its publisher: take it over, don't join it.
    local alive = published or (tonumber(ARGV[7]) - tonumber(state[3] or 0) < tonumber(ARGV[9]))
    if (status == 'pending' or status == 'retrying') and alive then
      local callers = redis.call('HGET', running_key, 'callers')
      if not string.find('\\n' .. callers .. '\\n', '\\n' .. caller .. '\\n', 1, true) then
        redis.call('HSET', running_key, 'callers', callers .. '\\n' .. caller)
      end
      return {'joined', running}
    end
  end
end
redis.call('SET', lease, job_id, 'EX', lease_ttl)
redis.call('HSET', job, 'status', 'pending', 'callers', caller, 'attempts', 0, 'version', 1,
  'created_at', ARGV[7], 'updated_at', ARGV[7], 'lease_key', lease, 'plan', ARGV[8])
redis.call('EXPIRE', job, job_ttl)
return {'created', job_id}
""")

_TRANSITION = LuaScript("""
local job = KEYS[1]
local message_id, status, attempts, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', job) == 0 then return 'missing' end
if redis.call('HSETNX', job, 'seen:' .. message_id, 1) == 0 then return 'duplicate' end
local current = redis.call('HGET', job, 'status')
if current == 'done' or current == 'failed' then return 'final' end
if status == 'retrying' and attempts <= tonumber(redis.call('HGET', job, 'attempts')) then return 'stale' end
redis.call('HSET', job, 'status', status, 'attempts', attempts, 'updated_at', now)
if ARGV[5] ~= '' then redis.call('HSET', job, 'result', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', job, 'error', ARGV[6]) end
redis.call('HINCRBY', job, 'version', 1)
if status == 'done' or status == 'failed' then
  local lease = redis.call('HGET', job, 'lease_key')
  if lease and redis.call('GET', lease) == string.sub(job, string.len(ARGV[9]) + 1) then
    redis.call('DEL', lease)
  end
end
if status == 'done' and ARGV[7] ~= '' then
  redis.call('SET', KEYS[2], ARGV[7], 'EX', ARGV[8])
end
return 'applied'
""")

_DISCARD = LuaScript("""
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
""")


def new_job_id() -> str:
    """128 random bits: a job id is also the capability to poll, so it must not be guessable."""
    return "job_" + secrets.token_urlsafe(16)


class Job(Struct):
    id: str
    status: JobStatus
    callers: list[str]
    attempts: int
    created_at: int
    updated_at: int
    version: int
    plan: dict[str, Any]
    result: str | None = None
    error: dict[str, Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.id[-8:]}-{self.version}"'


class CacheFill(Struct, frozen=True):
    key: str
    value: str
    ttl: int


class JobStore:
    def __init__(self, redis: Redis, *, prefix: str = "llmedge:job:") -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, job_id: str) -> str:
        return self._prefix + job_id

    async def create_or_join(
        self,
        *,
        job_id: str,
        lease_key: str,
        caller_id: str,
        plan: dict[str, Any],
        lease_ttl: int,
        job_ttl: int,
        now_ms: int,
        take_over: bool = False,
    ) -> tuple[str, bool]:
        """Returns (the job id to poll, whether this call created it)."""
        outcome, running_id = await _CREATE_OR_JOIN.run(
            self._redis,
            keys=[lease_key, self.key(job_id)],
            args=[
                job_id,
                caller_id,
                str(lease_ttl),
                str(job_ttl),
                "1" if take_over else "0",
                self._prefix,
                str(now_ms),
                json.dumps(plan, separators=(",", ":")),
                str(int(PUBLISH_GRACE_SECONDS * 1000)),
            ],
        )
        return str(running_id), outcome == "created"

    async def mark_published(self, job_id: str, message_id: str) -> None:
        """Record QStash's message id: from now on identical requests may join this job."""
        await self._redis.hset(self.key(job_id), "message_id", message_id)

    async def discard(self, job_id: str, lease_key: str) -> None:
        """Undo a creation whose publish failed, so no job is left pending forever."""
        await _DISCARD.run(self._redis, keys=[lease_key, self.key(job_id)], args=[job_id])

    async def set_field(self, job_id: str, name: str, value: str) -> None:
        await self._redis.hset(self.key(job_id), name, value)

    async def get(self, job_id: str) -> Job | None:
        fields = await self._redis.hgetall(self.key(job_id))
        if not fields or "status" not in fields:
            return None
        return _job_from_fields(job_id, fields)

    async def transition(
        self,
        job_id: str,
        *,
        message_id: str,
        status: JobStatus,
        attempts: int,
        now_ms: int,
        result: str | None = None,
        error: dict[str, Any] | None = None,
        cache_fill: CacheFill | None = None,
    ) -> str:
        """Apply one callback; returns applied | duplicate | final | stale | missing."""
        keys = [self.key(job_id), cache_fill.key if cache_fill else self.key(job_id)]
        outcome = await _TRANSITION.run(
            self._redis,
            keys=keys,
            args=[
                message_id,
                status,
                str(attempts),
                str(now_ms),
                result or "",
                json.dumps(error) if error else "",
                cache_fill.value if cache_fill else "",
                str(cache_fill.ttl if cache_fill else 0),
                self._prefix,
            ],
        )
        return str(outcome)


def _job_from_fields(job_id: str, fields: dict[str, str]) -> Job:
    known = {
        "status",
        "callers",
        "attempts",
        "created_at",
        "updated_at",
        "version",
        "plan",
        "result",
        "error",
    }
    return Job(
        id=job_id,
        status=fields["status"],  # type: ignore[arg-type]
        callers=fields.get("callers", "").split("\n"),
        attempts=int(fields.get("attempts", 0)),
        created_at=int(fields.get("created_at", 0)),
        updated_at=int(fields.get("updated_at", 0)),
        version=int(fields.get("version", 0)),
        plan=json.loads(fields.get("plan") or "{}"),
        result=fields.get("result"),
        error=json.loads(fields["error"]) if fields.get("error") else None,
        extra={k: v for k, v in fields.items() if k not in known and not k.startswith("seen:")},
    )
