"""The gateway's hit path beside its floor and beside the tutorial baseline, plus cold starts.

One `llmedge dev` stack and one tutorial-style app (`bench/naive.py`) run as child processes; this
process is only the client. Interleaved rounds measure, side by side:

- the floor: one raw keep-alive POST of `["GET", key]` to the Upstash REST bridge;
- an llmedge cache hit through POST /api/generate (admission + cache read in one round trip);
- the baseline's cache hit (sync client: GET, then LREM + RPUSH on an LRU list).

Upstash commands per request are counted by running the gateway in-process over a counting transport.
Cold start: each `api/*.py` loaded the way Vercel loads it, in a fresh interpreter, then its first request.

    llmedge bench gateway [--samples N]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from llmedge.bench.counting import CountingAsyncTransport, CountingTransport, UpstashTally
from llmedge.bench.naive import cache_key as naive_cache_key
from llmedge.bench.report import print_timings
from llmedge.devstack.process import StackProcess, child_environment, dev_stack, free_port, start
from llmedge.devstack.rest_background import served_in_child

REPO = Path(__file__).resolve().parents[3]
# The bench is one anonymous caller sending thousands of requests: its limits must not be what it measures.
BENCH_LIMITS = {
    "LLMEDGE_TIERS": '{"anonymous": {"requests": "10000000/1m", "tokens": "1000000000/1d", "in_flight": 1000}}',
    "LLMEDGE_GLOBAL_LIMIT": "10000000/1m",
}
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "llmedge bench: a cached question"}]}


def run(samples: int = 1000, cold_runs: int = 5, rtts_ms: tuple[float, ...] = (2.0, 5.0)) -> None:
    with tempfile.TemporaryDirectory() as name, dev_stack(Path(name), env=BENCH_LIMITS) as stack:
        folder = Path(name)
        env = {**stack.env, **BENCH_LIMITS}
        asyncio.run(_prime(stack.base_url, env))
        latencies = _served_latencies(env, folder, samples)
        # Loopback has no network: emulate Upstash some ms away with a delaying proxy in front of the
        # bridge, for a gateway (`llmedge serve`), the baseline and the floor alike.
        far_latencies = {rtt_ms: _far_latencies(env, folder, rtt_ms, samples // 2) for rtt_ms in rtts_ms}
        counts = asyncio.run(_command_counts(env))
        naive_counts = _naive_command_counts(env)
        cold = {name: _cold_start(name, env, cold_runs) for name in ("generate", "result", "callback")}
    _report(latencies, counts, naive_counts, cold, samples)
    for rtt_ms, measured in far_latencies.items():
        _report_far(measured, samples // 2, rtt_ms)


def _far_latencies(
    env: Mapping[str, str], folder: Path, rtt_ms: float, samples: int
) -> dict[str, list[float]]:
    target, delay = env["UPSTASH_REDIS_REST_URL"], str(rtt_ms / 1000)
    with served_in_child("llmedge.devstack.rest_proxy", target, delay) as proxy_url:
        return _served_latencies({**env, "UPSTASH_REDIS_REST_URL": proxy_url}, folder, samples)


def _served_latencies(env: Mapping[str, str], folder: Path, samples: int) -> dict[str, list[float]]:
    """The gateway (`llmedge serve`) and the baseline, each in its own uvicorn process, against `env`'s
    Upstash: the same footing for both (the dev stack's own gateway shares its process with the bridge)."""
    with _gateway_server(env, folder) as gateway_url, _naive_server(env, folder) as naive_url:
        return asyncio.run(_latencies(gateway_url, naive_url, env, samples))


@contextmanager
def _gateway_server(env: Mapping[str, str], folder: Path) -> Iterator[str]:
    """`llmedge serve` (the three functions alone) on a free port with `env`."""
    port = free_port()
    server = start(
        ["serve", "--port", str(port)],
        port=port,
        log_path=folder / "serve.log",
        cwd=folder,
        env=child_environment(env),
        ready_path="/api/openapi.json",
    )
    try:
        yield server.base_url
    finally:
        server.stop()


async def _prime(base_url: str, env: Mapping[str, str]) -> None:
    """Put BODY's answer in both caches: llmedge's via a real job, the baseline's with a SET."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        submitted = (await client.post("/api/generate", json=BODY)).json()
        if submitted["status"] != "done":
            deadline = time.monotonic() + 30
            while (await client.get("/api/result", params={"id": submitted["job_id"]})).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the priming job did not finish within 30 s")
                await asyncio.sleep(0.05)
        answer = (await client.post("/api/generate", json=BODY)).json()["result"]
        await _bridge(client, env, ["SET", naive_cache_key(json.dumps(BODY).encode()), json.dumps(answer)])


async def _bridge(client: httpx.AsyncClient, env: Mapping[str, str], command: list[str]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {env['UPSTASH_REDIS_REST_TOKEN']}"}
    return await client.post(env["UPSTASH_REDIS_REST_URL"], json=command, headers=headers)


@contextmanager
def _naive_server(env: Mapping[str, str], folder: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "llmedge.bench.naive:create_app"]
    command += ["--port", str(port), "--log-level", "warning"]
    log_path = folder / "naive.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=child_environment(env), stdout=log, stderr=subprocess.STDOUT)
    server = StackProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{server.base_url}/api/generate", content=b"{}", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the baseline app did not start:\n{server.log()}") from None
                time.sleep(0.1)
        yield server.base_url
    finally:
        server.stop()


async def _latencies(
    base_url: str, naive_url: str, env: Mapping[str, str], samples: int
) -> dict[str, list[float]]:
    floor_body = json.dumps(["GET", "llmedge:bench:floor"]).encode()
    naive_body = json.dumps(BODY).encode()
    headers = {
        "Authorization": f"Bearer {env['UPSTASH_REDIS_REST_TOKEN']}",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        probes: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "floor: 1 bridge round trip": lambda: client.post(
                env["UPSTASH_REDIS_REST_URL"], content=floor_body, headers=headers
            ),
            "llmedge hit (POST /api/generate)": lambda: client.post(f"{base_url}/api/generate", json=BODY),
            "tutorial baseline hit": lambda: client.post(f"{naive_url}/api/generate", content=naive_body),
        }
        timings: dict[str, list[float]] = {name: [] for name in probes}
        timings[_IN_PROCESS] = []
        names = list(probes)
        for round_number in range(samples + 50):
            # Rotate the order each round, so drift and noise hit every probe alike.
            for name in names[round_number % 3 :] + names[: round_number % 3]:
                started = time.perf_counter()
                response = await probes[name]()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{name} answered {response.status_code}: {response.text[:200]}")
                if round_number >= 50:  # warm-up rounds are not counted
                    timings[name].append(elapsed)
                    if "server-timing" in response.headers:
                        phases = _server_timing(response.headers["server-timing"])
                        timings[_IN_PROCESS].append(phases["total"] - phases["admit"])
    return timings


async def _command_counts(env: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """Upstash requests and commands per hit, per miss submit and per poll, counted on the wire."""
    from llmedge.gateway import Gateway
    from llmedge.http.app import create_app
    from llmedge.limits import LimitsConfig
    from llmedge.settings import Settings

    tally = UpstashTally()
    gateway = Gateway.build(
        Settings.from_environ(env), LimitsConfig.from_environ(env), transport=CountingAsyncTransport(tally)
    )
    app = create_app(gateway=gateway)
    counts: dict[str, tuple[int, int]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:

        async def miss() -> str:
            body = {**BODY, "messages": [{"role": "user", "content": f"llmedge bench miss {time.time_ns()}"}]}
            return str((await client.post("/api/generate", json=body)).json()["job_id"])

        # Warm up once: a fresh instance loads each Lua script with one extra EVAL (NOSCRIPT), once.
        await client.get("/api/result", params={"id": await miss()})
        await client.post("/api/generate", json=BODY)
        tally.reset()
        await client.post("/api/generate", json=BODY)
        counts["hit"] = tally.reset()
        job_id = await miss()
        counts["miss (submit)"] = tally.reset()
        await client.get("/api/result", params={"id": job_id})
        counts["poll"] = tally.reset()
    await gateway.clients.aclose()
    return counts


def _naive_command_counts(env: Mapping[str, str]) -> tuple[int, int]:
    from starlette.testclient import TestClient

    from llmedge.bench import naive

    tally = UpstashTally()
    app = naive.create_app(env)
    redis = app.state.redis
    redis._http._client = httpx.Client(transport=CountingTransport(tally))
    with TestClient(app) as client:
        client.post("/api/generate", content=json.dumps(BODY).encode())
    return tally.reset()


def _cold_start(name: str, env: Mapping[str, str], runs: int) -> dict[str, float]:
    """Median import and first-request times of api/<name>.py in fresh interpreters."""
    script = _COLD_SCRIPT.format(path=str(REPO / "api" / f"{name}.py"), name=name, body=json.dumps(BODY))
    results = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", script],
            env=child_environment(env),
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in results) for key in ("import_ms", "first_request_ms")}


# Runs in a fresh interpreter: load the entry file as Vercel's vc_init.py does (spec_from_file_location),
# then serve one request through the ASGI app.
_COLD_SCRIPT = """
import time
started = time.perf_counter()
import importlib.util
spec = importlib.util.spec_from_file_location("entry", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
imported = time.perf_counter()
import asyncio, json, httpx
async def first():
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://fn") as client:
        if {name!r} == "generate":
            return await client.post("/api/generate", json={body})
        if {name!r} == "result":
            return await client.get("/api/result", params={{"id": "job_" + "x" * 22}})
        return await client.post("/api/callback?job=job_x", content=b"{{}}")
response = asyncio.run(first())
done = time.perf_counter()
print(json.dumps({{"import_ms": (imported - started) * 1000, "first_request_ms": (done - started) * 1000,
                  "status": response.status_code}}))
"""


_IN_PROCESS = "gateway's own work (Server-Timing total − admit)"


def _server_timing(header: str) -> dict[str, float]:
    phases = (part.strip().partition(";dur=") for part in header.split(","))
    return {name: float(duration) for name, _, duration in phases}


def _report(
    latencies: dict[str, list[float]],
    counts: dict[str, tuple[int, int]],
    naive_counts: tuple[int, int],
    cold: dict[str, dict[str, float]],
    samples: int,
) -> None:
    floor, hit, naive, own = (statistics.median(v) for v in latencies.values())
    print()
    title = f"Gateway hit path — {samples} interleaved samples each"
    print_timings(title, latencies, baseline="floor: 1 bridge round trip")
    print(
        f"end-to-end overhead beyond the floor (includes the client→gateway hop), p50: {hit - floor:.2f} ms"
    )
    print(f"gateway's own work beyond its one Redis round trip, p50: {own:.2f} ms (target < 2 ms)")
    print(f"llmedge hit / baseline hit, p50: {hit / naive:.2f}x (target <= 0.5x)")
    print("\nUpstash REST requests (round trips) / commands")
    for name, (requests, commands) in counts.items():
        print(f"  llmedge {name:<16} {requests} / {commands}")
    print(f"  baseline hit             {naive_counts[0]} / {naive_counts[1]}")
    print("\nCold start: load api/<name>.py in a fresh interpreter, then serve one request (median ms)")
    for name, figures in cold.items():
        print(
            f"  api/{name + '.py':<12} import {figures['import_ms']:6.1f}   first response {figures['first_request_ms']:6.1f}"
            "   (target < 250)"
        )


def _report_far(latencies: dict[str, list[float]], samples: int, rtt_ms: float) -> None:
    _, hit, naive, _ = (statistics.median(v) for v in latencies.values())
    print()
    title = f"The same, with Upstash {rtt_ms:g} ms away (a delaying proxy in front of the bridge), {samples} samples"
    print_timings(title, latencies, baseline="floor: 1 bridge round trip")
    print(f"llmedge hit / baseline hit, p50: {hit / naive:.2f}x (target <= 0.5x)")


def main() -> None:
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)


if __name__ == "__main__":
    main()
