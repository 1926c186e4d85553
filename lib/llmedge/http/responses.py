"""Every HTTP response the gateway sends is built here; library errors become statuses in one place."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from llmedge.errors import LLMEdgeError

log = logging.getLogger("llmedge.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_for(request: Request) -> str:
    """The caller's X-Request-Id when it is sane, else a new one; it goes back in the response."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else "req_" + secrets.token_hex(8)


class ServerTiming:
    """Collects phase durations for the `Server-Timing` header (shown in browsers' network panels)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._phases: list[tuple[str, float]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._phases.append((name, (time.perf_counter() - started) * 1000))

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._started) * 1000

    def header(self) -> str:
        total = (time.perf_counter() - self._started) * 1000
        parts = [f"{name};dur={ms:.2f}" for name, ms in self._phases]
        return ", ".join([*parts, f"total;dur={total:.2f}"])


def json_response(
    body: Any,
    status: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
    timing: ServerTiming | None = None,
    request_id: str | None = None,
) -> Response:
    all_headers = dict(headers or {})
    if timing is not None:
        all_headers["Server-Timing"] = timing.header()
    if request_id is not None:
        all_headers["X-Request-Id"] = request_id
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=all_headers, media_type="application/json")


def error_response(
    error: LLMEdgeError,
    *,
    timing: ServerTiming | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    merged = {**(headers or {}), **error.headers}
    return json_response(error.body(), error.status, headers=merged, timing=timing, request_id=request_id)


def unexpected_error_response(error: BaseException, *, request_id: str) -> Response:
    """A bug: logged with the request id, answered with a JSON 500 that names the id, never a traceback."""
    log.exception("unhandled error", extra={"request_id": request_id}, exc_info=error)
    body = {"error": {"code": "internal_error", "message": f"internal error (request id {request_id})"}}
    return json_response(body, 500, request_id=request_id)
