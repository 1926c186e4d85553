"""Lua scripts run by SHA, sent in full only when the server does not know them yet.

EVALSHA keeps requests small (plain EVAL, as upstash-ratelimit uses, sends the whole script on every
call). A server that has not seen a script (a fresh Upstash database, a restarted Redis) answers NOSCRIPT
once; the fallback EVAL then loads it, so the steady state is one round trip and the worst case two, once
per script per server.
"""

from __future__ import annotations

import hashlib
from typing import Any

from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError


class LuaScript:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def run(self, redis: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, keys, args)
        except UpstashError as error:
            if "NOSCRIPT" not in str(error):
                raise
        return await redis.eval(self.source, keys, args)
