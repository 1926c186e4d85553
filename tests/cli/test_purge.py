"""`llmedge purge`: exact-cache keys by namespace, model or all (SCAN + UNLINK), the semantic index's own
purge, and a confirmation that cannot be skipped by accident."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from upstash_redis import Redis

from llmedge.semantic.index import SemanticIndex
from tests.cli.conftest import Cli, assert_one_line_error
from tests.e2e.flow import chat, unique
from tests.upstash_fixture import TOKEN, upstash_client
from tests.waiting import wait_for_sync

# The commands run their own event loop (asyncio.run), so these tests are synchronous and use the sync
# Upstash client to look at Redis.


@pytest.fixture
def upstash_env(bridge_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", bridge_url)
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", TOKEN)


@pytest.fixture
def redis(bridge_url: str) -> Iterator[Redis]:
    with Redis(bridge_url, TOKEN, rest_retries=0, allow_telemetry=False) as client:
        yield client


def exact_key(namespace: str, model: str, version: str = "1") -> str:
    return f"llmedge:v{version}:exact:{namespace}:{model}:{uuid.uuid4().hex}"


def seed(redis: Redis, keys: list[str]) -> None:
    for key in keys:
        redis.set(key, '{"job_id":"job_x","stored_at":0,"result":{}}')


def existing(redis: Redis, keys: list[str]) -> list[str]:
    return [key for key in keys if redis.exists(key)]


def test_purge_by_namespace_takes_every_version_and_nothing_else(
    redis: Redis, cli: Cli, upstash_env: None
) -> None:
    ns = f"ns{uuid.uuid4().hex[:8]}"
    doomed = [exact_key(ns, "gpt-4o-mini"), exact_key(ns, "gpt-4o"), exact_key(ns, "gpt-4o", version="2")]
    kept = [exact_key(f"{ns}:sub", "gpt-4o-mini"), exact_key(f"{ns}x", "gpt-4o"), f"llmedge:job:{ns}"]
    seed(redis, doomed + kept)
    ran = cli("purge", "--namespace", ns, "--yes")
    assert ran.code == 0, ran.err
    assert ran.out.strip() == "purged 3 exact-cache entries and 0 semantic-cache entries"
    assert existing(redis, doomed + kept) == kept


def test_purge_by_model_uses_the_key_slug(redis: Redis, cli: Cli, upstash_env: None) -> None:
    model = f"org/model-{uuid.uuid4().hex[:6]}"  # '/' is not allowed in key names: slugged to '_'
    slug = model.replace("/", "_")
    doomed = [exact_key("default", slug), exact_key("other:ns", slug)]
    kept = [exact_key("default", slug + "-large")]
    seed(redis, doomed + kept)
    assert cli("purge", "--model", model, "--yes").out.startswith("purged 2 exact-cache entries")
    assert existing(redis, doomed + kept) == kept


def test_purge_reaches_the_semantic_index(bridge_url: str, redis: Redis, cli: Cli, upstash_env: None) -> None:
    ns = f"sem{uuid.uuid4().hex[:8]}"

    async def add_entries() -> str:
        async with upstash_client(bridge_url) as client:
            index = SemanticIndex(client, embedder_name="test-embedder-8", dimensions=8)
            vectors = np.eye(8, dtype=np.float32)
            for i, namespace in enumerate([ns, ns, "elsewhere"]):
                await index.add(
                    "scope", vectors[i], f"text {i}", "{}", ttl_ms=60_000, namespace=namespace, model="m",
                    created_ms=0,
                )  # fmt: skip
            return index.base

    base = asyncio.run(add_entries())
    ran = cli("purge", "--namespace", ns, "--yes")
    assert ran.out.strip() == "purged 0 exact-cache entries and 2 semantic-cache entries"
    assert len(redis.smembers(f"{base}ids")) == 1


def test_purge_all(redis: Redis, cli: Cli, upstash_env: None) -> None:
    keys = [exact_key(f"all{uuid.uuid4().hex[:6]}", "m") for _ in range(3)]
    seed(redis, keys)
    assert cli("purge", "--all", "--yes").code == 0
    assert existing(redis, keys) == []


def test_purge_asks_first_and_no_means_nothing_is_deleted(
    cli: Cli, upstash_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = io.StringIO("n\n")
    answers.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", answers)
    ran = cli("purge", "--all")
    assert_one_line_error(ran, "purge", "cancelled; nothing was deleted")
    assert "Delete EVERY cached answer from http://127.0.0.1:" in ran.out  # the question


def test_purge_without_a_terminal_needs_yes(
    cli: Cli, upstash_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped input is not a confirmation
    assert_one_line_error(cli("purge", "--all"), "purge", "pass --yes")


def test_purge_needs_the_upstash_variables(cli: Cli) -> None:
    ran = cli("purge", "--all", "--yes")
    assert_one_line_error(ran, "purge", "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set")


def test_purge_with_redis_unreachable_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "t")
    assert_one_line_error(
        cli("purge", "--all", "--yes"), "purge", "Upstash Redis at http://127.0.0.1:9 failed"
    )


def test_purge_empties_what_the_gateway_cached(stack, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"):
        monkeypatch.setenv(name, stack.env[name])
    namespace = f"purge-{uuid.uuid4().hex[:8]}"
    body = chat(unique("purge me"), cache={"namespace": namespace})
    with httpx.Client(base_url=stack.base_url, timeout=20) as client:
        job = client.post("/api/generate", json=body).json()["job_id"]
        wait_for_sync(
            lambda: client.get("/api/result", params={"id": job}).json(),
            until=lambda result: result.get("status") == "done",
            timeout=20,
        )
        assert client.post("/api/generate", json=body).headers["x-cache"] == "HIT"
        assert cli("purge", "--namespace", namespace, "--yes").out.startswith("purged 1 exact-cache entries")
        assert client.post("/api/generate", json=body).headers["x-cache"] == "MISS"
