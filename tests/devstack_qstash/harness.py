"""Test parts: serve an ASGI app on a free loopback port, and destinations that record what QStash sends.

Servers run in the test's own event loop (uvicorn's `Server.serve` as a task), so broker, destinations
and the async SDK share one loop and nothing needs threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.waiting import wait_for


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` over HTTP on 127.0.0.1; yields its base URL (no trailing slash)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))

    async def started() -> bool:
        if task.done():
            task.result()  # raises what stopped it
        return server.started

    try:
        await wait_for(started, until=bool, timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        listener.close()


@dataclass(frozen=True)
class Received:
    """One request a destination got, as it got it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes

    @property
    def retried(self) -> int:
        return int(self.headers["upstash-retried"])


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class Destination:
    """An ASGI app that records every request and answers from a per-path script (then 200 "ok").

    `hold` (optional) is awaited before answering, with the path and the number of requests then in
    flight; tests use it to keep requests open. `max_in_flight` is the most requests it ever had open at once.
    """

    def __init__(self, hold: Callable[[str, int], Awaitable[None]] | None = None) -> None:
        self.received: list[Received] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._hold = hold
        self.in_flight = 0
        self.max_in_flight = 0

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to `path` with `replies`, in order."""
        self._scripts[path].extend(replies)

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def arrivals(self, path: str, count: int, within: float = 10.0) -> list[Received]:
        """Wait until `path` got at least `count` requests; returns them."""

        async def probe() -> list[Received]:
            return self.at(path)

        return await wait_for(probe, until=lambda got: len(got) >= count, timeout=within)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            headers[key] = f"{headers[key]}, {value.decode('latin-1')}" if key in headers else value.decode()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._hold is not None:
                await self._hold(scope["path"], self.in_flight)
        finally:
            self.in_flight -= 1
        self.received.append(
            Received(
                method=scope["method"],
                path=scope["path"],
                query=scope["query_string"].decode("latin-1"),
                headers=headers,
                body=b"".join(chunks),
            )
        )
        script = self._scripts[scope["path"]]
        reply = script.popleft() if script else Reply()
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})
