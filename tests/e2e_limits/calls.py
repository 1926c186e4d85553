"""HTTP helpers of the limits end-to-end tests: submit as a keyed caller, spread bursts, wait for jobs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from tests.e2e_limits.tiers import MODEL, Key
from tests.waiting import wait_for

ADMITTED = (200, 202)
FINAL = ("done", "failed")


def marker(name: str) -> str:
    """A fixed-length tag no other test sends: simulator calls are found by it."""
    return f"{name}-{uuid.uuid4().hex[:12]}"


def chat(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": prompt}], **extra}


async def submit(client: httpx.AsyncClient, key: Key, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/generate", json=body, headers=key.headers)


async def burst(
    clients: Sequence[httpx.AsyncClient], key: Key, bodies: Sequence[dict[str, Any]]
) -> list[tuple[int, httpx.Response]]:
    """Send every body at once, round-robin over the instances; (instance index, response) in order."""

    async def one(index: int, body: dict[str, Any]) -> tuple[int, httpx.Response]:
        instance = index % len(clients)
        return instance, await submit(clients[instance], key, body)

    return list(await asyncio.gather(*(one(index, body) for index, body in enumerate(bodies))))


async def final_job(client: httpx.AsyncClient, key: Key, job_id: str, within: float = 30.0) -> dict[str, Any]:
    """Poll /api/result until the job is done or failed; its body."""

    async def probe() -> httpx.Response:
        return await client.get("/api/result", params={"id": job_id}, headers=key.headers)

    response = await wait_for(
        probe,
        until=lambda r: r.status_code == 200 and r.json()["status"] in FINAL,
        timeout=within,
        every=0.1,  # dozens of jobs are polled at once; 20 ms would flood two shared cores
    )
    body: dict[str, Any] = response.json()
    return body


async def final_jobs(
    client: httpx.AsyncClient, key: Key, job_ids: Sequence[str], within: float = 30.0
) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(final_job(client, key, job_id, within) for job_id in job_ids)))


def server_timing(response: httpx.Response) -> dict[str, float]:
    """`Server-Timing: admit;dur=0.81, total;dur=1.02` → {"admit": 0.81, "total": 1.02} (ms)."""
    phases = {}
    for part in response.headers["server-timing"].split(","):
        name, _, duration = part.strip().partition(";dur=")
        phases[name] = float(duration)
    return phases


def describe(responses: Sequence[httpx.Response]) -> list[tuple[int, str]]:
    """Status and body of each response, for assertion messages."""
    return [(response.status_code, response.text[:200]) for response in responses]
