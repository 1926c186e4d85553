"""A pass-through proxy in front of the Upstash REST bridge that records every round trip it forwards.

Point a gateway's `UPSTASH_REDIS_REST_URL` at it to count the Redis round trips one request costs, and
which commands they carry, without touching the gateway; with `delay_s` it plays a distant or slow
Upstash (every round trip answered that much later, correctly). `llmedge bench gateway --rtt-ms N` runs
it in a child process (`python -m llmedge.devstack.rest_proxy TARGET DELAY_S`) to emulate network
round trips that loopback does not have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class RoundTrip:
    path: str  # "/", "/pipeline" or "/multi-exec"
    commands: tuple[str, ...]  # upper-case command names, in order
    first_args: tuple[str, ...]  # each command's first argument (the key, for most commands)


class CountingProxy:
    def __init__(self, target: str, *, delay_s: float = 0.0) -> None:
        self._target = target.rstrip("/")
        self._delay_s = delay_s
        self.round_trips: list[RoundTrip] = []
        self._client: httpx.AsyncClient | None = None
        self.app: Starlette = Starlette(
            routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT", "HEAD"])],
            lifespan=self._lifespan,
        )

    def since(self, mark: int) -> list[RoundTrip]:
        """The round trips recorded after `mark` (a former `len(proxy.round_trips)`)."""
        return self.round_trips[mark:]

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=30) as client:  # made in the serving thread's own loop
            self._client = client
            yield

    async def _forward(self, request: Request) -> Response:
        assert self._client is not None
        body = await request.body()
        self.round_trips.append(RoundTrip(request.url.path, *_commands(body)))
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        headers = {name: value for name, value in request.headers.items() if name not in _HOP_BY_HOP}
        upstream = await self._client.request(
            request.method, self._target + request.url.path, content=body, headers=headers
        )
        reply_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        reply_headers.pop("content-encoding", None)  # httpx has decoded the body already
        return Response(upstream.content, upstream.status_code, headers=reply_headers)


def _commands(body: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(command names, first arguments) of a single command or a pipeline/transaction body."""
    try:
        document = json.loads(body or b"[]")
    except ValueError:
        return (), ()
    commands = [c for c in (document if document and isinstance(document[0], list) else [document]) if c]
    names = tuple(str(command[0]).upper() for command in commands)
    return names, tuple(str(command[1]) if len(command) > 1 else "" for command in commands)


if __name__ == "__main__":
    import sys

    from llmedge.devstack.rest_background import serve_in_background

    with serve_in_background(CountingProxy(sys.argv[1], delay_s=float(sys.argv[2])).app) as served_url:
        print(served_url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
