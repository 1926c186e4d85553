"""An OpenAI-compatible model API for local runs and tests (an ASGI app).

Model endpoints (`Authorization: Bearer <anything non-empty>`):
    POST /v1/chat/completions, /v1/images/generations, /v1/embeddings
    GET  /v1/images/files/<name>.png     (the images the `url` answers point at)
Control endpoints (no auth; local only):
    GET|POST /_sim/config   {latency, error_rate, seed}: read or change the dials
    POST /_sim/reset        forget calls and delivery counts, restore the dials given at construction
    GET  /_sim/stats        {calls, by_endpoint, in_flight, max_in_flight}
    GET  /_sim/calls?contains=<text>
                            {count, calls: [{endpoint, model, prompt, delivery, status, started, ended}]}

Answers are deterministic (`simulator_answers`); faults come from the dials or from `[sim:…]` directives in
the prompt (`simulator_faults`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from llmedge.devstack import simulator_answers as answers
from llmedge.devstack.simulator_calls import CallLog, CallRecord
from llmedge.devstack.simulator_errors import SimulatedError
from llmedge.devstack.simulator_faults import DeliveryCounter, Dials, parse_directives
from llmedge.devstack.simulator_requests import (
    IMAGE_SIZES,
    ChatRequest,
    EmbeddingRequest,
    ImageRequest,
    ModelRequest,
    parse_json,
    validate,
)

logger = logging.getLogger(__name__)

Body = TypeVar("Body", bound=ModelRequest)
Answer = Callable[[Body, str], dict[str, Any]]  # (validated body, request digest) -> response JSON

_IMAGE_FILE = re.compile(r"([0-9a-f]{16})-(\d+x\d+)\.png")


class _DialChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None


class ModelSimulator:
    """The simulator's state (dials, delivery counts, call log) and its ASGI `app`."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        error_rate: float = 0.0,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`sleep` waits out the latency; tests pass their own to observe it without timing anything."""
        self._sleep = sleep
        self._initial = Dials(latency, error_rate, seed)
        self.dials = Dials(latency, error_rate, seed)
        self.calls = CallLog()
        self._deliveries = DeliveryCounter()
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/images/generations", self._images, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/v1/images/files/{name}", self._image_file, methods=["GET"]),
                Route("/_sim/config", self._config, methods=["GET", "POST"]),
                Route("/_sim/reset", self._reset, methods=["POST"]),
                Route("/_sim/stats", self._stats, methods=["GET"]),
                Route("/_sim/calls", self._calls, methods=["GET"]),
            ],
            exception_handlers={HTTPException: _http_error},
        )

    async def _chat(self, request: Request) -> Response:
        return await self._serve(request, "/v1/chat/completions", ChatRequest, answers.chat_completion)

    async def _images(self, request: Request) -> Response:
        # Built from the mount point (root_path) rather than with url_for, which walks the enclosing
        # router and fails on any mounted app exposing a `routes` attribute that is not a list.
        files = f"{request.scope.get('root_path', '')}/v1/images/files/"

        def generate(image_request: ImageRequest, digest: str) -> dict[str, Any]:
            return answers.image_generation(
                image_request, digest, lambda name: str(request.url.replace(path=files + name, query=""))
            )

        return await self._serve(request, "/v1/images/generations", ImageRequest, generate)

    async def _embeddings(self, request: Request) -> Response:
        return await self._serve(
            request, "/v1/embeddings", EmbeddingRequest, lambda body, _digest: answers.embeddings(body)
        )

    async def _serve(
        self, request: Request, endpoint: str, schema: type[Body], answer: Answer[Body]
    ) -> Response:
        record = self.calls.begin(endpoint)
        status = 499  # nginx's "client closed request": cancelled (e.g. at shutdown) before answering
        try:
            try:
                response: Response = JSONResponse(await self._answer(request, record, schema, answer))
            except SimulatedError as error:
                response = error.response()
            except Exception:  # a bug here must still look like an upstream 500, not a dropped connection
                logger.exception("the model simulator failed on %s", endpoint)
                response = SimulatedError(
                    500, "The simulator failed; see its log.", type="server_error"
                ).response()
            status = response.status_code
            return response
        finally:
            self.calls.end(record, status)

    async def _answer(
        self, request: Request, record: CallRecord, schema: type[Body], answer: Answer[Body]
    ) -> dict[str, Any]:
        _check_api_key(request)
        payload = parse_json(await request.body())
        body = validate(schema, payload)
        record.model, record.prompt = body.model, body.prompt_text()
        directives = parse_directives(record.prompt)
        digest = answers.request_digest(payload)
        record.delivery = self._deliveries.next(digest)
        latency = self.dials.latency if directives.latency is None else directives.latency
        if latency > 0:
            await self._sleep(latency)
        failure = directives.failure_for(record.delivery) or self.dials.random_failure()
        if failure is not None:
            raise failure
        return answer(body, digest)

    async def _image_file(self, request: Request) -> Response:
        match = _IMAGE_FILE.fullmatch(request.path_params["name"])
        if match is None or match[2] not in IMAGE_SIZES:  # only sizes it generates: no 9999x9999 bombs
            raise HTTPException(404)
        return Response(answers.image_png(match[1], match[2]), media_type="image/png")

    async def _config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                change = validate(_DialChange, parse_json(await request.body()))
            except SimulatedError as error:
                return error.response()
            # A new Dials re-seeds its generator: after a change, the failure sequence is reproducible.
            self.dials = dataclasses.replace(self.dials, **change.model_dump(exclude_none=True))
        return JSONResponse(self.dials.as_dict())

    async def _reset(self, request: Request) -> Response:
        self.calls.reset()
        self._deliveries.clear()
        self.dials = dataclasses.replace(self._initial)
        return JSONResponse({"reset": True, **self.dials.as_dict()})

    async def _stats(self, request: Request) -> Response:
        return JSONResponse({**self.calls.stats(), "config": self.dials.as_dict()})

    async def _calls(self, request: Request) -> Response:
        found = self.calls.find(request.query_params.get("contains", ""))
        return JSONResponse({"count": len(found), "calls": found})


def _check_api_key(request: Request) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise SimulatedError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )


async def _http_error(request: Request, error: Exception) -> Response:
    """Unknown paths and wrong methods answer as OpenAI does: JSON, naming the request."""
    status = error.status_code if isinstance(error, HTTPException) else 500
    message = f"Invalid URL ({request.method} {request.url.path})"
    return SimulatedError(status, message).response()
