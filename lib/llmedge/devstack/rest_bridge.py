"""An Upstash-Redis-REST-compatible bridge in front of a real Redis (PROTOCOLS §1), as an ASGI app.

    bridge = UpstashBridge("redis://127.0.0.1:6379/0", token="dev-token", readonly_token="dev-ro")
    app = Starlette(routes=bridge.routes("/redis"))   # or serve `bridge.app` at the root

Endpoints: `POST /` (one JSON command), `POST /pipeline`, `POST /multi-exec` (atomic), the path
form `/{cmd}/{arg}...?{name}={value}` with GET/HEAD/POST/PUT, and the event streams `/subscribe/{channel}`
and `/monitor` (rest_streams). Behaviour chosen where Upstash's is not
documented, for the official SDKs (which never read the status, only the JSON body, §1.4):

| case | status | body |
|---|---|---|
| success | 200 | `{"result": ...}`; pipeline/multi-exec: `[{"result"|"error": ...}, ...]` |
| Redis error (single command) | 400 | `{"error": "<Redis text with its ERR/WRONGTYPE prefix>"}` |
| transaction discarded (refused or unqueueable command) | 400 | `{"error": "<first cause>"}` |
| command unsupported over REST (blocking, WATCH, SUBSCRIBE...) | 400 | `{"error": "ERR Command is not available: ..."}` |
| read-only token running a write | 400 | `{"error": "NOPERM this user has no permissions ..."}` (an ACL error, as for Redis) |
| malformed JSON, not an array, null/object arguments, bad header value | 400 | `{"error": "ERR ..."}` |
| missing or unknown token | 401 | `{"error": "Unauthorized: ..."}` |
| method other than GET/HEAD/POST/PUT (or GET on /pipeline, /multi-exec) | 405 | `{"error": ...}` + `Allow` |
| body larger than `max_body_bytes` | 413 | `{"error": "ERR request body exceeds ..."}` |
| body content type that is not JSON-ish (e.g. multipart/form-data) | 415 | `{"error": ...}` |
| Redis unreachable | 503 | `{"error": "ERR Redis is unavailable: ..."}` |

With `Upstash-Response-Format: resp2` (§1.7) a single command or pipeline answers with the raw RESP2
bytes (`application/octet-stream`), statuses as above; `/multi-exec` always answers JSON.

Content type: Upstash's own curl examples send a JSON array with curl's default
`application/x-www-form-urlencoded`, so besides `application/json` (the SDK's) and `*+json`, the bridge
accepts that, `text/plain` and no content type at all; anything else gets 415.

`Upstash-Sync-Token` (§1.6): a counter, seeded from the clock so it keeps increasing across restarts,
advanced by every request that runs a command that may write, returned on every command response. The
request's token (empty on the SDK's first call) is accepted and ignored: one node is always caught up.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import time

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from llmedge.devstack.resp import RedisAddress, RedisUnavailable, RespError, encode_reply
from llmedge.devstack.rest_commands import RestError, parse_command, parse_commands, path_command
from llmedge.devstack.rest_encoding import json_item
from llmedge.devstack.rest_executor import Outcome, RedisExecutor
from llmedge.devstack.rest_http import (
    HttpRequest,
    HttpResponse,
    error_response,
    json_response,
    method_not_allowed,
    read_request,
    require_json_content_type,
    wants_resp2,
)
from llmedge.devstack.rest_streams import EventStreams

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # Upstash's smallest plan limit on request size (10 MB)
_METHODS = ("GET", "HEAD", "POST", "PUT")  # docs `restapi.mdx`: anything else is 405
_BODY_METHODS = ("POST", "PUT")
_STREAM_METHODS = ("GET", "POST")  # the docs use POST; GET lets a browser's EventSource subscribe


class UpstashBridge:
    """The bridge; `app` is its ASGI application. Needs no lifespan events (connections open lazily)."""

    def __init__(
        self,
        redis_url: str,
        token: str,
        readonly_token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        pool_size: int = 16,
    ) -> None:
        if not token:
            raise ValueError("the bridge needs a non-empty token")
        self._executor = RedisExecutor(redis_url, pool_size)
        self._streams = EventStreams(RedisAddress.from_url(redis_url))
        self._token = token.encode()
        self._readonly_token = readonly_token.encode() if readonly_token else None
        self._max_body_bytes = max_body_bytes
        self._sync_counter = itertools.count(time.time_ns() // 1000)
        self._sync_token = str(next(self._sync_counter))
        self.app: ASGIApp = _AsgiEntry(self._serve)

    def routes(self, prefix: str = "/redis") -> list[BaseRoute]:
        """Starlette routes serving the bridge under `prefix`, the bare prefix included.

        A plain `Mount(prefix, app)` answers `POST {prefix}` (what the SDK sends for a single command
        when the REST URL has no trailing slash) with a 307 redirect that httpx does not follow.
        """
        prefix = prefix.rstrip("/")
        return [Route(prefix, _AtPrefix(self.app, prefix)), Mount(prefix, self.app)]

    async def aclose(self) -> None:
        """Close the pooled connections of the current event loop and end every open stream."""
        self._streams.close_all()
        await self._executor.aclose()

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # only when served on its own; never under a Mount
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not part of the REST API; the server refuses the handshake
        try:
            request = await read_request(scope, receive, self._max_body_bytes)
            if request.segments[:1] in ([b"subscribe"], [b"monitor"]):
                refusal = await self._serve_stream(request, receive, send)
                if refusal is None:
                    return
                response = refusal
            else:
                response = await self.handle(request)
        except RestError as exc:
            response = error_response(exc)
        except RedisUnavailable as exc:
            response = json_response(503, {"error": f"ERR Redis is unavailable: {exc}"})
        except Exception:
            logger.exception("the Upstash REST bridge failed on %s %s", scope["method"], scope["path"])
            response = json_response(500, {"error": "ERR internal error in the REST bridge (see its log)"})
        await response.send(send, include_body=scope["method"] != "HEAD")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """One request as plain data in, one response out."""
        if request.method not in _METHODS:
            return method_not_allowed(request.method, _METHODS)
        read_only = self._authenticate(request)
        base64_strings = any(v.lower() == "base64" for v in request.headers.get("upstash-encoding", []))
        segments = request.segments
        if segments in ([b"pipeline"], [b"multi-exec"]):
            if request.method not in _BODY_METHODS:
                return method_not_allowed(request.method, _BODY_METHODS)
            require_json_content_type(request)
            commands = parse_commands(request.body)
            if segments == [b"multi-exec"]:  # always JSON, whatever Upstash-Response-Format says (§1.7)
                return self._render_transaction(
                    await self._executor.transaction(commands, read_only), base64_strings
                )
            resp2 = wants_resp2(request, base64_strings)
            return self._render_pipeline(
                await self._executor.pipeline(commands, read_only), base64_strings, resp2
            )
        if segments:
            query = [(name, value) for name, value in request.query if name != "_token"]
            command = path_command(segments, query, request.body if request.method in _BODY_METHODS else b"")
        elif request.method in _BODY_METHODS:
            require_json_content_type(request)
            command = parse_command(request.body)
        else:
            raise RestError(400, 'ERR no command: POST a JSON array such as ["PING"], or GET /ping')
        resp2 = wants_resp2(request, base64_strings)
        return self._render_single(await self._executor.pipeline([command], read_only), base64_strings, resp2)

    async def _serve_stream(self, request: HttpRequest, receive: Receive, send: Send) -> HttpResponse | None:
        """SSE endpoints (see rest_streams); a response when refused, None once the stream has ended."""
        if request.method not in _STREAM_METHODS:
            return method_not_allowed(request.method, _STREAM_METHODS)
        read_only = self._authenticate(request)
        endpoint, *channels = request.segments
        if endpoint == b"subscribe":
            if not channels:
                raise RestError(400, "ERR name the channel: /subscribe/<channel>")
            await self._streams.stream([b"SUBSCRIBE", *channels], True, receive, send)
            return None
        if channels:
            raise RestError(400, "ERR /monitor takes no arguments")
        if read_only:
            raise RestError(400, "NOPERM this user has no permissions to run the 'monitor' command")
        await self._streams.stream([b"MONITOR"], False, receive, send)
        return None

    def _authenticate(self, request: HttpRequest) -> bool:
        """True for the read-only token, False for the full one; 401 otherwise (docs `restapi.mdx`)."""
        token: str | None = None
        scheme, _, credentials = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            token = credentials.strip()
        if not token:
            token = next((value for name, value in request.query if name == "_token"), None)
        if not token:
            raise RestError(
                401, "Unauthorized: send the token as 'Authorization: Bearer <token>' or ?_token="
            )
        given = token.encode()
        if hmac.compare_digest(given, self._token):
            return False
        if self._readonly_token is not None and hmac.compare_digest(given, self._readonly_token):
            return True
        raise RestError(401, "Unauthorized: invalid token")

    def _sync_header(self, outcome: Outcome) -> list[tuple[bytes, bytes]]:
        if outcome.wrote:
            self._sync_token = str(next(self._sync_counter))
        return [(b"upstash-sync-token", self._sync_token.encode())]

    def _render_single(self, outcome: Outcome, base64_strings: bool, resp2: bool) -> HttpResponse:
        assert isinstance(outcome.replies, list)  # only transactions fail as a whole
        reply = outcome.replies[0]
        status = 400 if isinstance(reply, RespError) else 200
        if resp2:
            return HttpResponse(
                status, encode_reply(reply), "application/octet-stream", self._sync_header(outcome)
            )
        return json_response(status, json_item(reply, base64_strings), self._sync_header(outcome))

    def _render_pipeline(self, outcome: Outcome, base64_strings: bool, resp2: bool) -> HttpResponse:
        assert isinstance(outcome.replies, list)
        if resp2:
            body = b"".join(encode_reply(reply) for reply in outcome.replies)
            return HttpResponse(200, body, "application/octet-stream", self._sync_header(outcome))
        items = [json_item(reply, base64_strings) for reply in outcome.replies]
        return json_response(200, items, self._sync_header(outcome))

    def _render_transaction(self, outcome: Outcome, base64_strings: bool) -> HttpResponse:
        if isinstance(outcome.replies, RespError):
            return json_response(400, {"error": outcome.replies.message}, self._sync_header(outcome))
        items = [json_item(reply, base64_strings) for reply in outcome.replies]
        return json_response(200, items, self._sync_header(outcome))


class _AsgiEntry:
    """The bridge as an ASGI app: an object with an async `__call__` and nothing else.

    Not a bound method: uvicorn treats callables whose `__call__` is not a coroutine function as ASGI2.
    Not the bridge itself: Starlette's `url_for` walks the `routes` attribute of every mounted app,
    and the bridge's `routes()` is a method.
    """

    def __init__(self, serve: ASGIApp) -> None:
        self._serve = serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send)


class _AtPrefix:
    """An ASGI app served at exactly `prefix` by a plain Route, seeing `prefix` as its root path.

    A class, not a function: Starlette's Route wraps plain functions as request/response endpoints.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "root_path": scope.get("root_path", "") + self.prefix}, receive, send)
