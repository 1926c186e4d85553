"""POST /api/generate: answer from the cache, or queue the model call with QStash and return a job id.

Critical path of a hit: ONE Redis round trip — the admission script checks every rate limit and reads the
exact-cache entry in the same call — then the response. A miss adds the semantic lookup (when the request
allows it), one script that creates the job or joins an identical in-flight one (single flight), and the
QStash publish. Nothing here ever waits for the model.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from llmedge import exactcache, semantic_path
from llmedge.bypass import bypass_job_id, call_directly
from llmedge.debounce import supersede
from llmedge.errors import LLMEdgeError, OffloadUnavailable, StoreUnavailable
from llmedge.gateway import Gateway, store_errors
from llmedge.http.body import parse_json_object, read_body
from llmedge.http.responses import ServerTiming, json_response
from llmedge.jobs import new_job_id
from llmedge.limits import Admission, Caller, Reservation, estimate_tokens
from llmedge.offload import publish
from llmedge.requestkey import RequestKey, build_request_key
from llmedge.schemas import Generation
from llmedge.stats import Outcome
from llmedge.upstream import build_call

log = logging.getLogger("llmedge.generate")


async def handle_generate(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    settings = gateway.settings
    raw = await read_body(request, settings.max_body_bytes)
    generate = Generation.parse(parse_json_object(raw))
    caller = await gateway.identify(request)
    partition = caller.tenant if settings.cache_partition == "tenant" else "shared"
    key = build_request_key(generate, partition=partition, key_version=settings.key_version)
    mode = generate.cache.mode
    job_id = new_job_id()

    with timing.phase("admit"):
        admission = await gateway.limiter.admit(
            caller,
            cache_key=key.cache_key if exactcache.reads_cache(mode) else None,
            job_id=job_id,
            estimated_tokens=_estimate(generate),
        )
    limit_headers = admission.decision.headers
    if not admission.decision.allowed:
        gateway.stats.record(
            "refused",
            model=generate.model,
            limit=admission.decision.tripped,
            tier=caller.tier,
            latency_ms=timing.elapsed_ms(),
        )
        raise admission.decision.to_error()

    answer = exactcache.decode_entry(admission.cached, now=gateway.clock()) if admission.cached else None
    if answer is not None:
        body = {
            "status": "done",
            "job_id": answer.job_id,
            "result": answer.result,
            "cache": {"status": "HIT", "age": answer.age},
        }
        headers = {**limit_headers, "X-Cache": "HIT", "Age": str(answer.age)}
        gateway.stats.record(
            "exact_hit", model=generate.model, result=answer.result, latency_ms=timing.elapsed_ms()
        )
        return json_response(body, headers=headers, timing=timing, request_id=request_id)

    carried = None  # the query's vector, for the callback to store the answer with
    if settings.semantic_cache and exactcache.reads_cache(mode):
        with timing.phase("semantic"):
            hit, carried = await semantic_path.lookup(gateway.semantic(), generate, key)
        similar = exactcache.decode_entry(hit.payload, now=gateway.clock()) if hit else None
        if hit is not None and similar is not None:
            # No model call will be made for this request: give back what admission charged for one.
            await _release(gateway, admission.reservation)
            # entry_id is what POST /api/report takes to evict a wrong answer.
            cache_info = {
                "status": "SEMANTIC-HIT",
                "age": similar.age,
                "similarity": round(hit.similarity, 4),
                "entry_id": hit.entry_id,
            }
            body = {"status": "done", "job_id": similar.job_id, "result": similar.result, "cache": cache_info}
            headers = {
                **limit_headers,
                "X-Cache": "SEMANTIC-HIT",
                "X-Cache-Similarity": f"{hit.similarity:.4f}",
                "Age": str(similar.age),
            }
            gateway.stats.record(
                "semantic_hit", model=generate.model, result=similar.result, latency_ms=timing.elapsed_ms()
            )
            return json_response(body, headers=headers, timing=timing, request_id=request_id)

    try:
        return await _offload(gateway, generate, key, caller, admission, job_id, timing, request_id, carried)
    except LLMEdgeError as error:
        error.headers = {**limit_headers, **error.headers}
        raise


async def _bypass(
    gateway: Gateway,
    generate: Generation,
    headers: dict[str, str],
    timing: ServerTiming,
    request_id: str,
) -> Response:
    settings = gateway.settings
    with timing.phase("bypass"):
        result = await call_directly(
            gateway.clients.upstream, settings, build_call(generate, settings.openai_base_url)
        )
    body = {"status": "done", "job_id": bypass_job_id(), "result": result}
    gateway.stats.record("bypass", model=generate.model, result=result, latency_ms=timing.elapsed_ms())
    return json_response(body, headers={**headers, "X-Cache": "BYPASS"}, timing=timing, request_id=request_id)


def _estimate(generate: Generation) -> int:
    prompt_text = generate.prompt or json.dumps(generate.chat_messages(), ensure_ascii=False)
    return estimate_tokens(prompt_text, generate.max_tokens())


def _x_cache(mode: str) -> str:
    return {"default": "MISS", "refresh": "REFRESH"}.get(mode, "BYPASS")


async def _offload(
    gateway: Gateway,
    generate: Generation,
    key: RequestKey,
    caller: Caller,
    admission: Admission,
    job_id: str,
    timing: ServerTiming,
    request_id: str,
    carried: dict[str, str] | None,
) -> Response:
    settings = gateway.settings
    mode = generate.cache.mode
    reservation = admission.reservation
    plan: dict[str, Any] = {
        "kind": generate.kind,
        "model": generate.model,
        "cache_key": key.cache_key if exactcache.writes_cache(mode) else None,
        "ttl": min(generate.cache.ttl or settings.cache_ttl, settings.max_cache_ttl),
        "reservation": reservation.to_dict() if reservation else None,
        "semantic": (
            semantic_path.semantic_plan(generate, key, carried) if exactcache.writes_cache(mode) else None
        ),
    }
    jobs = gateway.jobs
    try:
        with timing.phase("job"), store_errors():
            running_id, created = await jobs.create_or_join(
                job_id=job_id,
                lease_key=key.lease_key,
                caller_id=caller.id,
                plan=plan,
                lease_ttl=settings.lease_ttl,
                job_ttl=settings.job_ttl,
                now_ms=gateway.now_ms(),
                take_over=mode == "refresh",
            )
    except StoreUnavailable:
        # Nothing was stored and nothing published: answering directly cannot duplicate a call.
        return await _bypass(gateway, generate, admission.decision.headers, timing, request_id)
    if not created:
        # Joined an identical in-flight job: this request will not call the model, so give back its charge.
        await _release(gateway, reservation)
    else:
        try:
            with timing.phase("publish"):
                message_id = await publish(
                    gateway.clients.qstash,
                    settings,
                    call=build_call(generate, settings.openai_base_url),
                    job_id=job_id,
                    # Unique per job: it only has to catch the SDK re-sending this very publish.
                    deduplication_id=f"{key.digest[:32]}-{job_id}",
                    model=generate.model,
                    tier=caller.tier,
                    delay_seconds=generate.debounce.window if generate.debounce else None,
                )
        except OffloadUnavailable:
            with store_errors():
                await jobs.discard(job_id, key.lease_key)
            await _release(gateway, reservation)
            raise
        with store_errors():
            await jobs.mark_published(job_id, message_id)
        log.info("job queued", extra={"job_id": job_id, "message_id": message_id, "request_id": request_id})
        if generate.debounce:
            await supersede(gateway, caller.id, generate.debounce, job_id, message_id)
    outcome: Outcome = ("miss" if created else "joined") if exactcache.reads_cache(mode) else "bypass"
    gateway.stats.record(outcome, model=generate.model, latency_ms=timing.elapsed_ms())
    return pending_response(
        settings.public_url,
        running_id,
        x_cache=_x_cache(mode),
        timing=timing,
        request_id=request_id,
        headers=admission.decision.headers,
    )


async def _release(gateway: Gateway, reservation: Reservation | None) -> None:
    if reservation is not None:
        with store_errors():
            await gateway.limiter.settle(reservation, actual_tokens=0)


def pending_response(
    public_url: str,
    job_id: str,
    *,
    x_cache: str,
    timing: ServerTiming,
    request_id: str,
    headers: dict[str, str],
) -> Response:
    result_url = f"{public_url}/api/result?id={job_id}"
    body = {"status": "pending", "job_id": job_id, "result_url": result_url}
    all_headers = {**headers, "Location": result_url, "Retry-After": "1", "X-Cache": x_cache}
    return json_response(body, 202, headers=all_headers, timing=timing, request_id=request_id)
