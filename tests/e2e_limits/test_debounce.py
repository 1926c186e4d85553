"""Issue 4: 10 rapid requests with one debounce key → one upstream call, for the last request.

Own stack at time scale 1: the debounce window is a real QStash delay (1 s), which the main cluster's
time scale of 0.001 would shrink to 1 ms. The requests alternate between the dev stack's gateway and a
`llmedge serve` instance: the latest request wins whichever instance took it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e_limits.calls import chat, final_job, final_jobs, marker, submit
from tests.e2e_limits.cluster import Cluster, cluster
from tests.e2e_limits.tiers import ROOMY
from tests.stack_fixture import SimulatorProbe

TYPED = "debounced"  # typed one letter at a time: 10 requests, each a longer prompt


@pytest.fixture(scope="module")
def typing_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("debounce"), instances={"typing": {}}, time_scale=1.0) as running:
        yield running


@pytest.fixture
async def typing_clients(typing_cluster: Cluster) -> AsyncIterator[list[httpx.AsyncClient]]:
    urls = [typing_cluster.stack.base_url, typing_cluster.instances[0].base_url]
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=10) as first,
        httpx.AsyncClient(base_url=urls[1], timeout=10) as second,
    ):
        yield [first, second]


async def test_ten_rapid_requests_with_one_debounce_key_make_one_call_for_the_last(
    typing_cluster: Cluster, typing_clients: list[httpx.AsyncClient]
) -> None:
    tag = marker("typing")
    debounce = {"key": f"search-box-{tag}", "window": 1}
    prompts = [f"{tag} {TYPED[:length]}" for length in range(1, len(TYPED) + 1)]
    job_ids = []
    for index, prompt in enumerate(prompts):  # one after another, as keystrokes arrive
        response = await submit(typing_clients[index % 2], ROOMY, chat(prompt, debounce=debounce))
        assert response.status_code == 202, response.text
        job_ids.append(response.json()["job_id"])

    last = await final_job(typing_clients[0], ROOMY, job_ids[-1], within=20)
    assert last["status"] == "done", last
    assert prompts[-1] in last["result"]["choices"][0]["message"]["content"]  # the simulator echoes it
    for job in await final_jobs(typing_clients[0], ROOMY, job_ids[:-1]):
        assert job["status"] == "failed", job
        assert job["error"]["code"] == "superseded"

    async with httpx.AsyncClient(base_url=f"{typing_cluster.stack.base_url}/openai") as client:
        calls = await SimulatorProbe(client).calls(tag)
    assert len(calls) == 1, calls
    assert calls[0]["prompt"].endswith(prompts[-1])
