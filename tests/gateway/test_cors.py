"""CORS: off by default; with LLMEDGE_CORS_ORIGINS, preflights are answered and answers are readable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from llmedge.http.app import create_app
from tests.gateway.conftest import BASE_ENV

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@asynccontextmanager
async def _client(environ: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(environ=environ)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://gateway.example.com") as client:
            yield client
    finally:
        await app.state.gateway.clients.aclose()


@pytest.fixture
async def allowed() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(
        {**BASE_ENV, "LLMEDGE_CORS_ORIGINS": f"{APP_ORIGIN}, http://localhost:5173"}
    ) as client:
        yield client


@pytest.fixture
async def same_origin_only() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(BASE_ENV) as client:
        yield client


async def test_a_preflight_from_an_allowed_origin_is_answered(allowed: httpx.AsyncClient) -> None:
    response = await allowed.options("/api/generate", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {
        header.strip().lower() for header in response.headers["access-control-allow-headers"].split(",")
    }
    assert response.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_gets_no_grant(allowed: httpx.AsyncClient) -> None:
    response = await allowed.options("/api/generate", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_answers_and_errors_carry_the_grant_and_the_readable_headers(
    allowed: httpx.AsyncClient,
) -> None:
    document = await allowed.get("/api/openapi.json", headers={"Origin": APP_ORIGIN})
    assert document.status_code == 200
    assert document.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = {header.strip() for header in document.headers["access-control-expose-headers"].split(",")}
    assert {"X-Cache", "Retry-After", "Location", "RateLimit-Remaining", "X-Request-Id"} <= exposed
    # A refusal must be readable too, or the page cannot show why (a 422 here, a 429 elsewhere).
    refused = await allowed.post("/api/generate", json={"model": ""}, headers={"Origin": APP_ORIGIN})
    assert refused.status_code == 422
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_without_the_setting_no_origin_is_granted(same_origin_only: httpx.AsyncClient) -> None:
    document = await same_origin_only.get("/api/openapi.json", headers={"Origin": APP_ORIGIN})
    assert document.status_code == 200
    assert "access-control-allow-origin" not in document.headers
    preflight = await same_origin_only.options("/api/generate", headers=PREFLIGHT)
    assert preflight.status_code == 405
    assert preflight.headers["allow"] == "POST"
    assert preflight.json()["error"]["code"] == "method_not_allowed"
    assert "access-control-allow-origin" not in preflight.headers


async def test_any_origin_when_asked_for() -> None:
    async with _client({**BASE_ENV, "LLMEDGE_CORS_ORIGINS": "*"}) as client:
        response = await client.get("/api/openapi.json", headers={"Origin": "https://anyone.example"})
        assert response.headers["access-control-allow-origin"] == "*"
