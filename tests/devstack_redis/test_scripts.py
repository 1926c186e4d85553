"""Scripts with Upstash's `#!lua flags=allow-key-locking` line (PROTOCOLS §1.8) on a vanilla Redis."""

from __future__ import annotations

import hashlib

import pytest
from upstash_redis import Redis
from upstash_redis.errors import UpstashError

from llmedge.devstack.rest_scripts import rewrite_script

LOCKING = "#!lua flags=allow-key-locking\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])\n"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("server_major", "script", "expected"),
    [
        (6, b"#!lua flags=allow-key-locking\nreturn 1", b"\nreturn 1"),
        (6, b"#!lua\nreturn 1", b"\nreturn 1"),
        (7, b"#!lua flags=allow-key-locking\nreturn 1", b"#!lua\nreturn 1"),
        (7, b"#!lua flags=no-writes,allow-key-locking\nreturn 1", b"#!lua flags=no-writes\nreturn 1"),
        (
            7,
            b"#!lua name=x flags=allow-key-locking,allow-oom\nreturn 1",
            b"#!lua name=x flags=allow-oom\nreturn 1",
        ),
        (7, b"return 1 -- #!lua flags=allow-key-locking", b"return 1 -- #!lua flags=allow-key-locking"),
    ],
)
def test_rewrite_drops_only_what_the_server_cannot_parse(
    server_major: int, script: bytes, expected: bytes
) -> None:
    assert rewrite_script(script, server_major) == expected


def test_evalsha_with_the_sha_of_the_original_text_after_eval(upstash: Redis) -> None:
    assert upstash.eval(LOCKING, ["script:eval"], ["2"]) == 2
    assert upstash.evalsha(sha1(LOCKING), ["script:eval"], ["3"]) == 5
    assert upstash.script_exists(sha1(LOCKING), "0" * 40) == [True, False]


def test_script_load_answers_with_the_sha_of_the_original_text(upstash: Redis) -> None:
    script = LOCKING + "-- loaded\n"
    assert upstash.script_load(script) == sha1(script)
    assert upstash.evalsha(sha1(script), ["script:load"], ["7"]) == 7
    # Redis 6.2 has no EVALSHA_RO; the bridge runs it as EVALSHA there.
    read_only = "#!lua flags=no-writes,allow-key-locking\nreturn redis.call('GET', KEYS[1])\n"
    assert upstash.evalsha_ro(upstash.script_load(read_only), ["script:load"]) == "7"


def test_lua_errors_keep_their_line_numbers(upstash: Redis) -> None:
    with pytest.raises(UpstashError, match=r"user_script:3:"):
        upstash.eval("#!lua flags=allow-key-locking\nlocal x = 1\nreturn x + nil\n")


def test_unknown_sha_is_noscript_so_clients_can_fall_back_to_eval(upstash: Redis) -> None:
    with pytest.raises(UpstashError, match=r"^NOSCRIPT "):
        upstash.evalsha("f" * 40)
