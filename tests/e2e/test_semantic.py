"""The semantic cache through the gateway: a rephrased question is served, but never across a scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.flow import poll, submit, unique
from tests.stack_fixture import TENANT_KEYS


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        yield client


def ask(
    text: str, *, model: str = "gpt-4o-mini", history: list[dict[str, str]] | None = None, **extra: Any
) -> dict:
    return {"model": model, "messages": [*(history or []), {"role": "user", "content": text}], **extra}


async def answered(client: httpx.AsyncClient, body: dict, **kwargs: Any) -> dict:
    """Submit and wait until the answer is stored (the job is done)."""
    response = await submit(client, body, **kwargs)
    assert response.status_code == 202, response.text
    return (await poll(client, response.json()["job_id"], **kwargs)).json()


def bearer(tenant: str) -> dict[str, dict[str, str]]:
    return {"headers": {"Authorization": f"Bearer {TENANT_KEYS[tenant]}"}}


async def test_a_rephrasing_is_a_semantic_hit_with_its_similarity(client: httpx.AsyncClient) -> None:
    namespace = unique("ns").replace(" #", "-")
    stored = await answered(client, ask("How do I reverse a list in Python?", cache={"namespace": namespace}))
    rephrased = await submit(client, ask("how do i reverse a list in python", cache={"namespace": namespace}))
    assert rephrased.status_code == 200, rephrased.text
    assert rephrased.headers["x-cache"] == "SEMANTIC-HIT"
    similarity = float(rephrased.headers["x-cache-similarity"])
    body = rephrased.json()
    assert body["cache"]["status"] == "SEMANTIC-HIT" and body["cache"]["similarity"] == pytest.approx(
        similarity, abs=1e-3
    )
    assert body["result"] == stored["result"]

    # A different language is a different question, however close the words.
    other = await submit(client, ask("how do i reverse a list in javascript", cache={"namespace": namespace}))
    assert other.headers["x-cache"] == "MISS"

    # Reporting the hit as wrong evicts the entry: the rephrasing is now a miss.
    report = await client.post("/api/report", json={"entry_id": body["cache"]["entry_id"]})
    assert report.status_code == 200 and report.json()["evicted"] is True
    again = await submit(client, ask("how do i reverse a list in python", cache={"namespace": namespace}))
    assert again.headers["x-cache"] == "MISS"


@pytest.mark.parametrize(
    "variant",
    [
        {"model": "gpt-4o"},
        {"params": {"temperature": 0}},
        {"history": [{"role": "system", "content": "Answer in French."}]},
        {
            "history": [
                {"role": "user", "content": "I use Python 2."},
                {"role": "assistant", "content": "OK."},
            ]
        },
        {"cache": {"semantic": False}},
    ],
    ids=["model", "params", "system-prompt", "earlier-turns", "opted-out"],
)
async def test_no_semantic_hit_across_scope(client: httpx.AsyncClient, variant: dict) -> None:
    namespace = unique("scope").replace(" #", "-")
    cache = {"namespace": namespace, **variant.pop("cache", {})}
    await answered(
        client, ask("What is the boiling point of water at sea level?", cache={"namespace": namespace})
    )
    rephrased = ask("what is the boiling point of water at sea level", cache=cache, **variant)
    response = await submit(client, rephrased)
    assert response.headers["x-cache"] == "MISS", response.text


async def test_no_semantic_hit_across_tenants(client: httpx.AsyncClient) -> None:
    namespace = unique("tenants").replace(" #", "-")
    await answered(
        client, ask("How many bytes are in a kilobyte?", cache={"namespace": namespace}), **bearer("tenant-a")
    )
    same_tenant = await submit(
        client, ask("how many bytes are in a kilobyte", cache={"namespace": namespace}), **bearer("tenant-a")
    )
    assert same_tenant.headers["x-cache"] == "SEMANTIC-HIT"
    other_tenant = await submit(
        client, ask("how many bytes are in a kilobyte", cache={"namespace": namespace}), **bearer("tenant-b")
    )
    assert other_tenant.headers["x-cache"] == "MISS"
