"""A scripted workload on the real stack: 100 requests, 60 of them repeats → hit rate 0.60, exact savings.

The model is one only this test uses (priced in the test stack's LLMEDGE_PRICES), so other tests sharing
the stack cannot move its numbers. Semantic matching is off for these requests: the 40 originals must
all be misses, whatever the semantic threshold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.flow import poll
from tests.stack_fixture import STATS_TEST_MODEL, TEST_ADMIN_KEY, TEST_PRICES
from tests.waiting import wait_for

ORIGINALS = 40
REPEATS = 60
CONCURRENCY = 8

# Until the gateway routes /api/stats and calls the recorder, there is nothing to measure on the stack.


def body(prompt: str) -> dict[str, Any]:
    return {"model": STATS_TEST_MODEL, "prompt": prompt, "cache": {"semantic": False}}


@pytest.fixture
async def client(stack) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=20) as client:
        yield client


async def stats(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/stats", headers={"Authorization": f"Bearer {TEST_ADMIN_KEY}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def section(report: dict[str, Any]) -> dict[str, Any]:
    return dict(report["models"].get(STATS_TEST_MODEL) or {"requests": {"total": 0}, "jobs": {"done": 0}})


async def test_sixty_repeats_of_forty_prompts_report_a_hit_rate_of_0_60_and_exact_savings(
    client: httpx.AsyncClient,
) -> None:
    run = uuid.uuid4().hex[:8]
    prompts = [f"Workload {run} question number {i}: name a prime above {i * 7}" for i in range(ORIGINALS)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def original(prompt: str) -> dict[str, Any]:
        async with gate:
            submitted = await client.post("/api/generate", json=body(prompt))
            assert submitted.status_code == 202, submitted.text
            final = (await poll(client, submitted.json()["job_id"], timeout=60)).json()
            assert final["status"] == "done", final
            return dict(final["result"]["usage"])

    usages = await asyncio.gather(*(original(prompt) for prompt in prompts))

    async def repeat(index: int) -> None:
        async with gate:
            response = await client.post("/api/generate", json=body(prompts[index % ORIGINALS]))
            assert response.status_code == 200 and response.headers["x-cache"] == "HIT", response.text

    await asyncio.gather(*(repeat(index) for index in range(REPEATS)))

    # Recording is off the critical path: wait until all 100 requests and 40 jobs have been counted.
    report = await wait_for(
        lambda: stats(client),
        until=lambda r: section(r)["requests"]["total"] >= 100 and section(r)["jobs"]["done"] >= 40,
        timeout=15,
        every=0.2,
    )
    model = section(report)
    assert model["requests"] == {
        "exact_hit": 60,
        "semantic_hit": 0,
        "miss": 40,
        "joined": 0,
        "bypass": 0,
        "refused": 0,
        "total": 100,
    }
    assert model["hit_rate"]["exact"] == 0.60
    assert model["hit_rate"]["semantic"] == 0.0

    saved = [usages[index % ORIGINALS] for index in range(REPEATS)]
    saved_in = sum(u["prompt_tokens"] for u in saved)
    saved_out = sum(u["completion_tokens"] for u in saved)
    billed_in = sum(u["prompt_tokens"] for u in usages)
    billed_out = sum(u["completion_tokens"] for u in usages)
    assert model["tokens"]["saved"] == {"input": saved_in, "output": saved_out, "total": saved_in + saved_out}
    assert model["tokens"]["billed"] == {
        "input": billed_in,
        "output": billed_out,
        "total": billed_in + billed_out,
    }
    price = TEST_PRICES[STATS_TEST_MODEL]

    def usd(tokens_in: int, tokens_out: int) -> float:
        cost = Decimal(tokens_in) * Decimal(str(price["input"])) + Decimal(tokens_out) * Decimal(
            str(price["output"])
        )
        return float(cost / 1_000_000)

    assert model["dollars"] == {"saved": usd(saved_in, saved_out), "billed": usd(billed_in, billed_out)}
    assert model["price"] == price
