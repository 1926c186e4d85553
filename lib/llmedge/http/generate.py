"""POST /api/generate: answer from the cache, or queue the model call with QStash and return a job id.

Critical path of a hit: one Redis round trip (the exact-cache read), then the response. A miss adds the
semantic lookup (when the request allows it), one script that creates the job or joins an identical
in-flight one (single flight), and the QStash publish. Nothing here ever waits for the model.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from llmedge import exactcache
from llmedge.errors import OffloadUnavailable
from llmedge.gateway import Gateway, store_errors
from llmedge.http.body import parse_json_object, read_body, validate
from llmedge.http.responses import ServerTiming, json_response
from llmedge.jobs import new_job_id
from llmedge.offload import publish
from llmedge.requestkey import RequestKey, build_request_key
from llmedge.schemas import GenerateRequest
from llmedge.upstream import build_call

log = logging.getLogger("llmedge.generate")


async def handle_generate(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    settings = gateway.settings
    raw = await read_body(request, settings.max_body_bytes)
    generate = validate(GenerateRequest, parse_json_object(raw))
    caller = gateway.identify(request)
    partition = caller.tenant if settings.cache_partition == "tenant" else "shared"
    key = build_request_key(generate, partition=partition, key_version=settings.key_version)
    mode = generate.cache.mode

    if exactcache.reads_cache(mode):
        with timing.phase("cache"), store_errors():
            stored = await gateway.clients.redis.get(key.cache_key)
        answer = exactcache.decode_entry(stored, now=gateway.clock()) if stored else None
        if answer is not None:
            body = {
                "status": "done",
                "job_id": answer.job_id,
                "result": answer.result,
                "cache": {"status": "HIT", "age": answer.age},
            }
            headers = {"X-Cache": "HIT", "Age": str(answer.age)}
            return json_response(body, headers=headers, timing=timing, request_id=request_id)

    return await _offload(gateway, generate, key, caller.id, timing, request_id)


def _x_cache(mode: str) -> str:
    return {"default": "MISS", "refresh": "REFRESH"}.get(mode, "BYPASS")


async def _offload(
    gateway: Gateway,
    generate: GenerateRequest,
    key: RequestKey,
    caller_id: str,
    timing: ServerTiming,
    request_id: str,
) -> Response:
    settings = gateway.settings
    mode = generate.cache.mode
    ttl = min(generate.cache.ttl or settings.cache_ttl, settings.max_cache_ttl)
    plan: dict[str, Any] = {
        "kind": generate.kind,
        "model": generate.model,
        "cache_key": key.cache_key if exactcache.writes_cache(mode) else None,
        "ttl": ttl,
    }
    job_id = new_job_id()
    jobs = gateway.jobs
    with timing.phase("job"), store_errors():
        running_id, created = await jobs.create_or_join(
            job_id=job_id,
            lease_key=key.lease_key,
            caller_id=caller_id,
            plan=plan,
            lease_ttl=settings.lease_ttl,
            job_ttl=settings.job_ttl,
            now_ms=gateway.now_ms(),
            take_over=mode == "refresh",
        )
    if created:
        call = build_call(generate, settings.openai_base_url)
        try:
            with timing.phase("publish"):
                message_id = await publish(
                    gateway.clients.qstash,
                    settings,
                    call=call,
                    job_id=job_id,
                    deduplication_id=f"{key.digest[:32]}-{job_id}",
                    model=generate.model,
                    lane="default",
                )
        except OffloadUnavailable:
            await jobs.discard(job_id, key.lease_key)
            raise
        log.info("job queued", extra={"job_id": job_id, "message_id": message_id, "request_id": request_id})
    return pending_response(
        settings.public_url, running_id, x_cache=_x_cache(mode), timing=timing, request_id=request_id
    )


def pending_response(
    public_url: str,
    job_id: str,
    *,
    x_cache: str,
    timing: ServerTiming,
    request_id: str,
    status: str = "pending",
    attempts: int = 0,
) -> Response:
    result_url = f"{public_url}/api/result?id={job_id}"
    body = {"status": status, "job_id": job_id, "result_url": result_url, "attempts": attempts}
    headers = {"Location": result_url, "Retry-After": "1", "X-Cache": x_cache}
    return json_response(body, 202, headers=headers, timing=timing, request_id=request_id)
