"""The Lua scripts of the limits, run by SHA with a fallback to the full text.

EVALSHA keeps the request small (the admission script is a few KB, sent on every request by plain EVAL,
which is what upstash-ratelimit does). A server that has not seen the script yet (a fresh Upstash
database, a restarted Redis) answers NOSCRIPT once; the fallback EVAL then loads it, so the steady state
is one round trip and the worst case two, once per script per server.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from upstash_redis.asyncio import Redis
from upstash_redis.errors import UpstashError

_PRELUDE = "token_bucket.lua"


def script_text(name: str) -> str:
    """`name` (a .lua file of this package) with the shared token-bucket functions prepended."""
    package = resources.files("llmedge.limits")
    return package.joinpath(_PRELUDE).read_text() + "\n" + package.joinpath(name).read_text()


class Script:
    def __init__(self, redis: Redis, text: str) -> None:
        self._redis = redis
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def __call__(self, keys: list[str], args: list[str]) -> object:
        try:
            return await self._redis.evalsha(self.sha, keys, args)
        except UpstashError as error:
            if "NOSCRIPT" not in str(error):
                raise
        return await self._redis.eval(self.text, keys, args)
