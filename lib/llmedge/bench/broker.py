"""The QStash broker's publish-to-delivery latency beside a plain HTTP POST to the same destination.

One redis-server; one uvicorn server (in a background thread, its own event loop) hosting the broker
under `/qstash` and a destination that notes when each request arrives, as `llmedge dev` hosts them.
Per round, in a rotating order: a direct httpx POST to the destination, and a publish through the
official `qstash` SDK. Both are timed from just before the call to the destination's arrival; the
publish call's own latency (until QStash answers with the message id) is shown as well. Medians, p99,
and each median as a multiple of the direct POST's.

    python -m llmedge.bench.broker [samples]
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

import httpx
from qstash import QStash
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from llmedge.bench.report import print_timings
from llmedge.devstack.broker import QStashBroker
from llmedge.devstack.redis_server import RedisServer
from llmedge.devstack.rest_background import serve_in_background

_TOKEN = "bench-qstash-token"
_CURRENT_KEY = "sig_BenchCurrentKey0123456789abcd"
_NEXT_KEY = "sig_BenchNextKey0123456789abcdefg"
_ARRIVAL_TIMEOUT_S = 10.0


class _Arrivals:
    """When each request (named by its body) reached the destination, on `time.perf_counter`."""

    def __init__(self) -> None:
        self._times: dict[str, float] = {}
        self._changed = threading.Condition()

    async def endpoint(self, request: Request) -> Response:
        name = (await request.body()).decode()
        with self._changed:
            self._times[name] = time.perf_counter()
            self._changed.notify_all()
        return Response("ok")

    def wait(self, name: str) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: name in self._times, timeout=_ARRIVAL_TIMEOUT_S):
                raise RuntimeError(f"{name} did not arrive within {_ARRIVAL_TIMEOUT_S}s")
            return self._times.pop(name)


def run(samples: int = 200, warmup: int = 20) -> None:
    """Print p50/p99 of publish-to-delivery, of the publish call, and of a direct POST, with ratios."""
    arrivals = _Arrivals()
    with RedisServer() as redis, serve_in_background(_app(redis.url, arrivals)) as base:
        client = QStash(_TOKEN, base_url=f"{base}/qstash", retry=False)
        try:
            with httpx.Client() as direct:
                timings = _measure(direct, client, f"{base}/destination", arrivals, samples, warmup)
        finally:
            client.http._client.close()  # QStash has no close() of its own (qstash 3.4.0)
    _report(timings, samples)


def _app(redis_url: str, arrivals: _Arrivals) -> Starlette:
    broker = QStashBroker(
        redis_url, token=_TOKEN, current_signing_key=_CURRENT_KEY, next_signing_key=_NEXT_KEY
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await broker.start()  # a mounted app gets no lifespan of its own
        try:
            yield
        finally:
            await broker.stop()

    routes = [Mount("/qstash", broker.app), Route("/destination", arrivals.endpoint, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def _measure(
    direct: httpx.Client,
    client: QStash,
    destination: str,
    arrivals: _Arrivals,
    samples: int,
    warmup: int,
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {
        "direct POST → arrival": [],
        "publish → delivery arrival": [],
        "publish call (until messageId)": [],
    }

    def post_directly(name: str) -> None:
        started = time.perf_counter()
        direct.post(destination, content=name).raise_for_status()
        record("direct POST → arrival", arrivals.wait(name) - started)

    def publish(name: str) -> None:
        started = time.perf_counter()
        client.message.publish(url=destination, body=name)
        record("publish call (until messageId)", time.perf_counter() - started)
        record("publish → delivery arrival", arrivals.wait(name) - started)

    measuring = False

    def record(label: str, seconds: float) -> None:
        if measuring:
            timings[label].append(seconds * 1000)

    probes: list[Callable[[str], None]] = [post_directly, publish]
    for round_number in range(warmup + samples):
        measuring = round_number >= warmup
        shift = round_number % len(probes)
        for probe in probes[shift:] + probes[:shift]:
            probe(f"{probe.__name__}-{round_number}")
    return timings


def _report(timings: dict[str, list[float]], samples: int) -> None:
    title = f"QStash broker vs a direct POST to the same destination, {samples} interleaved samples"
    print_timings(title, timings, baseline="direct POST → arrival", column="path")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
