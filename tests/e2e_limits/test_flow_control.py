"""Issue 4: parallelism 2 for a model (QStash flow control) → the model never sees more than 2 calls at
once during a burst of 50 jobs, and all 50 complete."""

from __future__ import annotations

from collections import Counter

import httpx

from tests.e2e_limits.calls import burst, chat, final_jobs, marker
from tests.e2e_limits.conftest import Simulator
from tests.e2e_limits.tiers import FLOW_PARALLELISM, ROOMY
from tests.waiting import wait_for

JOBS = 50
LATENCY_S = 0.3  # long enough that, without flow control, the 50 calls would overlap


async def test_a_burst_of_fifty_jobs_never_runs_more_than_the_parallelism(
    clients: list[httpx.AsyncClient], sim: Simulator
) -> None:
    # Earlier tests wait for their own jobs; the high-water mark then starts from zero.
    await wait_for(sim.stats, until=lambda stats: stats["in_flight"] == 0, timeout=15)
    await sim.reset()
    assert (await sim.stats())["max_in_flight"] == 0

    tag = marker("flow")
    bodies = [chat(f"{tag} flow {i:03d} [sim:latency={LATENCY_S}]") for i in range(JOBS)]
    results = [response for _, response in await burst(clients, ROOMY, bodies)]
    assert [r.status_code for r in results] == [202] * JOBS, Counter(r.status_code for r in results)

    calls = await sim.wait_for_calls(tag, JOBS, within=60)
    assert len(calls) == JOBS and all(call["status"] == 200 for call in calls)
    jobs = await final_jobs(clients[0], ROOMY, [r.json()["job_id"] for r in results])
    assert [job["status"] for job in jobs] == ["done"] * JOBS

    # Exactly the parallelism: never more, and flow control did let two run side by side.
    assert (await sim.stats())["max_in_flight"] == FLOW_PARALLELISM
