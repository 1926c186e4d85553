"""Redis unreachable: a request still gets an answer, uncached and labelled BYPASS; or a clear 503."""

from __future__ import annotations

import json

import httpx

from llmedge.gateway import Gateway
from llmedge.http.app import create_app
from llmedge.limits import LimitsConfig
from llmedge.settings import Settings
from tests.gateway.conftest import BASE_ENV

ANSWER = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "direct"}, "finish_reason": "stop"}]
}
ALL_OPEN = '{"requests": "open", "global": "open", "tokens": "open", "in_flight": "open"}'


def redis_down_model_up(request: httpx.Request) -> httpx.Response:
    if request.url.host == "redis.invalid":
        raise httpx.ConnectError("connection refused", request=request)
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    return httpx.Response(200, json=ANSWER)


async def generate(env: dict[str, str]) -> httpx.Response:
    gateway = Gateway.build(
        Settings.from_environ(env),
        LimitsConfig.from_environ(env),
        transport=httpx.MockTransport(redis_down_model_up),
    )
    app = create_app(gateway=gateway)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            return await client.post("/api/generate", json={"model": "gpt-4o-mini", "prompt": "hello"})
    finally:
        await gateway.clients.aclose()


async def test_fail_open_limits_answer_directly_with_bypass() -> None:
    response = await generate({**BASE_ENV, "LLMEDGE_LIMITS_FAIL_POLICY": ALL_OPEN})
    assert response.status_code == 200, response.text
    assert response.headers["x-cache"] == "BYPASS"
    body = response.json()
    assert body["status"] == "done" and body["result"] == ANSWER
    assert body["job_id"].startswith("bypass_")


async def test_fail_closed_budget_refuses_with_503() -> None:
    response = await generate(dict(BASE_ENV))  # default: the token budget fails closed
    assert response.status_code == 503
    assert response.json()["error"]["limit"] == "tokens"


async def test_bypass_can_be_turned_off() -> None:
    response = await generate(
        {**BASE_ENV, "LLMEDGE_LIMITS_FAIL_POLICY": ALL_OPEN, "LLMEDGE_BYPASS_TIMEOUT": "0"}
    )
    assert response.status_code == 503
    assert json.loads(response.text)["error"]["code"] == "store_unavailable"
