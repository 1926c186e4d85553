"""The whole local stack on one port: what `llmedge dev` runs and the integration tests start.

    http://127.0.0.1:3000/redis    Upstash Redis REST bridge  (in front of a real redis-server)
    http://127.0.0.1:3000/qstash   QStash-compatible broker   (messages kept in that Redis)
    http://127.0.0.1:3000/openai   OpenAI-compatible simulator (/openai/v1/...)
    http://127.0.0.1:3000/         the gateway: /api/generate, /api/callback, /api/result, public/

One server, one event loop: the broker's deliveries and the gateway's Redis calls are ordinary HTTP
requests back to the same port, as they would cross the network in production. Starlette does not run the
lifespan of mounted apps, so the stack starts and stops the parts itself (`_lifespan`), and runs
redis-server around the whole server (`run`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

DEFAULT_PORT = 3000
DEFAULT_DATA_DIR = Path(".llmedge")

# The QStash dev server's public test user 1 (PROTOCOLS §4.3; qstash-js `src/dev-server/constants.ts`
# calls them public, dev-only values). Using them lets JS dev-mode tooling accept our broker as well.
DEV_QSTASH_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
DEV_QSTASH_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_QSTASH_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
DEV_REDIS_REST_TOKEN = "llmedge-local-redis-token"
DEV_OPENAI_API_KEY = "sk-llmedge-local"  # the simulator takes any bearer key
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


class StackError(RuntimeError):
    """The stack cannot start; the message is one line meant for the user."""


class LocalStack:
    """The local stack's configuration, its environment, and `run()` to serve it.

    Constructing it starts nothing, so `environment()` can be printed without serving (`--print-env`).
    `environ` supplies the variables the stack honours (tokens, signing keys, OPENAI_*, REDIS_URL,
    LLMEDGE_DEV_TIME_SCALE) and every other setting the gateway reads; it defaults to `os.environ`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        data_dir: Path = DEFAULT_DATA_DIR,
        upstream_latency: float = 0.0,
        time_scale: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.time_scale = _time_scale(time_scale, self.environ)
        if upstream_latency < 0:
            raise StackError(f"the upstream latency must be >= 0 seconds, not {upstream_latency}")
        self.upstream_latency = upstream_latency

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def urls(self) -> dict[str, str]:
        base = self.base_url
        return {
            "page": f"{base}/",
            "api": f"{base}/api/generate",
            "bridge": f"{base}/redis",
            "broker": f"{base}/qstash",
            "simulator": f"{base}/openai/v1",
        }

    def environment(self) -> dict[str, str]:
        """The variables that point the official SDKs and the gateway at this stack."""
        env = self.environ
        base = self.base_url
        # A real model API named in the environment replaces the simulator (which stays mounted).
        if env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"):
            openai_base_url = env.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        else:
            openai_base_url = f"{base}/openai/v1"
        return {
            "UPSTASH_REDIS_REST_URL": f"{base}/redis",
            "UPSTASH_REDIS_REST_TOKEN": env.get("UPSTASH_REDIS_REST_TOKEN") or DEV_REDIS_REST_TOKEN,
            "QSTASH_URL": f"{base}/qstash",
            "QSTASH_TOKEN": env.get("QSTASH_TOKEN") or DEV_QSTASH_TOKEN,
            "QSTASH_CURRENT_SIGNING_KEY": env.get("QSTASH_CURRENT_SIGNING_KEY")
            or DEV_QSTASH_CURRENT_SIGNING_KEY,
            "QSTASH_NEXT_SIGNING_KEY": env.get("QSTASH_NEXT_SIGNING_KEY") or DEV_QSTASH_NEXT_SIGNING_KEY,
            "OPENAI_BASE_URL": openai_base_url,
            "OPENAI_API_KEY": env.get("OPENAI_API_KEY") or DEV_OPENAI_API_KEY,
            "LLMEDGE_PUBLIC_URL": base,
        }

    def build_app(self, redis_url: str, on_ready: Callable[[], None] | None = None) -> Starlette:
        """Every part mounted on one app; its lifespan starts the broker and closes what needs closing."""
        # Imported here: Starlette, numpy and the SDKs cost ~0.4 s, which `--print-env` does not need.
        from starlette.applications import Starlette
        from starlette.routing import BaseRoute, Mount

        from llmedge.devstack.broker import QStashBroker
        from llmedge.devstack.rest_bridge import UpstashBridge
        from llmedge.devstack.simulator import ModelSimulator
        from llmedge.http.app import create_app

        env = self.environment()
        bridge = UpstashBridge(redis_url, token=env["UPSTASH_REDIS_REST_TOKEN"])
        broker = QStashBroker(
            redis_url,
            token=env["QSTASH_TOKEN"],
            current_signing_key=env["QSTASH_CURRENT_SIGNING_KEY"],
            next_signing_key=env["QSTASH_NEXT_SIGNING_KEY"],
            time_scale=self.time_scale,
        )
        gateway = create_app(environ={**self.environ, **env}, serve_public=True)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            # Closed in reverse order, each one even if another fails: broker first (its deliveries use
            # the others), then the gateway's pending stats, the bridge's Redis connections, and last the
            # gateway's HTTP clients.
            async with contextlib.AsyncExitStack() as parts:
                parts.push_async_callback(gateway.state.gateway.clients.aclose)
                parts.push_async_callback(bridge.aclose)
                parts.push_async_callback(gateway.state.gateway.stats.flush)
                await broker.start()
                parts.push_async_callback(broker.stop)
                if on_ready is not None:
                    on_ready()
                yield

        routes: list[BaseRoute] = [
            *bridge.routes("/redis"),  # also answers the bare "/redis", where the SDK posts commands
            Mount("/qstash", broker.app),
            Mount("/openai", ModelSimulator(latency=self.upstream_latency).app),
            Mount("/", gateway),  # last: it takes every path the others did not
        ]
        return Starlette(routes=routes, lifespan=lifespan)

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT or SIGTERM; everything started here is stopped before this returns or raises.

        `on_ready` is called once every part is up. A port in use, a Redis that will not start or a bad
        setting raises `StackError` (or the component's own one-line error) before anything is left running.
        """
        import uvicorn

        from llmedge.devstack.redis_server import RedisServer

        listener = _listen(self.host, self.port)
        # uvicorn handles SIGTERM gracefully while serving, then re-raises it; with the default handler that
        # would kill us before redis-server is stopped. Turning it into SystemExit runs the `finally`s.
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        redis = RedisServer(data_dir=self.data_dir, url=self.environ.get("REDIS_URL") or None)
        try:
            redis.start()
            app = self.build_app(redis.url, on_ready)
            # A slow upstream call must not hold the shutdown: stop waiting for open requests after 5 s.
            # No access log: every request fans out into bridge, broker and simulator calls on this same
            # server, which would bury the user's own requests.
            config = uvicorn.Config(app, lifespan="on", access_log=False, timeout_graceful_shutdown=5)
            server = uvicorn.Server(config)
            server.run(sockets=[listener])
            if not server.started:
                raise StackError("the stack failed to start; see the log above")
        finally:
            redis.stop()
            listener.close()
            signal.signal(signal.SIGTERM, previous)


def _time_scale(explicit: float | None, environ: Mapping[str, str]) -> float:
    raw = explicit if explicit is not None else environ.get("LLMEDGE_DEV_TIME_SCALE", "1.0")
    try:
        scale = float(raw)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise StackError(f"the time scale must be a positive number (got {raw!r}; LLMEDGE_DEV_TIME_SCALE)")
    return scale


def _listen(host: str, port: int) -> socket.socket:
    """Bind the port before starting anything, so a port in use fails fast and leaves nothing behind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does; still fails if taken
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise StackError(f"port {port} on {host} is already in use; pick another with --port") from None
        raise StackError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)
