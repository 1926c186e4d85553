"""/api/stats and /api/openapi.json as the deployed app routes them (on `llmedge dev`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.stack_fixture import TEST_ADMIN_KEY


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        yield client


async def test_stats_is_json_behind_the_admin_key(client: httpx.AsyncClient) -> None:
    refused = await client.get("/api/stats")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"
    assert refused.headers["x-request-id"]
    wrong = await client.get("/api/stats", headers={"Authorization": "Bearer not-the-admin-key"})
    assert wrong.status_code == 401
    report = await client.get("/api/stats", headers={"Authorization": f"Bearer {TEST_ADMIN_KEY}"})
    assert report.status_code == 200
    assert {"hit_rate", "tokens", "dollars", "refused", "latency_ms", "models"} <= set(report.json())


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert {"/api/generate", "/api/result", "/api/callback"} <= set(document["paths"])
