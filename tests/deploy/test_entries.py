"""Every shipped entry file, loaded the way its platform loads it, serving against the real stack."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import site
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.deploy.events import LambdaContext, function_url, http_api_v2

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("generate", "callback", "result", "report", "stats", "openapi")
ROUTES = {
    "generate": ("POST", "/api/generate"),
    "callback": ("POST", "/api/callback"),
    "result": ("GET", "/api/result"),
    "report": ("POST", "/api/report"),
    "stats": ("GET", "/api/stats"),
    "openapi": ("GET", "/api/openapi.json"),
}
BROWSER_FACING = ("generate", "result", "report", "openapi")

# Vercel's vc_init.py: load the file by path, then look for `handler` (must be a BaseHTTPRequestHandler
# subclass, else it exits) before `app`. Dependencies come from site-packages, but llmedge itself must be
# found through the entry file's own sys.path line: the editable install's .pth finder is not loaded.
_VERCEL_STYLE = """
import sys
sys.path = [{repo!r}] + [p for p in sys.path if 'site-packages' not in p]
sys.path.append({site!r})
import importlib.util, inspect, asyncio, json, httpx
spec = importlib.util.spec_from_file_location("entry", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert "handler" not in dir(module), "Vercel would refuse a non-class `handler`"
assert inspect.iscoroutinefunction(module.app.__call__), "Vercel serves coroutine apps as ASGI"
async def main():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=module.app), base_url="http://fn") as c:
        if {name!r} == "generate":
            r = await c.post("/api/generate", json={{"model": "gpt-4o-mini", "prompt": "from a Vercel-style load"}})
        elif {name!r} == "result":
            r = await c.get("/api/result", params={{"id": "job_" + "v" * 22}})
        else:
            r = await c.post("/api/callback?job=job_x", content=b"{{}}")
        print(json.dumps({{"status": r.status_code, "body": r.json(), "llmedge": sys.modules["llmedge"].__file__}}))
asyncio.run(main())
"""


@pytest.mark.parametrize(("name", "expected"), [("generate", 202), ("result", 404), ("callback", 401)])
def test_vercel_loads_each_entry_from_a_clean_interpreter(stack, name: str, expected: int) -> None:  # type: ignore[no-untyped-def]
    script = _VERCEL_STYLE.format(
        repo=str(REPO), site=site.getsitepackages()[0], path=str(REPO / "api" / f"{name}.py"), name=name
    )
    env = {"PATH": "/usr/bin:/bin", **stack.env, "LLMEDGE_TIERS": '{"anonymous": {"requests": "1000/1m"}}'}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == expected, outcome
    assert outcome["llmedge"].startswith(str(REPO / "lib")), outcome["llmedge"]


@pytest.fixture
def load(stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], ModuleType]]:  # type: ignore[no-untyped-def]
    """Import api/<name>.py as the Lambda runtime does, configured for the stack; closes its clients after."""
    for variable, value in stack.env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setenv("LLMEDGE_TIERS", '{"anonymous": {"requests": "1000/1m"}}')
    loaded: list[ModuleType] = []
    # Entry files configure the root logger for their platform; give the rest of the suite its own back.
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"lambda_entry_{name}", REPO / "api" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded.append(module)
        return module

    yield load
    # Mangum runs every invocation on the thread's event loop (creating one if needed); the clients'
    # sockets belong to it. A Lambda container keeps it for its lifetime; a test must close it.
    loop = asyncio.get_event_loop()
    for module in loaded:
        loop.run_until_complete(module.app.state.gateway.clients.aclose())
    loop.close()
    asyncio.set_event_loop(None)
    root.handlers[:], root.level = saved_handlers, saved_level


@pytest.mark.parametrize("make_event", [http_api_v2, function_url])
def test_lambda_handlers_serve_real_events(load, make_event) -> None:  # type: ignore[no-untyped-def]
    generate = load("generate")
    body = {"model": "gpt-4o-mini", "prompt": f"from a Lambda event ({make_event.__name__})"}
    response = generate.lambda_handler(make_event("POST", "/api/generate", body=body), LambdaContext())
    assert response["statusCode"] == 202, response
    job_id = json.loads(response["body"])["job_id"]
    assert response["headers"]["x-cache"] == "MISS"

    result = load("result")
    polled = result.lambda_handler(make_event("GET", "/api/result", query=f"id={job_id}"), LambdaContext())
    assert polled["statusCode"] in (200, 202), polled
    # The job belongs to the caller API Gateway saw (requestContext.http.sourceIp), not to anyone else.
    other = result.lambda_handler(
        make_event("GET", "/api/result", query=f"id={job_id}", source_ip="192.0.2.99"), LambdaContext()
    )
    assert other["statusCode"] == 403

    callback = load("callback")
    unsigned = callback.lambda_handler(
        make_event("POST", "/api/callback", body={}, query="job=x"), LambdaContext()
    )
    assert unsigned["statusCode"] == 401


def test_vercel_json_covers_every_function() -> None:
    config = json.loads((REPO / "vercel.json").read_text())
    assert (REPO / config["outputDirectory"] / "index.html").is_file()
    for name in FUNCTIONS:
        function = config["functions"][f"api/{name}.py"]
        assert 1 <= function["maxDuration"] <= 10
        assert function["includeFiles"] == "lib/**"
    assert set(config["functions"]) == {f"api/{p.name}" for p in (REPO / "api").glob("*.py")}


def test_serverless_yml_routes_every_function_to_its_lambda_handler() -> None:
    config = yaml.safe_load((REPO / "serverless.yml").read_text())
    assert config["provider"]["runtime"] == "python3.12"
    assert config["provider"]["httpApi"]["payload"] == "2.0"
    assert {"api/**", "lib/**"} <= set(config["package"]["patterns"])
    for name in FUNCTIONS:
        function = config["functions"][name]
        method, path = ROUTES[name]
        assert function["handler"] == f"api/{name}.lambda_handler"
        routes = [{"httpApi": {"method": method, "path": path}}]
        if name in BROWSER_FACING:  # the CORS preflight must reach the function too
            routes.append({"httpApi": {"method": "OPTIONS", "path": path}})
        assert function["events"] == routes
    for variable in (
        "UPSTASH_REDIS_REST_URL",
        "QSTASH_TOKEN",
        "QSTASH_CURRENT_SIGNING_KEY",
        "LLMEDGE_PUBLIC_URL",
    ):
        assert variable in config["provider"]["environment"]


def test_a_lambda_answers_the_cors_preflight(load, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMEDGE_CORS_ORIGINS", "https://app.example.com")
    generate = load("generate")
    event = http_api_v2("OPTIONS", "/api/generate")
    event["headers"] |= {"origin": "https://app.example.com", "access-control-request-method": "POST"}
    response = generate.lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 200, response
    assert response["headers"]["access-control-allow-origin"] == "https://app.example.com"
