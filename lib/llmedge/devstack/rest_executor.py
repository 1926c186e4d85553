"""Runs REST command lists on Redis: policy checks, script rewriting, pipelines and MULTI/EXEC.

Connections are opened lazily, one pool per event loop: the bridge is mounted inside a Starlette app
whose lifespan events never reach mounted sub-apps, and tests may drive it from several loops.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from llmedge.devstack.resp import RedisAddress, RespError, RespPool, RespValue
from llmedge.devstack.rest_commands import CommandTable
from llmedge.devstack.rest_scripts import ScriptRewriter


@dataclass(frozen=True)
class _Prepared:
    original: list[bytes]  # as the client sent it
    name: str  # upper-case command name
    args: list[bytes]  # as Redis will receive it


@dataclass(frozen=True)
class Outcome:
    """Replies in request order (a transaction discarded as a whole is one RespError) and whether the
    request contained a command that may write (which advances the sync token)."""

    replies: list[RespValue] | RespError
    wrote: bool


class RedisExecutor:
    def __init__(self, redis_url: str, pool_size: int = 16) -> None:
        self._address = RedisAddress.from_url(redis_url)
        self._pool_size = pool_size
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RespPool] = (
            weakref.WeakKeyDictionary()
        )
        self._table: CommandTable | None = None
        self._scripts = ScriptRewriter()

    def _pool(self) -> RespPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = RespPool(self._address, self._pool_size)
        return pool

    async def _command_table(self) -> CommandTable:
        if self._table is None:  # concurrent first requests may both load it; the result is the same
            info, command = await self._pool().execute_many([[b"INFO", b"server"], [b"COMMAND"]])
            self._table = CommandTable.from_replies(info, command)
        return self._table

    async def _prepare(self, commands: list[list[bytes]], read_only: bool) -> list[_Prepared | RespError]:
        table = await self._command_table()
        prepared: list[_Prepared | RespError] = []
        for args in commands:
            name = args[0].decode(errors="replace").upper()
            refusal = table.refusal(args, name, read_only)
            if refusal is not None:
                prepared.append(refusal)
            else:
                prepared.append(_Prepared(args, name, self._scripts.rewrite(args, name, table.server_major)))
        return prepared

    def _wrote(self, prepared: list[_Prepared | RespError]) -> bool:
        assert self._table is not None  # _prepare loaded it
        return any(isinstance(p, _Prepared) and self._table.is_write(p.name) for p in prepared)

    async def pipeline(self, commands: list[list[bytes]], read_only: bool) -> Outcome:
        """Each command on its own (not atomic); refused commands get their error in place."""
        prepared = await self._prepare(commands, read_only)
        runnable = [p for p in prepared if isinstance(p, _Prepared)]
        replies = iter(await self._pool().execute_many([p.args for p in runnable]) if runnable else [])
        ordered: list[RespValue] = [
            p if isinstance(p, RespError) else self._scripts.client_reply(p.original, p.name, next(replies))
            for p in prepared
        ]
        return Outcome(ordered, self._wrote(prepared))

    async def transaction(self, commands: list[list[bytes]], read_only: bool) -> Outcome:
        """MULTI ... EXEC on one connection, so it is atomic; any refused or unqueueable command
        discards the whole transaction, as Redis does for errors found while queueing."""
        prepared = await self._prepare(commands, read_only)
        refused = [p for p in prepared if isinstance(p, RespError)]
        if refused:
            return Outcome(refused[0], wrote=False)
        runnable = [p for p in prepared if isinstance(p, _Prepared)]
        replies = await self._pool().execute_many([[b"MULTI"], *(p.args for p in runnable), [b"EXEC"]])
        queue_errors = [r for r in replies[1:-1] if isinstance(r, RespError)]
        executed = replies[-1]
        if queue_errors:
            # EXEC only says "EXECABORT Transaction discarded because of previous errors."; the first
            # queueing error tells the caller what was wrong, as Upstash's `{"error":"ERR ..."}` does.
            return Outcome(queue_errors[0], wrote=False)
        if isinstance(executed, RespError):
            return Outcome(executed, wrote=False)
        if not isinstance(executed, list):
            return Outcome(RespError("EXECABORT Transaction discarded"), wrote=False)
        ordered = [
            self._scripts.client_reply(p.original, p.name, r) for p, r in zip(runnable, executed, strict=True)
        ]
        return Outcome(ordered, self._wrote(prepared))

    async def aclose(self) -> None:
        """Close the connections of the current event loop (other loops' pools close with their loop)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()
