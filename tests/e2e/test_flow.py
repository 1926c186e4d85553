"""The product end to end: submit → QStash → model → callback → poll, on the real local stack."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.flow import chat, poll, server_timing_total_ms, simulator_calls, submit, unique
from tests.waiting import wait_for


@pytest.fixture
async def client(stack) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        yield client


async def test_submit_poll_done_then_cache_hit(client: httpx.AsyncClient) -> None:
    prompt = unique("What is the capital of France?")
    first = await submit(client, chat(prompt))
    assert first.status_code == 202, first.text
    pending = first.json()
    assert pending["status"] == "pending" and pending["job_id"].startswith("job_")
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["location"] == pending["result_url"]
    assert int(first.headers["retry-after"]) >= 1

    final = await poll(client, pending["job_id"])
    body = final.json()
    assert body["status"] == "done"
    assert prompt in body["result"]["choices"][0]["message"]["content"]  # the simulator echoes the prompt

    again = await submit(client, chat(prompt))
    assert again.status_code == 200
    assert again.headers["x-cache"] == "HIT"
    assert again.json()["result"] == body["result"]
    assert again.json()["cache"]["status"] == "HIT"
    assert await simulator_calls(client, prompt) == 1


async def test_identical_concurrent_requests_share_one_upstream_call(client: httpx.AsyncClient) -> None:
    prompt = unique("Explain single flight") + " [sim:latency=0.5]"
    responses = await asyncio.gather(*(submit(client, chat(prompt)) for _ in range(20)))
    assert all(r.status_code in (200, 202) for r in responses), [
        (r.status_code, r.text) for r in responses if r.status_code not in (200, 202)
    ]
    job_ids = {r.json()["job_id"] for r in responses}
    assert len(job_ids) == 1
    finals = await asyncio.gather(*(poll(client, job_id) for job_id in job_ids))
    assert all(f.json()["status"] == "done" for f in finals)
    assert await simulator_calls(client, prompt) == 1


async def test_upstream_500_twice_then_success_is_done(client: httpx.AsyncClient) -> None:
    prompt = unique("flaky upstream") + " [sim:fail=500x2]"
    job_id = (await submit(client, chat(prompt))).json()["job_id"]
    final = await poll(client, job_id, within=30)
    assert final.json()["status"] == "done"
    assert await simulator_calls(client, prompt) == 3


async def test_upstream_400_fails_with_the_upstreams_message(client: httpx.AsyncClient) -> None:
    prompt = unique("bad request upstream") + " [sim:status=400]"
    job_id = (await submit(client, chat(prompt))).json()["job_id"]
    final = (await poll(client, job_id)).json()
    assert final["status"] == "failed"
    assert final["error"]["upstream_status"] == 400
    assert final["error"]["message"]
    # Nothing was cached. (The cancel of the remaining retries races the test stack's compressed
    # backoff — 12 ms instead of 12 s — so the number of upstream calls is not asserted here.)
    again = await submit(client, chat(prompt))
    assert again.status_code == 202


async def test_slow_upstream_never_holds_a_function(client: httpx.AsyncClient) -> None:
    """A 30 s model call: every job completes and no invocation of ours takes a second."""
    prompts = [unique(f"slow {i}") + " [sim:latency=30]" for i in range(3)]
    submitted = await asyncio.gather(*(submit(client, chat(p)) for p in prompts))
    assert all(r.status_code == 202 for r in submitted)
    invocations = list(submitted)
    finals = []
    for response in submitted:
        job_id = response.json()["job_id"]

        async def probe(job_id: str = job_id) -> httpx.Response:
            poll_response = await client.get("/api/result", params={"id": job_id})
            invocations.append(poll_response)
            return poll_response

        finals.append(await wait_for(probe, until=lambda r: r.status_code == 200, timeout=60, every=0.5))
    assert all(f.json()["status"] == "done" for f in finals)
    slowest = max(server_timing_total_ms(r) for r in invocations)
    assert slowest < 1000, f"an invocation took {slowest:.0f} ms"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, 422, "model"),
        ({"model": "m"}, 422, "body"),
        ({"model": "m", "prompt": "x", "params": {"temperature": 5}}, 422, "params.temperature"),
        ({"model": "m", "prompt": "x", "params": {"stream": True}}, 422, "params"),
        ({"model": "m", "prompt": "x", "cache": {"mode": "sometimes"}}, 422, "cache.mode"),
        ({"model": "m", "prompt": "x", "cache": {"namespace": "a b"}}, 422, "cache.namespace"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, 422, "messages.0.role"),
        ({"model": "m", "prompt": ""}, 422, "prompt"),
        ({"model": "m", "prompt": "x", "surprise": 1}, 422, "surprise"),
    ],
)
async def test_invalid_bodies_name_the_field(
    client: httpx.AsyncClient, body: dict, status: int, field: str
) -> None:
    response = await submit(client, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field or field == "body"
    assert error["message"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b"", 400),
        (b"\xff\xfe", 400),
        (b'{"model": "m", "prompt": "a\\ud800b"}', 400),
        (b'{"model": "m", "prompt": "x", "params": {"logit_bias": {"1": Infinity}}}', 400),
        (b'{"model": "m", "prompt": "x", "params": {"temperature": NaN}}', 400),
        (b'{"model": "m", "messages": [{"role": "user", "content": "\\udfff"}]}', 400),
        (b'{"model": "m", "prompt": "' + b"x" * (1024 * 1024 + 10) + b'"}', 413),
    ],
)
async def test_malformed_and_oversized_bodies(
    client: httpx.AsyncClient, content: bytes, expected: int
) -> None:
    response = await client.post(
        "/api/generate", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == expected
    assert response.json()["error"]["message"]


async def test_unicode_prompt_round_trips(client: httpx.AsyncClient) -> None:
    prompt = unique("¿Qué es 東京? 🚀 ß \u0000")
    job_id = (await submit(client, chat(prompt))).json()["job_id"]
    final = (await poll(client, job_id)).json()
    assert prompt in final["result"]["choices"][0]["message"]["content"]


async def test_escaped_surrogate_pair_is_one_character(client: httpx.AsyncClient) -> None:
    marker = unique("pair")
    raw = b'{"model": "m", "prompt": "' + marker.encode() + b' \\ud83d\\ude80"}'
    response = await client.post("/api/generate", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    final = (await poll(client, response.json()["job_id"])).json()
    assert f"{marker} 🚀" in final["result"]["choices"][0]["message"]["content"]


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/generate")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_result_errors(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/result")).status_code == 400
    missing = await client.get("/api/result", params={"id": "job_" + "A" * 22})
    assert missing.status_code == 404
    assert (await client.get("/api/result", params={"id": "../etc"})).status_code == 404
