"""Helpers for end-to-end tests against a running `llmedge dev` stack."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.waiting import wait_for

FINAL = {"done", "failed"}


def unique(text: str = "question") -> str:
    """A prompt no other test sends, so simulator call counts can be attributed to one test."""
    return f"{text} #{uuid.uuid4().hex[:12]}"


def chat(prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], **extra}


async def submit(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await client.post("/api/generate", json=body, **kwargs)


async def poll(client: httpx.AsyncClient, job_id: str, within: float = 20.0, **kwargs: Any) -> httpx.Response:
    """Poll /api/result until the job is done or failed; returns that final response."""

    async def probe() -> httpx.Response:
        return await client.get("/api/result", params={"id": job_id}, **kwargs)

    return await wait_for(
        probe, until=lambda r: r.status_code == 200 and r.json()["status"] in FINAL, timeout=within
    )


async def simulator_calls(client: httpx.AsyncClient, contains: str) -> int:
    response = await client.get("/openai/_sim/calls", params={"contains": contains})
    response.raise_for_status()
    return int(response.json()["count"])


def server_timing_total_ms(response: httpx.Response) -> float:
    for part in response.headers["server-timing"].split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "total":
            return float(duration)
    raise AssertionError(f"no total in Server-Timing: {response.headers['server-timing']}")
