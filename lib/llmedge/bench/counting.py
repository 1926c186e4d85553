"""httpx transports that count the Upstash REST requests and commands passing through them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

_STATS_COMMANDS = frozenset({"HSETNX", "HINCRBY"})


@dataclass
class UpstashTally:
    """Round trips and commands on the critical path; the stats recorder's after-the-response pipelines
    (HSETNX/HINCRBY on the stats hash) are counted apart, as `background`."""

    requests: int = 0
    commands: int = 0
    background: int = 0

    def add(self, request: httpx.Request) -> None:
        if "/redis" not in request.url.path:
            return
        body = json.loads(request.content or b"[]")
        commands = body if body and isinstance(body[0], list) else [body]
        if all(str(command[0]).upper() in _STATS_COMMANDS for command in commands):
            self.background += 1
            return
        self.requests += 1
        # A pipeline or transaction is a list of commands; Upstash bills each one.
        self.commands += len(commands)

    def reset(self) -> tuple[int, int]:
        counted = (self.requests, self.commands)
        self.requests = self.commands = self.background = 0
        return counted


class CountingAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, tally: UpstashTally) -> None:
        self.tally = tally
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.tally.add(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountingTransport(httpx.BaseTransport):
    def __init__(self, tally: UpstashTally) -> None:
        self.tally = tally
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.tally.add(request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
