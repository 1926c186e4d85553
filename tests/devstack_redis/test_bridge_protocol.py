"""The bridge's wire behaviour (PROTOCOLS §1.1–§1.7), checked with raw HTTP where the SDK hides it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.devstack_redis.conftest import MAX_BODY_BYTES, READONLY_TOKEN, TOKEN


@pytest.fixture(scope="module")
def http(bridge_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge_url) as client:
        yield client


def auth(token: str = TOKEN, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def command(http: httpx.Client, *args: Any, token: str = TOKEN, **headers: str) -> httpx.Response:
    return http.post("/", json=list(args), headers=auth(token, **headers))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_single_command_returns_result_and_redis_error_texts_keep_their_prefix(http: httpx.Client) -> None:
    assert command(http, "SET", "proto:s", "v").json() == {"result": "OK"}
    wrong_type = command(http, "LPUSH", "proto:s", "x")
    assert (wrong_type.status_code, wrong_type.json()) == (
        400,
        {"error": "WRONGTYPE Operation against a key holding the wrong kind of value"},
    )
    arity = command(http, "GET")
    assert arity.json() == {"error": "ERR wrong number of arguments for 'get' command"}


def test_json_numbers_and_booleans_reach_redis_as_written(http: httpx.Client, direct: redis.Redis) -> None:
    body = b'[["SET","proto:n1",1.50],["SET","proto:n2",1e3],["SET","proto:n3",-0],["SET","proto:b",true]]'
    response = http.post("/pipeline", content=body, headers=auth())
    assert response.json() == [{"result": "OK"}] * 4
    assert direct.mget("proto:n1", "proto:n2", "proto:n3", "proto:b") == ["1.50", "1e3", "-0", "true"]


def test_base64_encodes_every_string_except_the_ok_status(http: httpx.Client, direct: redis.Redis) -> None:
    direct.delete("proto:list")
    direct.rpush("proto:list", "héllo", "😀")
    encoded = {"Upstash-Encoding": "base64"}
    assert command(http, "SET", "proto:b64", "OK", **encoded).json() == {"result": "OK"}
    assert command(http, "GET", "proto:b64", **encoded).json() == {
        "result": b64("OK")
    }  # a value, not the status
    assert command(http, "PING", **encoded).json() == {"result": b64("PONG")}
    assert command(http, "LRANGE", "proto:list", 0, -1, **encoded).json() == {
        "result": [b64("héllo"), b64("😀")]
    }
    assert command(http, "LLEN", "proto:list", **encoded).json() == {"result": 2}
    assert command(http, "GET", "proto:nothing", **encoded).json() == {"result": None}
    assert command(http, "INCR", "proto:list", **encoded).json() == {
        "error": "WRONGTYPE Operation against a key holding the wrong kind of value"
    }
    assert command(http, "LRANGE", "proto:list", 0, -1).json() == {"result": ["héllo", "😀"]}


def test_invalid_utf8_is_replaced_without_base64_and_exact_with_it(
    http: httpx.Client, direct: redis.Redis
) -> None:
    raw = redis.Redis(connection_pool=direct.connection_pool)  # the pool decodes; set bytes directly
    raw.set("proto:bin", b"a\xffb")
    assert command(http, "GET", "proto:bin").json() == {"result": "a\ufffdb"}
    assert command(http, "GET", "proto:bin", **{"Upstash-Encoding": "base64"}).json() == {
        "result": base64.b64encode(b"a\xffb").decode()
    }


def test_sync_token_advances_on_writes_only(http: httpx.Client) -> None:
    def token_after(path: str, body: Any, request_token: str = "") -> int:
        response = http.post(path, json=body, headers=auth(**{"Upstash-Sync-Token": request_token}))
        assert response.status_code == 200, response.text
        return int(response.headers["Upstash-Sync-Token"])

    first = token_after("/", ["SET", "proto:sync", "1"])  # an empty request token is accepted
    after_read = token_after("/", ["GET", "proto:sync"], str(first))
    after_pipeline = token_after("/pipeline", [["GET", "proto:sync"], ["INCR", "proto:sync"]], str(first))
    after_transaction = token_after("/multi-exec", [["INCR", "proto:sync"]])
    after_script = token_after("/", ["EVAL", "return redis.call('INCR', KEYS[1])", 1, "proto:sync"])
    after_read_pipeline = token_after("/pipeline", [["GET", "proto:sync"]])
    assert after_read == first
    assert first < after_pipeline < after_transaction < after_script
    assert after_read_pipeline == after_script


def test_token_in_query_string(http: httpx.Client) -> None:
    assert http.post(f"/?_token={TOKEN}", json=["PING"]).json() == {"result": "PONG"}
    assert http.get(f"/ping?_token={TOKEN}").json() == {"result": "PONG"}
    assert http.post("/?_token=wrong", json=["PING"]).status_code == 401


def test_read_only_token_reads_but_cannot_write(http: httpx.Client) -> None:
    command(http, "SET", "proto:ro", "v")
    assert command(http, "GET", "proto:ro", token=READONLY_TOKEN).json() == {"result": "v"}
    refused = command(http, "SET", "proto:ro", "changed", token=READONLY_TOKEN)
    assert refused.status_code == 400
    assert refused.json() == {"error": "NOPERM this user has no permissions to run the 'set' command"}
    assert command(http, "SCAN", 0, token=READONLY_TOKEN).json()["error"].startswith("NOPERM")
    assert command(
        http, "EVAL_RO", "return redis.call('GET', KEYS[1])", 1, "proto:ro", token=READONLY_TOKEN
    ).json() == {"result": "v"}
    pipeline = http.post(
        "/pipeline", json=[["DEL", "proto:ro"], ["GET", "proto:ro"]], headers=auth(READONLY_TOKEN)
    )
    assert pipeline.json() == [
        {"error": "NOPERM this user has no permissions to run the 'del' command"},
        {"result": "v"},
    ]
    transaction = http.post(
        "/multi-exec", json=[["GET", "proto:ro"], ["DEL", "proto:ro"]], headers=auth(READONLY_TOKEN)
    )
    assert transaction.status_code == 400
    assert command(http, "GET", "proto:ro").json() == {"result": "v"}


def test_path_form(http: httpx.Client, direct: redis.Redis) -> None:
    headers = auth()
    assert http.get("/set/proto:path/hello/EX/100", headers=headers).json() == {"result": "OK"}
    assert http.get("/get/proto:path", headers=headers).json() == {"result": "hello"}
    assert 0 < http.get("/ttl/proto:path", headers=headers).json()["result"] <= 100
    # POST: the body is the value, and arguments after it come from the query string.
    posted = http.post("/set/proto:posted?EX=50&NX", content="body with spaces/and slashes", headers=headers)
    assert posted.json() == {"result": "OK"}
    assert direct.get("proto:posted") == "body with spaces/and slashes"
    assert 0 < direct.ttl("proto:posted") <= 50
    assert http.put("/set/proto:posted?NX", content="again", headers=headers).json() == {"result": None}
    # Percent-encoded segments are decoded one by one, so a key may contain "/".
    assert http.get("/set/proto%3Aa%2Fb/x%20y", headers=headers).json() == {"result": "OK"}
    assert direct.get("proto:a/b") == "x y"
    head = http.head("/get/proto:path", headers=headers)
    assert (head.status_code, head.content) == (200, b"")


def test_transaction_is_all_or_nothing_on_queueing_errors(http: httpx.Client, direct: redis.Redis) -> None:
    discarded = http.post("/multi-exec", json=[["SET", "proto:tx", "1"], ["NOSUCHCOMMAND"]], headers=auth())
    assert discarded.status_code == 400
    assert discarded.json()["error"].startswith("ERR unknown command")
    assert direct.exists("proto:tx") == 0
    # A runtime error inside EXEC fails only its own item, as in Redis.
    ran = http.post(
        "/multi-exec",
        json=[["SET", "proto:tx", "a"], ["INCR", "proto:tx"], ["GET", "proto:tx"]],
        headers=auth(),
    )
    assert ran.status_code == 200
    assert ran.json() == [
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
        {"result": "a"},
    ]


def test_resp2_response_format(http: httpx.Client) -> None:
    resp2 = {"Upstash-Response-Format": "resp2"}
    response = command(http, "SET", "proto:r", "v", **resp2)
    assert (response.headers["content-type"], response.content) == ("application/octet-stream", b"+OK\r\n")
    pipeline = http.post("/pipeline", json=[["GET", "proto:r"], ["STRLEN", "proto:r"]], headers=auth(**resp2))
    assert pipeline.content == b"$1\r\nv\r\n:1\r\n"
    both = command(http, "PING", **resp2, **{"Upstash-Encoding": "base64"})
    assert both.status_code == 400


BAD_REQUESTS = {
    "malformed json": ("POST", "/", b'["SET", "k"', auth(), 400, "ERR failed to parse"),
    "object body": ("POST", "/", b'{"cmd": "GET"}', auth(), 400, "ERR the command must be a JSON array"),
    "empty command": ("POST", "/", b"[]", auth(), 400, "ERR the command array is empty"),
    "null argument": ("POST", "/", b'["GET", null]', auth(), 400, "ERR command arguments must be"),
    "nested argument": ("POST", "/", b'["GET", ["k"]]', auth(), 400, "ERR command arguments must be"),
    "nan": ("POST", "/", b'["SET", "k", NaN]', auth(), 400, "ERR NaN is not a valid JSON number"),
    "not utf-8": ("POST", "/", b'["GET", "\xff"]', auth(), 400, "ERR failed to parse"),
    "flat pipeline": (
        "POST",
        "/pipeline",
        b'["GET", "k"]',
        auth(),
        400,
        "ERR the body must be a JSON array of",
    ),
    "missing token": ("POST", "/", b'["PING"]', {}, 401, "Unauthorized: send the token"),
    "wrong token": ("POST", "/", b'["PING"]', auth("nope"), 401, "Unauthorized: invalid token"),
    "wrong scheme": ("POST", "/", b'["PING"]', {"Authorization": f"Basic {TOKEN}"}, 401, "Unauthorized"),
    "unknown command": (
        "POST",
        "/",
        b'["NOSUCHCOMMAND", "x"]',
        auth(),
        400,
        "ERR unknown command `NOSUCHCOMMAND`",
    ),
    "blocking command": (
        "POST",
        "/",
        b'["BLPOP", "k", 0]',
        auth(),
        400,
        "ERR Command is not available: 'blpop'",
    ),
    "watch": ("POST", "/", b'["WATCH", "k"]', auth(), 400, "ERR Command is not available: 'watch'"),
    "blocking xread": (
        "POST",
        "/",
        b'["XREAD", "BLOCK", 0, "STREAMS", "s", "$"]',
        auth(),
        400,
        "ERR Command is not",
    ),
    "select": ("GET", "/select/1", b"", auth(), 400, "ERR Command is not available: 'select'"),
    "oversized body": (
        "POST",
        "/",
        b'["SET","k","' + b"x" * MAX_BODY_BYTES + b'"]',
        auth(),
        413,
        "ERR request body exceeds",
    ),
    "delete method": ("DELETE", "/", b"", auth(), 405, "Method DELETE not allowed"),
    "get pipeline": ("GET", "/pipeline", b"", auth(), 405, "Method GET not allowed"),
    "no command": ("GET", "/", b"", auth(), 400, "ERR no command"),
    "multipart": (
        "POST",
        "/",
        b'["PING"]',
        auth(**{"Content-Type": "multipart/form-data"}),
        415,
        "ERR unsupported content",
    ),
    "bad response format": (
        "POST",
        "/",
        b'["PING"]',
        auth(**{"Upstash-Response-Format": "xml"}),
        400,
        "ERR invalid Upstash",
    ),
}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "error"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_bad_requests_get_a_json_error(
    http: httpx.Client, method: str, path: str, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    response = http.request(method, path, content=body, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content)["error"].startswith(error)


def test_lenient_content_types_are_accepted(http: httpx.Client) -> None:
    # Upstash's own curl examples send JSON with curl's default form content type.
    for content_type in (
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json; charset=utf-8",
    ):
        response = http.post("/", content=b'["ECHO","x"]', headers=auth(**{"Content-Type": content_type}))
        assert response.json() == {"result": "x"}, content_type


def test_405_names_the_allowed_methods(http: httpx.Client) -> None:
    assert http.patch("/", headers=auth()).headers["allow"] == "GET, HEAD, POST, PUT"
