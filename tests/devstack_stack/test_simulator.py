"""The model-API simulator, driven in-process: answers, usage, validation, directives and dials."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx
import numpy as np
import pytest

from llmedge.devstack import simulator_answers
from llmedge.devstack.simulator import ModelSimulator
from tests.waiting import wait_for

AUTH = {"Authorization": "Bearer sk-local"}


class RecordingSleep:
    """Stands in for asyncio.sleep: records each latency and holds the call until released."""

    def __init__(self) -> None:
        self.requested: list[float] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        await self.release.wait()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def simulator(sleep: RecordingSleep) -> ModelSimulator:
    return ModelSimulator(latency=0.25, sleep=sleep)


@pytest.fixture
async def client(simulator: ModelSimulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=simulator.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as client:
        yield client


def chat(prompt: str, **params: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], **params}


async def answer(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_chat_answer_has_openai_shape_and_consistent_usage(client: httpx.AsyncClient) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]},
        ],
    }
    result = await answer(client, body)
    assert result["object"] == "chat.completion"
    assert result["id"].startswith("chatcmpl-")
    assert result["model"] == "gpt-4o-mini"
    assert isinstance(result["created"], int)
    [choice] = result["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].startswith("Simulated answer to: What is the capital of France? [#")
    usage = result["usage"]
    # 3 + 6 words -> 4 + 8 tokens, plus 3 per message and 3 to prime the reply.
    assert usage["prompt_tokens"] == 4 + 8 + 3 * 3
    assert usage["completion_tokens"] == round(len(choice["message"]["content"].split()) * 4 / 3)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_same_request_same_content_different_request_different_content(
    client: httpx.AsyncClient,
) -> None:
    first = await answer(client, chat("Name a colour.", temperature=0.2))
    reordered = await answer(client, {"temperature": 0.2, **chat("Name a colour.")})
    other_prompt = await answer(client, chat("Name a fruit.", temperature=0.2))
    other_param = await answer(client, chat("Name a colour.", temperature=0.3))
    content = first["choices"][0]["message"]["content"]
    assert reordered["choices"][0]["message"]["content"] == content
    assert other_prompt["choices"][0]["message"]["content"] != content
    assert other_param["choices"][0]["message"]["content"] != content
    assert first["id"] != reordered["id"]


async def test_max_tokens_truncates_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    full = (await answer(client, chat("Tell me about the sea.")))["choices"][0]["message"]["content"]
    result = await answer(client, chat("Tell me about the sea.", max_tokens=4))
    choice = result["choices"][0]
    assert choice["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 4
    # 3 words are 4 tokens; a 4th word would make 5.
    assert choice["message"]["content"] == "Simulated answer to:"
    assert full.startswith(choice["message"]["content"])
    generous = await answer(client, chat("Tell me about the sea.", max_completion_tokens=100))
    assert generous["choices"][0]["finish_reason"] == "stop"


async def test_n_gives_distinct_choices(client: httpx.AsyncClient) -> None:
    result = await answer(client, chat("Pick a number.", n=3))
    contents = [choice["message"]["content"] for choice in result["choices"]]
    assert [choice["index"] for choice in result["choices"]] == [0, 1, 2]
    assert len(set(contents)) == 3


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Basic abc", "sk-no-scheme"])
async def test_missing_api_key_is_openai_401(client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    client.headers.pop("Authorization")
    response = await client.post("/v1/chat/completions", json=chat("hi"), headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "API key" in error["message"]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "missing_required_parameter"),
        ({"model": "m", "messages": []}, "messages", "invalid_value"),
        (
            {"model": "m", "messages": [{"role": "robot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content", "invalid_type"),
        (chat("x", max_tokens="5"), "max_tokens", "invalid_type"),
        (chat("x", max_tokens=0), "max_tokens", "invalid_value"),
        (chat("x", temperature=3), "temperature", "invalid_value"),
        (chat("x", stream=True), "stream", "invalid_value"),
        ([chat("x")], None, "invalid_type"),
    ],
)
async def test_invalid_chat_body_is_openai_400_naming_the_field(
    client: httpx.AsyncClient, body: Any, param: str | None, code: str
) -> None:
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    if param:
        assert f"'{param}'" in error["message"]


async def test_non_json_unknown_path_and_wrong_method_are_json_errors(client: httpx.AsyncClient) -> None:
    not_json = await client.post(
        "/v1/chat/completions", content=b"{nope", headers={"Content-Type": "text/plain"}
    )
    assert not_json.status_code == 400
    assert "could not parse the JSON body" in not_json.json()["error"]["message"]
    unknown = await client.post("/v1/completions/legacy", json={})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Invalid URL (POST /v1/completions/legacy)"
    wrong_method = await client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


async def test_fail_directive_fails_that_body_n_times_then_succeeds(client: httpx.AsyncClient) -> None:
    body = chat("flaky upstream [sim:fail=500x2]")
    statuses = [(await client.post("/v1/chat/completions", json=body)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    # Another body (a concurrent test's) is not affected by this body's failure count.
    other = await client.post("/v1/chat/completions", json=chat("another test [sim:fail=500x1]"))
    assert other.status_code == 500
    failed = await client.post("/v1/chat/completions", json=chat("third [sim:fail=503x1]"))
    error = failed.json()["error"]
    assert (failed.status_code, error["type"]) == (503, "server_error")
    assert "[sim:fail=503x1]" in error["message"]


async def test_429_directive_sends_retry_after_once(client: httpx.AsyncClient) -> None:
    body = chat("busy [sim:429x1]")
    first = await client.post("/v1/chat/completions", json=body)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "1"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert (await client.post("/v1/chat/completions", json=body)).status_code == 200


async def test_counted_directives_are_served_in_order(client: httpx.AsyncClient) -> None:
    body = chat("sequence [sim:429x1,fail=500x1]")
    statuses = [(await client.post("/v1/chat/completions", json=body)).status_code for _ in range(3)]
    assert statuses == [429, 500, 200]


async def test_status_directive_always_fails_naming_the_problem(client: httpx.AsyncClient) -> None:
    body = chat("bad request upstream [sim:status=400]")
    for _ in range(2):
        response = await client.post("/v1/chat/completions", json=body)
        assert response.status_code == 400
        assert "simulated by [sim:status=400]" in response.json()["error"]["message"]


async def test_unknown_directive_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/chat/completions", json=chat("typo [sim:fial=500x2]"))
    assert response.status_code == 400
    assert "'[sim:fial=500x2]'" in response.json()["error"]["message"]


async def test_latency_dial_and_directive(client: httpx.AsyncClient, sleep: RecordingSleep) -> None:
    await answer(client, chat("default latency"))
    await answer(client, chat("slow one [sim:latency=2.5]"))
    assert sleep.requested == [0.25, 2.5]


async def test_max_in_flight_counts_concurrent_calls_and_resets(
    client: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    sleep.release.clear()
    calls = [asyncio.create_task(client.post("/v1/chat/completions", json=chat(f"c{i}"))) for i in range(3)]

    async def stats() -> dict[str, Any]:
        return dict((await client.get("/_sim/stats")).json())

    held = await wait_for(stats, until=lambda s: s["in_flight"] == 3)
    assert held["max_in_flight"] == 3
    sleep.release.set()
    assert [response.status_code for response in await asyncio.gather(*calls)] == [200, 200, 200]
    done = await stats()
    assert (done["in_flight"], done["max_in_flight"], done["calls"]) == (0, 3, 3)
    assert done["by_endpoint"] == {"/v1/chat/completions": 3}
    assert (await client.post("/_sim/reset")).status_code == 200
    after = await stats()
    assert (after["calls"], after["max_in_flight"], after["by_endpoint"]) == (0, 0, {})


async def test_calls_log_filters_by_prompt_substring(client: httpx.AsyncClient) -> None:
    await answer(client, chat("marker-alpha first"))
    await client.post("/v1/chat/completions", json=chat("marker-alpha [sim:status=400]"))
    await answer(client, chat("marker-beta"))
    found = (await client.get("/_sim/calls", params={"contains": "marker-alpha"})).json()
    assert found["count"] == 2
    assert [call["status"] for call in found["calls"]] == [200, 400]
    call = found["calls"][0]
    assert (call["model"], call["prompt"], call["delivery"]) == ("gpt-4o-mini", "marker-alpha first", 1)
    assert call["ended"] >= call["started"]


async def test_config_changes_dials_and_reset_restores_them(client: httpx.AsyncClient) -> None:
    changed = await client.post("/_sim/config", json={"error_rate": 1.0, "latency": 0})
    assert changed.json() == {"latency": 0, "error_rate": 1.0, "seed": 0}
    response = await client.post("/v1/chat/completions", json=chat("doomed"))
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    await client.post("/_sim/reset")
    assert (await client.get("/_sim/config")).json() == {"latency": 0.25, "error_rate": 0.0, "seed": 0}
    await answer(client, chat("doomed"))


@pytest.mark.parametrize("change", [{"error_rate": 2}, {"latency": -1}, {"latency": "fast"}, {"speed": 1}])
async def test_invalid_config_is_rejected(client: httpx.AsyncClient, change: dict[str, Any]) -> None:
    response = await client.post("/_sim/config", json=change)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == next(iter(change))
    assert (await client.get("/_sim/config")).json()["latency"] == 0.25


async def test_error_rate_is_seeded() -> None:
    async def statuses(seed: int) -> list[int]:
        simulator = ModelSimulator(error_rate=0.5, seed=seed)
        transport = httpx.ASGITransport(app=simulator.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim", headers=AUTH) as client:
            return [
                (await client.post("/v1/chat/completions", json=chat(f"q{i}"))).status_code for i in range(40)
            ]

    first = await statuses(seed=7)
    assert first == await statuses(seed=7)
    assert {200, 500} == set(first)
    assert first != await statuses(seed=8)


async def embedding(client: httpx.AsyncClient, text: str | list[str], **params: Any) -> list[Any]:
    response = await client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-small", "input": text, **params}
    )
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


async def test_embeddings_are_deterministic_unit_vectors_of_requested_size(client: httpx.AsyncClient) -> None:
    [vector] = await embedding(client, "What is the capital of France?", dimensions=256)
    assert len(vector) == 256
    assert np.linalg.norm(vector) == pytest.approx(1.0)
    assert [vector] == await embedding(client, "What is the capital of France?", dimensions=256)
    [default] = await embedding(client, "hello")
    assert len(default) == 1536


async def test_embeddings_of_similar_texts_are_close(client: httpx.AsyncClient) -> None:
    texts = ["What is the capital of France?", "what is the capital of france", "How do magnets work?"]
    base, near, far = (np.array(v) for v in await embedding(client, texts, dimensions=512))
    assert base @ near > 0.99
    assert base @ far < 0.5


async def test_embeddings_base64_matches_floats(client: httpx.AsyncClient) -> None:
    [floats] = await embedding(client, "same text", dimensions=8)
    [encoded] = await embedding(client, "same text", dimensions=8, encoding_format="base64")
    decoded = struct.unpack("<8f", base64.b64decode(encoded))
    assert decoded == pytest.approx(floats, abs=1e-6)


async def test_embeddings_validation(client: httpx.AsyncClient) -> None:
    empty = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ""})
    assert (empty.status_code, empty.json()["error"]["param"]) == (400, "input")
    fixed = await client.post(
        "/v1/embeddings", json={"model": "text-embedding-ada-002", "input": "x", "dimensions": 8}
    )
    assert (fixed.status_code, fixed.json()["error"]["param"]) == (400, "dimensions")


async def test_image_url_serves_a_png_of_the_requested_size(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/images/generations", json={"prompt": "a red fox", "size": "256x256"})
    assert response.status_code == 200, response.text
    [image] = response.json()["data"]
    assert image["revised_prompt"] == "a red fox"
    png = await client.get(image["url"])
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png.content[16:24]) == (256, 256)
    assert (await client.get("/v1/images/files/not-an-image.png")).status_code == 404
    digest = image["url"].rsplit("/", 1)[1].split("-")[0]
    assert (await client.get(f"/v1/images/files/{digest}-9999x9999.png")).status_code == 404


async def test_image_b64_json_gives_n_distinct_images(client: httpx.AsyncClient) -> None:
    body = {"prompt": "a blue whale", "n": 2, "size": "256x256", "response_format": "b64_json"}
    response = await client.post("/v1/images/generations", json=body)
    images = [base64.b64decode(item["b64_json"]) for item in response.json()["data"]]
    assert len(images) == 2
    assert images[0] != images[1]
    assert all(image.startswith(b"\x89PNG") for image in images)
    assert response.json()["usage"]["input_tokens"] == 4
    bad = await client.post("/v1/images/generations", json={"prompt": "x", "size": "10x10"})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "size")


async def test_a_simulator_bug_is_a_json_500_and_still_counted(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(simulator_answers, "chat_completion", broken)
    response = await client.post("/v1/chat/completions", json=chat("bug-marker"))
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    [call] = (await client.get("/_sim/calls", params={"contains": "bug-marker"})).json()["calls"]
    assert call["status"] == 500
    assert (await client.get("/_sim/stats")).json()["in_flight"] == 0


async def test_a_cancelled_call_leaves_no_call_in_flight(
    client: httpx.AsyncClient, sleep: RecordingSleep
) -> None:
    sleep.release.clear()
    call = asyncio.create_task(client.post("/v1/chat/completions", json=chat("cancel-marker")))

    async def in_flight() -> int:
        return int((await client.get("/_sim/stats")).json()["in_flight"])

    await wait_for(in_flight, until=lambda count: count == 1)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert await in_flight() == 0
    [record] = (await client.get("/_sim/calls", params={"contains": "cancel-marker"})).json()["calls"]
    assert record["status"] == 499
