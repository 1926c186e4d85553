"""Serve an ASGI app with uvicorn on a free loopback port in a background thread.

For tests and benchmarks that need the bridge reachable over real HTTP (the official SDKs speak
httpx to a URL). Port 0 lets the OS pick the port, and the bound socket tells us which one: no race.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


@contextlib.contextmanager
def serve_in_background(app: ASGIApp, startup_timeout: float = 10.0) -> Iterator[str]:
    """Yield the base URL (`http://127.0.0.1:<port>`) while uvicorn serves `app`; stop it on exit."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-background", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start serving within {startup_timeout}s")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def served_in_child(module: str, *args: str) -> Iterator[str]:
    """Run `python -m module *args`, which serves something and prints its URL; yield that URL.

    A benchmark's client then does not share a GIL with the server it measures. Closing the child's
    stdin tells it to stop."""
    command = [sys.executable, "-m", module, *args]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        try:
            if not url.startswith("http://"):
                raise RuntimeError(f"`{module}` did not start serving (its error is printed above)")
            yield url
        finally:
            child.communicate(timeout=10)


def bridge_in_child(redis_url: str, token: str) -> contextlib.AbstractContextManager[str]:
    """The Upstash REST bridge in front of `redis_url`, served by a child process."""
    return served_in_child("llmedge.devstack.rest_background", redis_url, token)


if __name__ == "__main__":
    from llmedge.devstack.rest_bridge import UpstashBridge

    with serve_in_background(UpstashBridge(sys.argv[1], sys.argv[2]).app) as served_url:
        print(served_url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
