"""Command families run once through the official Upstash SDK (over the bridge) and once through redis-py
(straight to the same server); the tests assert both give the same answers.

A family is data: calls by method name, so the same plan drives the sync SDK, the asyncio SDK and
redis-py. Keys are `Key` placeholders given a per-run prefix, so the runs do not see each other's data;
the prefix is removed from results (SCAN, EVAL return key names) before comparing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Call:
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    direct: Call | None = None  # redis-py's spelling, where it differs from the SDK's
    unordered: bool = False  # the reply is a set: compare sorted
    norm: Callable[[Any], Any] | None = None  # e.g. a TTL that may tick between the two runs


def call(
    method: str,
    *args: Any,
    _direct: Call | None = None,
    _unordered: bool = False,
    _norm: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Call:
    return Call(method, args, kwargs, direct=_direct, unordered=_unordered, norm=_norm)


def ttl_within(limit: int) -> Callable[[Any], Any]:
    return lambda value: 0 < value <= limit


@dataclass(frozen=True)
class Batch:
    calls: tuple[Call, ...]
    transaction: bool


@dataclass(frozen=True)
class Family:
    name: str
    steps: tuple[Call | Batch, ...]


EVAL_ECHO = "return {KEYS[1], ARGV[1], 3, false}"
EVAL_WRITE = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"
EVAL_WRITE_SHA = hashlib.sha1(EVAL_WRITE.encode()).hexdigest()

FAMILIES = (
    Family("strings", (
        call("set", Key("a"), "value"),
        call("get", Key("a")),
        call("append", Key("a"), "-more"),
        call("strlen", Key("a")),
        call("getrange", Key("a"), 0, 4),
        call("setrange", Key("a"), 0, "V"),
        call("get", Key("a")),
        # A refused SET NX replies nil: the SDK formats that as False, redis-py as None.
        call("set", Key("a"), "ignored", nx=True, _norm=bool),
        call("set", Key("a"), "newer", get=True),
        call("set", Key("empty"), ""),
        call("get", Key("empty")),
        call("strlen", Key("empty")),
        call("get", Key("missing")),
        call("mset", {Key("m1"): "one", Key("m2"): "two"}),
        call("mget", Key("m1"), Key("m2"), Key("missing")),
        call("setnx", Key("fresh"), "x"),
        call("getdel", Key("fresh")),
        call("exists", Key("a"), Key("fresh")),
        call("set", Key("float"), 1.25),  # the SDK sends a JSON number; the bridge keeps its text
        call("get", Key("float")),
        call("set", Key("big"), 12345678901234567890),
        call("get", Key("big")),
    )),
    Family("counters", (
        call("incr", Key("c")),
        call("incrby", Key("c"), 5),
        call("decr", Key("c")),
        call("decrby", Key("c"), 2),
        call("get", Key("c")),
        call("incrbyfloat", Key("f"), 1.5),
        call("incrbyfloat", Key("f"), 0.25),
        call("incrbyfloat", Key("f"), -3),
        call("get", Key("f")),
    )),
    Family("unicode", (
        call("set", Key("emoji"), "😀🎉 party"),
        call("get", Key("emoji")),
        call("set", Key("cjk"), "漢字かな한국어"),
        call("get", Key("cjk")),
        call("strlen", Key("cjk")),  # bytes, not characters
        call("append", Key("cjk"), "…"),
        call("get", Key("cjk")),
        call("set", Key("ключ-😀"), "значение"),
        call("get", Key("ключ-😀")),
        call("hset", Key("h"), "поле", "値"),
        call("hgetall", Key("h")),
        call("sadd", Key("s"), "α", "β", "😀"),
        call("smembers", Key("s"), _unordered=True),
        call("zadd", Key("z"), {"頂点": 2.5}),
        call("zscore", Key("z"), "頂点"),
    )),
    Family("hashes", (
        call("hset", Key("h"), "f1", "v1"),
        call("hset", Key("h"), values={"f2": "v2", "n": "1"}, _direct=call("hset", Key("h"), mapping={"f2": "v2", "n": "1"})),
        call("hget", Key("h"), "f1"),
        call("hget", Key("h"), "nope"),
        call("hmget", Key("h"), "f1", "f2", "nope"),
        call("hgetall", Key("h")),
        call("hgetall", Key("missing")),
        call("hincrby", Key("h"), "n", 3),
        call("hincrbyfloat", Key("h"), "x", 2.5),
        call("hlen", Key("h")),
        call("hkeys", Key("h")),
        call("hvals", Key("h")),
        call("hexists", Key("h"), "f1"),
        call("hdel", Key("h"), "f1"),
        call("hexists", Key("h"), "f1"),
        call("hsetnx", Key("h"), "f2", "again"),
        call("hstrlen", Key("h"), "f2"),
        call("hgetall", Key("h")),
    )),
    Family("lists", (
        call("rpush", Key("l"), "a", "b", "c", "b"),
        call("lpush", Key("l"), "z"),
        call("lrange", Key("l"), 0, -1),
        call("llen", Key("l")),
        call("lindex", Key("l"), 1),
        call("lset", Key("l"), 0, "Z"),
        call("lrem", Key("l"), 1, "b"),
        call("linsert", Key("l"), "BEFORE", "c", "before-c"),
        call("lpos", Key("l"), "c"),
        call("lrange", Key("l"), 0, -1),
        call("lpop", Key("l")),
        call("rpop", Key("l")),
        call("lpop", Key("l"), 2),
        call("ltrim", Key("l"), 0, 0, _norm=lambda reply: reply in (True, "OK")),  # SDK: "OK"; redis-py: True
        call("lrange", Key("l"), 0, -1),
        call("lpop", Key("missing")),
    )),
    Family("sets", (
        call("sadd", Key("s"), "a", "b", "c"),
        call("sadd", Key("s"), "a"),
        call("smembers", Key("s"), _unordered=True),
        call("sismember", Key("s"), "a"),
        call("sismember", Key("s"), "nope"),
        call("scard", Key("s")),
        call("srem", Key("s"), "b"),
        call("sadd", Key("t"), "c", "d"),
        call("sinter", Key("s"), Key("t"), _unordered=True),
        call("sunion", Key("s"), Key("t"), _unordered=True),
        call("sdiff", Key("s"), Key("t"), _unordered=True),
        call("smembers", Key("missing")),
    )),
    Family("sorted_sets", (
        call("zadd", Key("z"), {"a": 1, "b": 2.5, "c": -1}),
        call("zscore", Key("z"), "b"),
        call("zscore", Key("z"), "nope"),
        call("zrange", Key("z"), 0, -1),
        call("zrange", Key("z"), 0, -1, withscores=True),
        call("zincrby", Key("z"), 1.5, "a"),
        call("zrank", Key("z"), "a"),
        call("zcard", Key("z")),
        call("zcount", Key("z"), 0, 10),
        call("zrem", Key("z"), "c"),
        call("zpopmin", Key("z")),
        call("zrange", Key("z"), 0, -1, withscores=True),
    )),
    Family("ttls", (
        call("set", Key("t"), "v", ex=100),
        Call("ttl", (Key("t"),), norm=ttl_within(100)),
        Call("pttl", (Key("t"),), norm=ttl_within(100_000)),
        call("expire", Key("t"), 50),
        Call("ttl", (Key("t"),), norm=ttl_within(50)),
        call("persist", Key("t")),
        call("ttl", Key("t")),
        call("ttl", Key("missing")),
        call("pttl", Key("missing")),
        call("expire", Key("missing"), 10),
        call("set", Key("t2"), "v", px=30_000),
        call("pexpire", Key("t2"), 5000),
        Call("pttl", (Key("t2"),), norm=ttl_within(5000)),
    )),
    Family("scan", (
        call("mset", {Key("scan:1"): "1", Key("scan:2"): "2", Key("scan:3"): "3"}),
        call("hset", Key("scan-h"), values={"x": "1", "y": "2"}, _direct=call("hset", Key("scan-h"), mapping={"x": "1", "y": "2"})),
        # One page over a small keyspace: the cursor comes back 0 and every match is in it.
        Call("scan", (0,), {"match": Key("scan:*"), "count": 100_000}, norm=lambda page: (page[0], sorted(page[1]))),
        call("hscan", Key("scan-h"), 0),
    )),
    Family("pipeline", (
        Batch((
            call("set", Key("p"), 1),
            call("incr", Key("p")),
            call("get", Key("p")),
            call("hgetall", Key("missing")),
            call("zadd", Key("pz"), {"m": 2}),
            call("zscore", Key("pz"), "m"),
        ), transaction=False),
        call("get", Key("p")),
    )),
    Family("transaction", (
        Batch((
            call("set", Key("x"), "a"),
            call("append", Key("x"), "b"),
            call("incrbyfloat", Key("f"), 0.5),
            call("expire", Key("x"), 100),
            call("get", Key("x")),
        ), transaction=True),
        call("get", Key("x")),
    )),
    Family("scripts", (
        call("eval", EVAL_ECHO, [Key("k")], ["arg"], _direct=call("eval", EVAL_ECHO, 1, Key("k"), "arg")),
        call("eval", EVAL_WRITE, [Key("w")], ["written"], _direct=call("eval", EVAL_WRITE, 1, Key("w"), "written")),
        call("script_load", EVAL_WRITE),
        call("script_exists", EVAL_WRITE_SHA),
        call("evalsha", EVAL_WRITE_SHA, [Key("w2")], ["again"], _direct=call("evalsha", EVAL_WRITE_SHA, 1, Key("w2"), "again")),
        call("get", Key("w2")),
    )),
    Family("connection", (
        # redis-py turns PONG into True; ECHO "PONG" gives the string a plain PING reply is.
        call("ping", _direct=call("echo", "PONG")),
        call("echo", "héllo"),
    )),
)  # fmt: skip


def _resolve(value: Any, prefix: str) -> Any:
    if isinstance(value, Key):
        return prefix + value.name
    if isinstance(value, dict):
        return {_resolve(k, prefix): _resolve(v, prefix) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_resolve(item, prefix) for item in value)
    return value


def _plain(value: Any, prefix: str) -> Any:
    """Comparable form: tuples as lists, sets sorted, the run's key prefix removed."""
    if isinstance(value, str):
        return value.replace(prefix, "")
    if isinstance(value, set):
        return sorted(_plain(item, prefix) for item in value)
    if isinstance(value, list | tuple):
        return [_plain(item, prefix) for item in value]
    if isinstance(value, dict):
        return {_plain(k, prefix): _plain(v, prefix) for k, v in value.items()}
    return value


def _outcome(step: Call, result: Any, prefix: str) -> Any:
    if step.norm is not None:
        result = step.norm(result)
    result = _plain(result, prefix)
    return sorted(result) if step.unordered else result


def _batch_outcome(step: Batch, results: list[Any], prefix: str) -> list[Any]:
    return [_outcome(c, r, prefix) for c, r in zip(step.calls, results, strict=True)]


def _spelling(step: Call, direct: bool) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    chosen = step.direct if direct and step.direct is not None else step
    return chosen.method, chosen.args, chosen.kwargs


def _invoke(target: Any, step: Call, prefix: str, direct: bool) -> Any:
    method, args, kwargs = _spelling(step, direct)
    return getattr(target, method)(*_resolve(args, prefix), **_resolve(kwargs, prefix))


def _queue(pipe: Any, step: Batch, prefix: str, direct: bool) -> Any:
    for item in step.calls:
        _invoke(pipe, item, prefix, direct)
    return pipe


def run_direct(client: redis.Redis, family: Family, prefix: str) -> list[Any]:
    outcomes: list[Any] = []
    for step in family.steps:
        if isinstance(step, Batch):
            pipe = _queue(client.pipeline(transaction=step.transaction), step, prefix, direct=True)
            outcomes.append(_batch_outcome(step, pipe.execute(), prefix))
        else:
            outcomes.append(_outcome(step, _invoke(client, step, prefix, direct=True), prefix))
    return outcomes


def run_sync(client: Redis, family: Family, prefix: str) -> list[Any]:
    outcomes: list[Any] = []
    for step in family.steps:
        if isinstance(step, Batch):
            pipe = _queue(
                client.multi() if step.transaction else client.pipeline(), step, prefix, direct=False
            )
            outcomes.append(_batch_outcome(step, pipe.exec(), prefix))
        else:
            outcomes.append(_outcome(step, _invoke(client, step, prefix, direct=False), prefix))
    return outcomes


async def run_async(client: AsyncRedis, family: Family, prefix: str) -> list[Any]:
    outcomes: list[Any] = []
    for step in family.steps:
        if isinstance(step, Batch):
            pipe = _queue(
                client.multi() if step.transaction else client.pipeline(), step, prefix, direct=False
            )
            outcomes.append(_batch_outcome(step, await pipe.exec(), prefix))
        else:
            outcomes.append(_outcome(step, await _invoke(client, step, prefix, direct=False), prefix))
    return outcomes
