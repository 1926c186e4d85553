"""Issue 4: 200 concurrent requests from one caller, limit 50, over 4 serve instances → exactly 50 admitted."""

from __future__ import annotations

import time
from collections import Counter

import httpx
from upstash_redis.asyncio import Redis

from llmedge.limits import read_stats
from tests.e2e_limits.calls import ADMITTED, burst, chat, describe, final_jobs, marker
from tests.e2e_limits.tiers import REQUEST_LIMIT, REQUESTS
from tests.stack_fixture import SimulatorProbe
from tests.waiting import wait_for_room_in_window

WINDOW_S = 60  # the tier's "50/1m"
BURST = 200
POLICY = f'{REQUEST_LIMIT};w={WINDOW_S};comment="requests"'


def _window_index() -> int:
    return int(time.time()) // WINDOW_S


async def test_200_concurrent_requests_over_four_instances_admit_exactly_the_limit(
    clients: list[httpx.AsyncClient], sim: SimulatorProbe, upstash: Redis
) -> None:
    wait_for_room_in_window(WINDOW_S)
    window = _window_index()
    tag = marker("requests")
    results = await burst(clients, REQUESTS, [chat(f"{tag} question {i:03d}") for i in range(BURST)])
    assert _window_index() == window, "the burst crossed a window boundary; the test's premise failed"

    admitted = [(instance, r) for instance, r in results if r.status_code in ADMITTED]
    refused = [r for _, r in results if r.status_code == 429]
    statuses = Counter(r.status_code for _, r in results)
    assert (len(admitted), len(refused)) == (REQUEST_LIMIT, BURST - REQUEST_LIMIT), statuses
    # Distinct prompts: every admitted request is a miss, queued as a job.
    assert all(r.status_code == 202 for _, r in admitted), describe([r for _, r in admitted])
    # The instances really shared the limit: admissions came from more than one of them.
    assert len({instance for instance, _ in admitted}) >= 2

    # Each admission saw every earlier one, whichever instance it went through: 49, 48, …, 0 remaining.
    remaining = sorted(int(r.headers["ratelimit-remaining"]) for _, r in admitted)
    assert remaining == list(range(REQUEST_LIMIT))
    for _, response in admitted:
        assert response.headers["ratelimit-limit"] == str(REQUEST_LIMIT)
        assert response.headers["ratelimit-policy"] == POLICY
        assert 0 < int(response.headers["ratelimit-reset"]) <= WINDOW_S

    for response in refused:
        headers = response.headers
        assert headers["ratelimit-limit"] == str(REQUEST_LIMIT)
        assert headers["ratelimit-remaining"] == "0"
        assert headers["ratelimit-policy"] == POLICY
        assert 0 < int(headers["ratelimit-reset"]) <= WINDOW_S
        assert 0 < int(headers["retry-after"]) <= WINDOW_S
        error = response.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["limit"] == "requests"
        assert f"{REQUEST_LIMIT} requests per 1m" in error["message"]

    stats = await read_stats(upstash)
    assert stats["admitted"][REQUESTS.tier]["all"] == REQUEST_LIMIT

    # Every admitted job runs to the end, once, and nothing refused reached the model.
    jobs = await final_jobs(clients[0], REQUESTS, [r.json()["job_id"] for _, r in admitted])
    assert [job["status"] for job in jobs] == ["done"] * REQUEST_LIMIT, jobs
    assert len(await sim.calls(tag)) == REQUEST_LIMIT
