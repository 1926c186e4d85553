"""The baseline llmedge is measured against: a cache written the way the common tutorials write it.

Synchronous Upstash client, a GET of the cached answer, then LREM + RPUSH on an "LRU list" on every hit
to keep recency: three serial round trips per hit, each blocking the event loop. Served by uvicorn in a
child process by `llmedge bench gateway`; never part of the product.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from upstash_redis import Redis

LRU_KEY = "naive:lru"


def cache_key(body: bytes) -> str:
    return "naive:" + hashlib.sha256(body).hexdigest()


def create_app(environ: Mapping[str, str] | None = None) -> Starlette:
    environ = os.environ if environ is None else environ
    redis = Redis(environ["UPSTASH_REDIS_REST_URL"], environ["UPSTASH_REDIS_REST_TOKEN"])

    async def generate(request: Request) -> JSONResponse:
        body = await request.body()
        key = cache_key(body)
        cached = redis.get(key)
        if cached is None:
            return JSONResponse({"status": "miss"}, status_code=404)
        redis.lrem(LRU_KEY, 0, key)
        redis.rpush(LRU_KEY, key)
        return JSONResponse({"status": "done", "result": json.loads(cached)})

    app = Starlette(routes=[Route("/api/generate", generate, methods=["POST"])])
    app.state.redis = redis
    return app
