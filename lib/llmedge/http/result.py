"""GET /api/result?id=…: the polling end of a job (202 pending, 200 done or failed, 304, 403, 404)."""

from __future__ import annotations

import json
import re

from starlette.requests import Request
from starlette.responses import Response

from llmedge.errors import BadRequest, Forbidden, NotFound
from llmedge.gateway import Gateway, store_errors
from llmedge.http.responses import ServerTiming, json_response

_JOB_ID = re.compile(r"^job_[A-Za-z0-9_-]{16,64}$")


def retry_after_seconds(age_ms: int) -> int:
    """Poll fast while a fast answer is likely, then back off: 1 s for the first 10 s, up to 5 s later."""
    return min(5, 1 + max(0, age_ms) // 10_000)


async def handle_result(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    job_id = request.query_params.get("id")
    if not job_id:
        raise BadRequest("the `id` query parameter is required", field="id")
    if not _JOB_ID.match(job_id):
        raise NotFound("no such job", field="id")
    caller = await gateway.identify(request)
    with timing.phase("job"), store_errors():
        job = await gateway.jobs.get(job_id)
    if job is None:
        raise NotFound("no such job, or it has expired", field="id")
    if caller.id not in job.callers:
        raise Forbidden("this job belongs to another caller", field="id")

    headers = {"ETag": job.etag, "Cache-Control": "no-store"}
    if request.headers.get("if-none-match") == job.etag:
        return Response(status_code=304, headers={**headers, "Server-Timing": timing.header()})
    if job.status in ("pending", "retrying"):
        headers["Retry-After"] = str(retry_after_seconds(gateway.now_ms() - job.created_at))
        body = {"status": job.status, "job_id": job.id, "attempts": job.attempts}
        if job.error:
            body["last_error"] = job.error
        return json_response(body, 202, headers=headers, timing=timing, request_id=request_id)
    if job.status == "done" and job.result is not None:
        body = {"status": "done", "job_id": job.id, "result": json.loads(job.result)}
        return json_response(body, headers=headers, timing=timing, request_id=request_id)
    body = {"status": "failed", "job_id": job.id, "error": job.error or {"code": "unknown", "message": ""}}
    return json_response(body, headers=headers, timing=timing, request_id=request_id)
