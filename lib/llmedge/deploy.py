"""Entry points for the platforms: one ASGI app per function, the Lambda adapter, and `llmedge serve`.

Vercel's Python runtime loads `app` from `api/<name>.py`, but refuses to start a file whose module has a
`handler` that is not a `BaseHTTPRequestHandler` subclass (vercel/vercel `packages/python/vc_init.py`
checks `handler` before `app`). The Lambda entry is therefore named `lambda_handler`, which Vercel ignores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from llmedge.http.app import create_app
from llmedge.logs import configure_logging

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def function_app(name: str) -> Starlette:
    """The app behind one deployed function; routing to it is the platform's job."""
    configure_logging()
    return create_app(only=name)


def lambda_handler_for(app: Starlette) -> LambdaHandler:
    """Mangum around the same app: API Gateway v1/v2, ALB and function-URL events.

    Mangum is imported on the first Lambda invocation, not at import: on Vercel, which also imports this
    file, it would only add to every cold start (~60 ms here).
    """
    adapter: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal adapter
        if adapter is None:
            from mangum import Mangum

            # lifespan "off": the app holds no startup state; clients are built when the app is.
            adapter = Mangum(app, lifespan="off")
        return adapter(event, context)

    return lambda_handler


def serve_app() -> Starlette:
    """`llmedge serve`: all the functions and the static page in one process (uvicorn factory)."""
    configure_logging()
    return create_app(serve_public=True)
