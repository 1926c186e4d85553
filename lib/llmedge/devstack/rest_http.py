"""The raw-ASGI edge of the REST bridge: read a request into plain data, send a response back.

Raw ASGI rather than Starlette's Request because the bridge needs the *raw* path (a key may contain an
encoded `/`), must work both at the root and under `Mount("/redis", ...)`, and must cap the body size
while reading it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_to_bytes

from starlette.types import Receive, Scope, Send

from llmedge.devstack.rest_commands import RestError

# Upstash's own curl examples post JSON under curl's default form content type; see rest_bridge.
_JSON_CONTENT_TYPES = frozenset({"", "application/json", "application/x-www-form-urlencoded", "text/plain"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    segments: list[bytes]  # the path below the mount point, split on "/" and percent-decoded
    query: list[tuple[str, str]]
    headers: dict[str, list[str]]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, send: Send, include_body: bool = True) -> None:
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"content-length", str(len(self.body)).encode()),
            *self.headers,
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body if include_body else b""})


def json_response(
    status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> HttpResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpResponse(status, body, headers=headers or [])


def error_response(error: RestError) -> HttpResponse:
    return json_response(error.status, {"error": error.message})


def route_segments(scope: Scope) -> list[bytes]:
    """Path segments below the mount point, from the raw path so that `%2F` inside a key survives.

    Leading empty segments are dropped: the SDK builds `{url}/pipeline` by concatenation, so a
    configured URL ending in `/` yields `//pipeline` (PROTOCOLS §1.1). One trailing `/` is ignored.
    """
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    root_path: str = scope.get("root_path", "")
    segments = raw_path.split(b"/")
    # Under Starlette's Mount the raw path still carries the mount prefix; behind a proxy that
    # stripped it (uvicorn --root-path) it does not. Drop the prefix only where it is present.
    if root_path and unquote(raw_path.decode("latin-1")).startswith(root_path):
        segments = segments[len(root_path.rstrip("/").split("/")) :]
    while segments and segments[0] == b"":
        segments.pop(0)
    if segments and segments[-1] == b"":
        segments.pop()
    return [unquote_to_bytes(segment) for segment in segments]


async def read_request(scope: Scope, receive: Receive, max_body_bytes: int) -> HttpRequest:
    """Collect the request; refuse with 413 as soon as the body is known to exceed the cap."""
    headers: dict[str, list[str]] = {}
    for name, value in scope.get("headers", []):
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1").strip())
    too_large = RestError(413, f"ERR request body exceeds the bridge's limit of {max_body_bytes} bytes")
    declared = headers.get("content-length", ["0"])[-1]
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body_bytes:
            raise too_large
        chunks.append(chunk)
        more = message.get("more_body", False)
    return HttpRequest(
        method=scope["method"].upper(),
        segments=route_segments(scope),
        query=parse_qsl(scope.get("query_string", b"").decode(errors="replace"), keep_blank_values=True),
        headers=headers,
        body=b"".join(chunks),
    )


def method_not_allowed(method: str, allowed: tuple[str, ...]) -> HttpResponse:
    message = f"Method {method} not allowed here; use {', '.join(allowed)}"
    return json_response(405, {"error": message}, [(b"allow", ", ".join(allowed).encode())])


def require_json_content_type(request: HttpRequest) -> None:
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type not in _JSON_CONTENT_TYPES and not content_type.endswith("+json"):
        raise RestError(415, f"ERR unsupported content type '{content_type}': send the command as JSON")


def wants_resp2(request: HttpRequest, base64_strings: bool) -> bool:
    """`Upstash-Response-Format` (§1.7): `json` (default) or `resp2`; resp2 cannot be base64."""
    response_format = (request.header("upstash-response-format") or "json").lower()
    if response_format not in ("json", "resp2"):
        raise RestError(400, f"ERR invalid Upstash-Response-Format '{response_format}': use json or resp2")
    if response_format == "resp2" and base64_strings:
        raise RestError(
            400, "ERR Upstash-Response-Format resp2 cannot be combined with Upstash-Encoding base64"
        )
    return response_format == "resp2"
