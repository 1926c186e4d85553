"""POST /api/callback: QStash reports the outcome of a model call; the job moves on exactly once.

Only a request signed by QStash for this exact URL changes anything. The job id comes from the signed URL's
query. Duplicate deliveries (QStash is at-least-once) are recognised by `Upstash-Message-Id` and change
nothing; every processed or ignored callback gets 200, so QStash stops retrying it; a store outage gets 503,
so QStash retries it later.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from llmedge import semantic_path
from llmedge.callback_verify import verify_qstash_request
from llmedge.errors import BadRequest
from llmedge.exactcache import encode_entry
from llmedge.gateway import Gateway, store_errors
from llmedge.http.body import parse_json_object, read_body
from llmedge.http.responses import ServerTiming, json_response
from llmedge.jobs import TERMINAL, CacheFill, Job, JobStatus
from llmedge.limits import Reservation
from llmedge.offload import cancel
from llmedge.schemas import CallbackBody
from llmedge.upstream import error_message, is_complete, is_retryable, usage_tokens
from llmedge.validation import convert

log = logging.getLogger("llmedge.callback")

# The callback body carries the model's answer and the original request, both base64: room for both.
_CALLBACK_BODY_FACTOR = 4


async def handle_callback(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    settings = gateway.settings
    raw = await read_body(request, settings.max_body_bytes * _CALLBACK_BODY_FACTOR)
    query = request.scope.get("query_string", b"").decode("latin-1")
    signed_url = f"{settings.callback_url}?{query}" if query else settings.callback_url
    verify_qstash_request(
        gateway.clients.receiver, signature=request.headers.get("upstash-signature"), body=raw, url=signed_url
    )
    job_id = request.query_params.get("job")
    message_id = request.headers.get("upstash-message-id")
    if not job_id or not message_id:
        raise BadRequest("a callback needs the `job` query parameter and an Upstash-Message-Id header")
    callback = convert(parse_json_object(raw), CallbackBody)
    failure_event = request.query_params.get("event") == "failure"

    with timing.phase("job"), store_errors():
        job = await gateway.jobs.get(job_id)
        if job is None:
            log.info("callback for an unknown or expired job", extra={"job_id": job_id})
            return json_response({"status": "ignored", "reason": "unknown job"}, request_id=request_id)
        upstream_body = _decode_body(callback.body)
        result = _json_object(upstream_body) if 200 <= callback.status < 300 else None
        outcome, status, fill = await _apply(
            gateway, job, callback, upstream_body, result, message_id, failure_event
        )
        if outcome == "applied" and status in TERMINAL:
            await _after_final(gateway, job, status, result if status == "done" else None, fill)
    log.info(
        "callback", extra={"job_id": job_id, "outcome": outcome, "status": status, "request_id": request_id}
    )
    return json_response({"status": outcome, "job": status}, timing=timing, request_id=request_id)


async def _apply(
    gateway: Gateway,
    job: Job,
    callback: CallbackBody,
    upstream_body: bytes,
    result: dict[str, Any] | None,
    message_id: str,
    failure_event: bool,
) -> tuple[str, JobStatus, CacheFill | None]:
    """Move the job on (at most once per message id); returns the outcome, the new status, the cache fill."""
    attempts = callback.retried + 1
    now_ms = gateway.now_ms()
    if not failure_event and 200 <= callback.status < 300:
        if result is None:
            error = _error(
                "upstream_invalid_response", "the model API answered 2xx with no JSON object", callback
            )
            outcome = await gateway.jobs.transition(
                job.id, message_id=message_id, status="failed", attempts=attempts, now_ms=now_ms, error=error
            )
            return outcome, "failed", None
        raw_result = upstream_body.decode("utf-8")
        fill = _cache_fill(job, result, raw_result, gateway.clock())
        outcome = await gateway.jobs.transition(
            job.id,
            message_id=message_id,
            status="done",
            attempts=attempts,
            now_ms=now_ms,
            result=raw_result,
            cache_fill=fill,
        )
        return outcome, "done", fill

    message = error_message(callback.status, upstream_body)
    permanent = not is_retryable(callback.status) and callback.status != 0
    if failure_event or permanent or callback.retried >= callback.max_retries:
        error = _error("upstream_error", message, callback)
        outcome = await gateway.jobs.transition(
            job.id, message_id=message_id, status="failed", attempts=attempts, now_ms=now_ms, error=error
        )
        if outcome == "applied" and permanent and not failure_event and callback.source_message_id:
            # QStash retries every non-2xx; a 400 will not get better, so stop paying for retries.
            await cancel(gateway.clients.qstash, callback.source_message_id)
        return outcome, "failed", None
    error = _error("upstream_retrying", message, callback)
    outcome = await gateway.jobs.transition(
        job.id, message_id=message_id, status="retrying", attempts=attempts, now_ms=now_ms, error=error
    )
    return outcome, "retrying", None


async def _after_final(
    gateway: Gateway, job: Job, status: str, result: dict[str, Any] | None, fill: CacheFill | None
) -> None:
    """Exactly once per job (only the callback whose transition applied gets here): reconcile the token
    budget with the real usage, store the answer semantically, count the outcome."""
    stored = job.plan.get("reservation")
    if stored:
        used = (usage_tokens(result) if result else None) or 0
        await gateway.limiter.settle(Reservation.from_dict(stored), actual_tokens=used)
    semantic = job.plan.get("semantic")
    if fill is not None and semantic and gateway.settings.semantic_cache:
        await semantic_path.store(gateway.semantic(), semantic, fill.value, fill.ttl)
    gateway.stats.record(
        "done" if status == "done" else "failed",
        model=job.plan.get("model"),
        result=result,
        latency_ms=gateway.now_ms() - job.created_at,
    )


def _cache_fill(job: Job, result: dict[str, Any], raw_result: str, now: float) -> CacheFill | None:
    cache_key = job.plan.get("cache_key")
    if not cache_key or not is_complete(result, job.plan.get("kind", "chat")):
        return None
    value = encode_entry(job_id=job.id, raw_result=raw_result, stored_at=now)
    return CacheFill(key=cache_key, value=value, ttl=int(job.plan.get("ttl", 86_400)))


def _decode_body(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        return b""


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _error(code: str, message: str, callback: CallbackBody) -> dict[str, Any]:
    return {"code": code, "message": message, "upstream_status": callback.status}
