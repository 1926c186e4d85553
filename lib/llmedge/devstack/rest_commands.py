"""Turning REST requests into Redis argument lists, and deciding which commands a request may run.

Argument conversion (PROTOCOLS §1.3: the Python SDK sends str, int, float and bool as JSON scalars):
- strings are sent as their UTF-8 bytes;
- numbers are sent exactly as written in the JSON text (`1.50` stays `1.50`, `1e3` stays `1e3`), since
  how Upstash renders them is unconfirmed and Redis parses its own numbers;
- `true`/`false` become the strings `true`/`false` (the JSON text, by the same rule);
- `null`, arrays and objects are refused: the SDK `json.dumps`-es those into strings itself, so a raw
  one is a client bug that should fail loudly, not be stored as some guessed text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmedge.devstack.resp import RespError, RespValue


class RestError(Exception):
    """A request the bridge refuses; becomes `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _refuse_constant(name: str) -> Any:
    raise RestError(400, f"ERR {name} is not a valid JSON number for a Redis argument")


def _load_json(body: bytes) -> Any:
    try:
        # parse_int/parse_float receive the number's own text: keep it, so it reaches Redis unchanged.
        return json.loads(body, parse_int=str, parse_float=str, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RestError(400, f"ERR failed to parse the request body as JSON: {exc}") from None


def _argument(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, str):
        return value.encode()
    kind = (
        "null" if value is None else type(value).__name__.replace("dict", "object").replace("list", "array")
    )
    raise RestError(400, f"ERR command arguments must be strings, numbers or booleans, got {kind}")


def _command(value: Any) -> list[bytes]:
    if not isinstance(value, list):
        raise RestError(400, 'ERR the command must be a JSON array such as ["SET", "key", "value"]')
    if not value:
        raise RestError(400, "ERR the command array is empty")
    return [_argument(item) for item in value]


def parse_command(body: bytes) -> list[bytes]:
    """The body of `POST /`: one JSON array `["CMD", arg, ...]`."""
    return _command(_load_json(body))


def parse_commands(body: bytes) -> list[list[bytes]]:
    """The body of `/pipeline` and `/multi-exec`: a JSON array of command arrays."""
    value = _load_json(body)
    if not isinstance(value, list) or not all(isinstance(item, list) for item in value):
        raise RestError(400, 'ERR the body must be a JSON array of command arrays, e.g. [["INCR", "k"]]')
    return [_command(item) for item in value]


def path_command(segments: Sequence[bytes], query: Sequence[tuple[str, str]], body: bytes) -> list[bytes]:
    """The path form (docs `restapi.mdx`): `/set/k/v?EX=10`; a POST/PUT body is the value before the query.

    `POST /set/foo?EX=100` with body `bar` is `SET foo bar EX 100`. A query item without a value
    (`?NX`) is a single argument.
    """
    args = list(segments)
    if body:
        args.append(body)
    for name, value in query:
        args.append(name.encode())
        if value:
            args.append(value.encode())
    return args


# Docs `redis/features/restapi.mdx` "REST API limitations": no blocking commands, no WATCH/UNWATCH/
# DISCARD, and of the connection commands only PING and ECHO. Also refused: commands that would change
# the state of a pooled connection (SELECT, HELLO, CLIENT ...) or take it over (SUBSCRIBE, MONITOR ...;
# those have their own streaming endpoints), replication and server lifetime commands.
UNSUPPORTED = frozenset(
    [
        "BLPOP",
        "BRPOP",
        "BRPOPLPUSH",
        "BLMOVE",
        "BLMPOP",
        "BZPOPMIN",
        "BZPOPMAX",
        "BZMPOP",
        "WAIT",
        "WAITAOF",
        "WATCH",
        "UNWATCH",
        "MULTI",
        "EXEC",
        "DISCARD",
        "AUTH",
        "HELLO",
        "SELECT",
        "QUIT",
        "RESET",
        "CLIENT",
        "READONLY",
        "READWRITE",
        "ASKING",
        "SUBSCRIBE",
        "PSUBSCRIBE",
        "SSUBSCRIBE",
        "UNSUBSCRIBE",
        "PUNSUBSCRIBE",
        "SUNSUBSCRIBE",
        "MONITOR",
        "SYNC",
        "PSYNC",
        "REPLICAOF",
        "SLAVEOF",
        "FAILOVER",
        "CLUSTER",
        "SHUTDOWN",
        "DEBUG",
    ]
)
# Read-only tokens run read commands only, and not the heavy ones the docs name (SCAN, KEYS).
_READ_ONLY_ALSO_ALLOWED = frozenset({"PING", "ECHO", "EVAL_RO", "EVALSHA_RO"})
_READ_ONLY_REFUSED_READS = frozenset({"SCAN", "KEYS"})


@dataclass(frozen=True)
class CommandTable:
    """What the connected server says about its commands (`COMMAND`), and its major version."""

    flags: dict[str, frozenset[str]]
    server_major: int

    @classmethod
    def from_replies(cls, info: RespValue, command: RespValue) -> CommandTable:
        version = b"0"
        if isinstance(info, bytes):
            for line in info.splitlines():
                if line.startswith(b"redis_version:"):
                    version = line.split(b":", 1)[1]
        flags: dict[str, frozenset[str]] = {}
        for entry in command if isinstance(command, list) else []:
            if isinstance(entry, list) and isinstance(entry[0], bytes) and isinstance(entry[2], list):
                names = (flag for flag in entry[2] if isinstance(flag, str))
                flags[entry[0].decode().upper()] = frozenset(names)
        return cls(flags=flags, server_major=int(version.split(b".")[0]))

    def is_write(self, name: str) -> bool:
        """Whether the command may change data (scripts count: EVAL is flagged `may_replicate`)."""
        command_flags = self.flags.get(name, frozenset())
        return "write" in command_flags or "may_replicate" in command_flags

    def refusal(self, args: Sequence[bytes], name: str, read_only: bool) -> RespError | None:
        """Why this request may not run the command, in Redis's error style; None when it may."""
        if name in UNSUPPORTED or (name in ("XREAD", "XREADGROUP") and b"BLOCK" in (a.upper() for a in args)):
            return RespError(
                f"ERR Command is not available: '{name.lower()}'. Blocking, pub/sub, transaction "
                "control and connection commands are not supported by the REST API"
            )
        if read_only and name in self.flags and not self._read_only_may_run(name):
            return RespError(f"NOPERM this user has no permissions to run the '{name.lower()}' command")
        return None

    def _read_only_may_run(self, name: str) -> bool:
        if name in _READ_ONLY_ALSO_ALLOWED:
            return True
        return "readonly" in self.flags[name] and name not in _READ_ONLY_REFUSED_READS
