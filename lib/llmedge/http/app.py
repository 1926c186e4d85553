"""The ASGI application: routes, one error boundary, and the per-instance `Gateway`.

`create_app()` reads and validates the settings at once, so a misconfigured deployment fails at cold start
with a message naming the variable, not on its first request.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from llmedge.errors import LLMEdgeError, MethodNotAllowed
from llmedge.gateway import Gateway
from llmedge.http.cors import cors_middleware
from llmedge.http.responses import (
    ServerTiming,
    error_response,
    request_id_for,
    unexpected_error_response,
)
from llmedge.limits import LimitsConfig
from llmedge.logs import bind_request_id
from llmedge.settings import Settings

Handler = Callable[[Gateway, Request, ServerTiming, str], Awaitable[Response]]

PUBLIC_DIR = Path(__file__).resolve().parents[3] / "public"


def _endpoint(gateway: Gateway, handler: Handler, method: str) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in the one error boundary: library errors → their status, bugs → JSON 500."""

    async def endpoint(request: Request) -> Response:
        timing = ServerTiming()
        request_id = request_id_for(request)
        with bind_request_id(request_id):
            try:
                if request.method != method:
                    raise MethodNotAllowed(
                        f"{request.url.path} accepts {method} only", headers={"Allow": method}
                    )
                return await handler(gateway, request, timing, request_id)
            except LLMEdgeError as error:
                return error_response(error, timing=timing, request_id=request_id)
            except Exception as error:
                return unexpected_error_response(error, request_id=request_id)

    return endpoint


# name → (module, handler, method). Modules are imported only for the functions an app serves, so a
# deployed /api/result does not pay at cold start for what only /api/generate needs.
FUNCTIONS: dict[str, tuple[str, str, str]] = {
    "generate": ("llmedge.http.generate", "handle_generate", "POST"),
    "callback": ("llmedge.http.callback", "handle_callback", "POST"),
    "result": ("llmedge.http.result", "handle_result", "GET"),
    "report": ("llmedge.http.report", "handle_report", "POST"),
    "stats": ("llmedge.http.stats", "handle_stats", "GET"),
    "openapi.json": ("llmedge.http.openapi", "handle_openapi", "GET"),
}
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def api_routes(gateway: Gateway, names: list[str]) -> list[BaseRoute]:
    # Every method is routed so that a wrong one gets our JSON 405, not Starlette's plain-text one.
    routes: list[BaseRoute] = []
    for name in names:
        module, handler, method = FUNCTIONS[name]
        function = getattr(importlib.import_module(module), handler)
        routes.append(Route(f"/api/{name}", _endpoint(gateway, function, method), methods=_ALL_METHODS))
    return routes


def create_app(
    settings: Settings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    serve_public: bool = False,
    gateway: Gateway | None = None,
    only: str | None = None,
) -> Starlette:
    """The functions in one app (`only` one of them, for a deployed function), plus the static page
    for `llmedge dev` / `llmedge serve`."""
    if gateway is None:
        environ = os.environ if environ is None else environ
        gateway = Gateway.build(
            settings or Settings.from_environ(environ), LimitsConfig.from_environ(environ)
        )
    routes = api_routes(gateway, [only] if only else list(FUNCTIONS))
    if serve_public and PUBLIC_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=PUBLIC_DIR, html=True), name="public"))
    middleware = cors_middleware(gateway.settings.cors_origins)
    app = Starlette(routes=routes, middleware=middleware, lifespan=_closing(gateway))
    app.state.gateway = gateway
    return app


def _closing(gateway: Gateway) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """On shutdown (uvicorn under `llmedge serve` and Vercel), send pending stats, then close clients."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await gateway.stats.flush()
            await gateway.clients.aclose()

    return lifespan
