"""GET /api/openapi.json: an OpenAPI 3.1 document of the public API, generated from `llmedge.schemas`.

msgspec emits JSON Schema 2020-12, which is what OpenAPI 3.1 uses, so the schemas go into
`components.schemas` unchanged. The document is built once per instance and served from memory.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from llmedge import __version__
from llmedge.gateway import Gateway
from llmedge.http.responses import ServerTiming, json_response
from llmedge.schemas import (
    CallbackBody,
    DoneResponse,
    ErrorResponse,
    FailedResponse,
    FalseHitReport,
    GenerateRequest,
    PendingResponse,
)
from llmedge.stats_report import summarize

_SCHEMAS: list[type[msgspec.Struct]] = [
    GenerateRequest,
    CallbackBody,
    FalseHitReport,
    DoneResponse,
    PendingResponse,
    FailedResponse,
    ErrorResponse,
]
_REF = "#/components/schemas/{name}"


def _ref(schema: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": _REF.format(name=schema.__name__)}


def _header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


_X_CACHE = _header("HIT | SEMANTIC-HIT | MISS | BYPASS | REFRESH")
_COMMON_HEADERS = {
    "X-Request-Id": _header("This request's id; it is also in the gateway's logs."),
    "Server-Timing": _header("Phase durations in ms (admit, job, publish, total)."),
}
_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("The limit closest to running out.", "integer"),
    "RateLimit-Remaining": _header("What is left of it.", "integer"),
    "RateLimit-Reset": _header("Seconds until it resets.", "integer"),
    "RateLimit-Policy": _header('The tier\'s limits, e.g. `60;w=60;comment="requests"`.'),
}


def _json(schema: dict[str, Any], description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {**_COMMON_HEADERS, **{name.replace("_", "-"): h for name, h in headers.items()}},
        "content": {"application/json": {"schema": schema}},
    }


def _error(description: str, **headers: dict[str, Any]) -> dict[str, Any]:
    return _json(_ref(ErrorResponse), description, **headers)


_RETRY_AFTER = _header("Seconds to wait before trying again.", "integer")
_AGE = _header("Seconds since the cached answer was stored.", "integer")
_GENERATE = {
    "post": {
        "operationId": "generate",
        "summary": "Answer from the cache, or queue the model call and return a job to poll",
        "security": [{}, {"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(GenerateRequest)}}},
        "responses": {
            "200": _json(_ref(DoneResponse), "Answered from the cache", X_Cache=_X_CACHE, Age=_AGE),
            "202": _json(
                _ref(PendingResponse),
                "Queued: poll `result_url`",
                Location=_header("The result URL."),
                Retry_After=_RETRY_AFTER,
                X_Cache=_X_CACHE,
            ),
            "400": _error("Not JSON, or not a JSON object"),
            "401": _error("Unknown or revoked API key, or a key is required"),
            "413": _error("Body larger than LLMEDGE_MAX_BODY_BYTES"),
            "422": _error("A field is invalid; `error.field` names it (the first one found)"),
            "429": _error("A limit refused the request", Retry_After=_RETRY_AFTER, **_LIMIT_HEADERS),
            "503": _error(
                "The job could not be queued (nothing was left half-written)", Retry_After=_RETRY_AFTER
            ),
        },
    }
}
_RESULT = {
    "get": {
        "operationId": "result",
        "summary": "Poll a job",
        "security": [{}, {"apiKey": []}],
        "parameters": [
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string", "pattern": "^job_"}},
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": _json(
                {
                    "oneOf": [_ref(DoneResponse), _ref(FailedResponse)],
                    "discriminator": {"propertyName": "status"},
                },
                "The job is done or failed",
                ETag=_header("Changes whenever the job does."),
            ),
            "202": _json(_ref(PendingResponse), "Still running", Retry_After=_RETRY_AFTER),
            "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
            "400": _error("The `id` parameter is missing"),
            "403": _error("The job belongs to another caller"),
            "404": _error("No such job, or it has expired"),
            "503": _error("The data store cannot be reached"),
        },
    }
}
_CALLBACK = {
    "post": {
        "operationId": "callback",
        "summary": "QStash reports a model call's outcome (QStash only: signed)",
        "parameters": [
            {"name": "job", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "Upstash-Signature", "in": "header", "required": True, "schema": {"type": "string"}},
            {"name": "Upstash-Message-Id", "in": "header", "required": True, "schema": {"type": "string"}},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(CallbackBody)}}},
        "responses": {
            "200": _json({"type": "object"}, "Processed, or recognised as a duplicate"),
            "400": _error("Not a callback body"),
            "401": _error("Bad, expired, tampered or other-URL signature"),
            "503": _error("The data store cannot be reached; QStash retries"),
        },
    }
}

_REPORT = {
    "post": {
        "operationId": "report",
        "summary": "Report a wrong semantic hit: its cache entry is evicted",
        "security": [{"apiKey": []}, {}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(FalseHitReport)}}},
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "properties": {"evicted": {"type": "boolean"}, "entry_id": {"type": "string"}},
                },
                "Whether an entry was evicted",
            ),
            "400": _error("Not JSON, or not a JSON object"),
            "401": _error("Bad or revoked API key"),
            "413": _error("Body larger than 16 KiB"),
            "422": _error("Not an entry id"),
            "503": _error("The data store cannot be reached"),
        },
    }
}


def _stats_path() -> dict[str, Any]:
    example = summarize({}, {}, {})
    return {
        "get": {
            "operationId": "stats",
            "summary": "Hit rates, tokens and dollars saved and billed, refusals, latency percentiles",
            "security": [{"adminKey": []}],
            "responses": {
                "200": _json({"type": "object", "example": example}, "The stats report"),
                "401": _error("Missing or wrong admin key"),
                "404": _error("LLMEDGE_ADMIN_KEY is not set: the endpoint is disabled"),
            },
        }
    }


# The rules of `Generation.parse` that a Struct cannot state: a chat request gives exactly one of
# `messages` and `prompt` (null counts as absent); an image request gives a non-empty `prompt` only.
_GENERATE_RULES = {
    "oneOf": [
        {"required": ["messages"], "properties": {"messages": {"type": "array"}, "prompt": {"type": "null"}}},
        {"required": ["prompt"], "properties": {"prompt": {"type": "string"}, "messages": {"type": "null"}}},
    ],
    "if": {"required": ["kind"], "properties": {"kind": {"const": "image"}}},
    "then": {"required": ["prompt"], "properties": {"prompt": {"type": "string", "minLength": 1}}},
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components(_SCHEMAS, ref_template=_REF)
    schemas[GenerateRequest.__name__] |= _GENERATE_RULES
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llmedge",
            "version": __version__,
            "description": "An AI gateway for HTTP-only serverless: submit, then poll. "
            'Every error body is `{"error": {"code", "message", "field"?}}`.',
        },
        "paths": {
            "/api/generate": _GENERATE,
            "/api/result": _RESULT,
            "/api/callback": _CALLBACK,
            "/api/report": _REPORT,
            "/api/stats": _stats_path(),
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": _json({"type": "object"}, "This document")},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An llmedge API key"},
                "adminKey": {"type": "http", "scheme": "bearer", "description": "LLMEDGE_ADMIN_KEY"},
            },
        },
    }


async def handle_openapi(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    headers = {"Cache-Control": "public, max-age=300"}
    return json_response(openapi_document(), headers=headers, timing=timing, request_id=request_id)
