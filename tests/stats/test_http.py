"""GET /api/stats and GET /api/openapi.json, their handlers driven with a real gateway on the bridge."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from starlette.requests import Request

from llmedge.errors import AuthenticationError, NotFound, StoreUnavailable, ValidationFailed
from llmedge.gateway import Gateway
from llmedge.http.openapi import handle_openapi, openapi_document
from llmedge.http.responses import ServerTiming
from llmedge.http.stats import handle_stats
from llmedge.schemas import Generation
from llmedge.stats import StatsRecorder, effective_prices
from tests.upstash_fixture import TOKEN

ADMIN_KEY = "admin-key-for-the-stats-test"


def environment(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "UPSTASH_REDIS_REST_URL": redis_url,
        "UPSTASH_REDIS_REST_TOKEN": TOKEN,
        "QSTASH_TOKEN": "unused",
        "QSTASH_CURRENT_SIGNING_KEY": "sig_unused_current",
        "QSTASH_NEXT_SIGNING_KEY": "sig_unused_next",
        "LLMEDGE_PUBLIC_URL": "http://127.0.0.1:1",
        **extra,
    }


async def gateway_for(environ: dict[str, str]) -> AsyncIterator[Gateway]:
    gateway = Gateway.from_environ(environ)
    try:
        yield gateway
    finally:
        await gateway.clients.aclose()


@pytest.fixture
async def gateway(bridge_url: str) -> AsyncIterator[Gateway]:
    async for built in gateway_for(environment(bridge_url, LLMEDGE_ADMIN_KEY=ADMIN_KEY)):
        yield built


def get(path: str, authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "GET", "path": path, "headers": headers, "query_string": b""})


async def test_stats_without_an_admin_key_configured_is_not_found(bridge_url: str) -> None:
    async for gateway in gateway_for(environment(bridge_url)):
        with pytest.raises(NotFound, match="LLMEDGE_ADMIN_KEY"):
            await handle_stats(gateway, get("/api/stats", f"Bearer {ADMIN_KEY}"), ServerTiming(), "req_1")


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Basic " + ADMIN_KEY, "Bearer wrong-key", f"Bearer {ADMIN_KEY}x"]
)
async def test_stats_needs_the_admin_key(gateway: Gateway, authorization: str | None) -> None:
    with pytest.raises(AuthenticationError) as raised:
        await handle_stats(gateway, get("/api/stats", authorization), ServerTiming(), "req_1")
    assert raised.value.status == 401
    assert raised.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_stats_returns_the_report(gateway: Gateway) -> None:
    recorder = StatsRecorder(gateway.clients.redis, effective_prices(gateway.settings.prices))
    recorder.record("exact_hit", model="gpt-4o-mini", result={"usage": {"prompt_tokens": 1000000}})
    await recorder.flush()
    response = await handle_stats(gateway, get("/api/stats", f"Bearer {ADMIN_KEY}"), ServerTiming(), "req_1")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"] == "req_1"
    report = json.loads(bytes(response.body))
    assert report["models"]["gpt-4o-mini"]["tokens"]["saved"]["input"] >= 1_000_000
    assert report["dollars"]["saved"] >= 0.15  # a million input tokens of gpt-4o-mini at the default price


async def test_stats_with_redis_down_is_a_503(bridge_url: str) -> None:
    async for gateway in gateway_for(environment("http://127.0.0.1:9", LLMEDGE_ADMIN_KEY=ADMIN_KEY)):
        with pytest.raises(StoreUnavailable):
            await handle_stats(gateway, get("/api/stats", f"Bearer {ADMIN_KEY}"), ServerTiming(), "req_1")


def resolve(document: dict[str, Any], node: Any) -> list[str]:
    """Every $ref under `node` that does not point into `document` (should be none)."""
    broken = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            if target is None:
                broken.append(ref)
        for value in node.values():
            broken += resolve(document, value)
    elif isinstance(node, list):
        for value in node:
            broken += resolve(document, value)
    return broken


def test_openapi_document_covers_the_contract() -> None:
    document = openapi_document()
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert set(paths["/api/generate"]["post"]["responses"]) >= {
        "200",
        "202",
        "400",
        "401",
        "413",
        "422",
        "429",
        "503",
    }
    assert set(paths["/api/result"]["get"]["responses"]) >= {"200", "202", "304", "403", "404"}
    assert set(paths["/api/callback"]["post"]["responses"]) >= {"200", "401"}
    limited = paths["/api/generate"]["post"]["responses"]["429"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        limited["headers"]
    )
    assert resolve(document, document) == []


def test_openapi_schemas_are_the_request_and_response_schemas() -> None:
    schemas = openapi_document()["components"]["schemas"]
    generate = schemas["GenerateRequest"]
    assert generate["required"] == ["model"]
    assert generate["additionalProperties"] is False
    assert set(generate["properties"]) == {
        "model",
        "kind",
        "messages",
        "prompt",
        "params",
        "cache",
        "debounce",
    }
    assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}


GENERATE_BODIES = [
    {"model": "m", "prompt": "hi"},
    {"model": "m", "prompt": ""},
    {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "m", "messages": [{"role": "user", "content": "hi"}], "prompt": None},
    {"model": "m"},
    {"model": "m", "prompt": None, "messages": None},
    {"model": "m", "prompt": "hi", "messages": [{"role": "user", "content": "hi"}]},
    {"model": "m", "kind": "image", "prompt": "a red fox"},
    {"model": "m", "kind": "image", "prompt": ""},
    {"model": "m", "kind": "image", "messages": [{"role": "user", "content": "a fox"}]},
    {"model": "m", "kind": "image", "prompt": "a fox", "messages": None},
    {"model": "m", "kind": "image", "prompt": None, "messages": [{"role": "user", "content": "a fox"}]},
]


@pytest.mark.parametrize("body", GENERATE_BODIES)
def test_the_documented_generate_body_is_the_accepted_one(body: dict[str, object]) -> None:
    # A client generated from the document sends what the gateway takes, and only that.
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/GenerateRequest", "components": openapi_document()["components"]}
    )
    try:
        Generation.parse(body)
    except ValidationFailed:
        accepted = False
    else:
        accepted = True
    assert validator.is_valid(body) == accepted


async def test_openapi_handler_serves_the_document(gateway: Gateway) -> None:
    response = await handle_openapi(gateway, get("/api/openapi.json"), ServerTiming(), "req_2")
    assert response.status_code == 200
    assert json.loads(bytes(response.body)) == openapi_document()
