"""The REST API's streaming endpoints as server-sent events (docs `redis/features/restapi.mdx`).

`POST /subscribe/{channel}[/{channel}...]` streams `data: subscribe,chat,1`, then one
`data: message,chat,hello` per published message; `POST /monitor` streams `data: "OK"`, then Redis's
own monitor lines (`data: 1700000000.123456 [0 127.0.0.1:50000] "GET" "k"`). Each stream has its own
Redis connection (a subscribed or monitoring connection can serve nothing else), closed when the client
goes away or the bridge closes. Payloads are sent as UTF-8 text; `Upstash-Encoding` does not apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.types import Receive, Send

from llmedge.devstack.resp import (
    RedisAddress,
    RedisUnavailable,
    RespConnection,
    RespValue,
    encode_command,
    read_reply,
)

logger = logging.getLogger(__name__)


def render_subscription(reply: RespValue) -> str:
    """`["message", "chat", "hello"]` → `message,chat,hello`, as Upstash writes pub/sub events."""
    items = reply if isinstance(reply, list) else [reply]
    return ",".join(item.decode(errors="replace") if isinstance(item, bytes) else str(item) for item in items)


def render_monitor(reply: RespValue) -> str:
    """The first reply is the OK status, which Upstash sends JSON-quoted; then Redis's monitor lines."""
    if reply == "OK":
        return '"OK"'
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _event(text: str) -> bytes:
    # One `data:` line per line of text: a bare newline would end the event early (SSE spec).
    return ("".join(f"data: {line}\n" for line in text.split("\n")) + "\n").encode()


class EventStreams:
    """Open streams, so that closing the bridge ends them."""

    def __init__(self, address: RedisAddress) -> None:
        self._address = address
        self._open: set[RespConnection] = set()

    async def stream(self, command: list[bytes], subscription: bool, receive: Receive, send: Send) -> None:
        """Run `command` on a dedicated connection and relay every reply as an event until either side
        closes. Raises RedisUnavailable before the response starts if Redis cannot be reached."""
        connection = await RespConnection.open(self._address)
        self._open.add(connection)
        render = render_subscription if subscription else render_monitor
        try:
            connection.writer.write(encode_command(command))
            headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            relay = asyncio.create_task(_relay(connection, render, send))
            disconnect = asyncio.create_task(_client_gone(receive))
            done, _ = await asyncio.wait({relay, disconnect}, return_when=asyncio.FIRST_COMPLETED)
            for task in (relay, disconnect):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if disconnect not in done:  # Redis or the bridge ended it: finish the response properly
                with contextlib.suppress(OSError):
                    await send({"type": "http.response.body", "body": b""})
        finally:
            self._open.discard(connection)
            connection.discard()

    def close_all(self) -> None:
        for connection in list(self._open):
            connection.discard()


async def _relay(connection: RespConnection, render: Callable[[RespValue], str], send: Send) -> None:
    try:
        while True:
            reply = await read_reply(connection.reader)
            await send({"type": "http.response.body", "body": _event(render(reply)), "more_body": True})
    except (RedisUnavailable, EOFError, OSError):
        pass  # Redis closed the connection (the bridge is closing) or the client stopped reading
    except Exception:  # the response has started: end the stream rather than attempt an error page
        logger.exception("an event stream of the REST bridge failed")


async def _client_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
