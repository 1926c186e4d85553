"""A small asyncio RESP2 client with a connection pool, for the Upstash REST bridge.

Why not redis-py: it strips the `ERR ` prefix from error replies, and Upstash keeps it (PROTOCOLS §1.9);
and redis-py 8 speaks RESP3 by default, whose doubles and maps the Upstash SDK cannot decode (§1.5).
This client never sends HELLO, so the server answers in RESP2, and it returns every reply as data:
bulk strings as `bytes`, status replies as `str`, errors as `RespError` values (never raised), so a
pipeline can carry one error per item exactly as Redis sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_CONNECT_TIMEOUT_SECONDS = 5.0
# asyncio's default 64 KiB cap on one line is too small for a MONITOR line that quotes a large value
# (bulk strings are read by length and never hit it). It is a cap, not an allocation.
_MAX_LINE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RespError:
    """An error reply, with Redis's own text including its prefix (`ERR `, `WRONGTYPE `, ...)."""

    message: str


RespValue = bytes | str | int | None | RespError | list["RespValue"]


class RedisUnavailable(Exception):
    """The Redis server cannot be reached, or the connection broke mid-reply."""


@dataclass(frozen=True)
class RedisAddress:
    """Where a Redis server listens, parsed from a `redis://` or `rediss://` URL."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: bool = False

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"not a redis:// or rediss:// URL: {url!r}")
        db_text = parts.path.strip("/")
        if db_text and not db_text.isdigit():
            raise ValueError(f"the database in a Redis URL must be a number, got {db_text!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            db=int(db_text or 0),
            tls=parts.scheme == "rediss",
        )

    def setup_commands(self) -> list[list[bytes]]:
        """The commands a fresh connection must run before use (AUTH, SELECT)."""
        commands: list[list[bytes]] = []
        if self.password is not None:
            auth = [b"AUTH", self.password.encode()]
            if self.username:
                auth.insert(1, self.username.encode())
            commands.append(auth)
        if self.db:
            commands.append([b"SELECT", str(self.db).encode()])
        return commands


def encode_command(args: Sequence[bytes]) -> bytes:
    """One command as a RESP2 array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def encode_reply(value: RespValue) -> bytes:
    """A parsed reply back to RESP2 bytes (for `Upstash-Response-Format: resp2`)."""
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, str):
        return b"+%s\r\n" % value.encode()
    if isinstance(value, RespError):
        return b"-%s\r\n" % value.message.encode()
    if isinstance(value, int):
        return b":%d\r\n" % value
    if value is None:
        return b"$-1\r\n"
    return b"*%d\r\n" % len(value) + b"".join(encode_reply(item) for item in value)


async def read_reply(reader: asyncio.StreamReader) -> RespValue:
    """Read one RESP2 reply."""
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        return (await reader.readexactly(length + 2))[:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"-":
        return RespError(rest.decode(errors="replace"))
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [await read_reply(reader) for _ in range(count)]
    raise RedisUnavailable(f"unexpected RESP2 reply type {kind!r} (is this a Redis server?)")


class RespConnection:
    """One TCP connection; requests are written in one go and their replies read in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, address: RedisAddress) -> RespConnection:
        ssl_context = ssl.create_default_context() if address.tls else None
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_SECONDS):
                reader, writer = await asyncio.open_connection(
                    address.host, address.port, ssl=ssl_context, limit=_MAX_LINE_BYTES
                )
        except (OSError, TimeoutError) as exc:
            raise RedisUnavailable(
                f"cannot connect to Redis at {address.host}:{address.port}: {exc}"
            ) from exc
        connection = cls(reader, writer)
        setup = address.setup_commands()
        if setup:
            for reply in await connection.execute_many(setup):
                if isinstance(reply, RespError):
                    await connection.close()
                    raise RedisUnavailable(f"Redis refused the connection setup: {reply.message}")
        return connection

    async def execute_many(self, commands: Sequence[Sequence[bytes]]) -> list[RespValue]:
        """Send all commands in one write (pipelining), then read one reply per command."""
        try:
            self.writer.write(b"".join(encode_command(args) for args in commands))
            await self.writer.drain()
            return [await read_reply(self.reader) for _ in commands]
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise RedisUnavailable(f"the Redis connection broke: {exc!r}") from exc

    def discard(self) -> None:
        """Close without waiting (safe inside a cancelled task)."""
        self.writer.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):  # the peer is already gone; the socket is closed either way
            await self.writer.wait_closed()


class RespPool:
    """At most `max_size` connections, opened on demand and reused; bound to one event loop.

    A connection whose request failed or was cancelled mid-reply is closed, never reused: its
    replies may still be in flight and would be read by the next borrower.
    """

    def __init__(self, address: RedisAddress, max_size: int = 16) -> None:
        self.address = address
        self._idle: list[RespConnection] = []
        self._slots = asyncio.Semaphore(max_size)

    async def execute(self, *args: bytes) -> RespValue:
        return (await self.execute_many([list(args)]))[0]

    async def execute_many(self, commands: Sequence[Sequence[bytes]]) -> list[RespValue]:
        """Run commands back to back on one connection (so MULTI ... EXEC stays together)."""
        async with self._slots:
            connection = self._idle.pop() if self._idle else await RespConnection.open(self.address)
            try:
                replies = await connection.execute_many(commands)
            except BaseException:
                connection.discard()
                raise
            self._idle.append(connection)
            return replies

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()
