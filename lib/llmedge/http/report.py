"""POST /api/report: a caller says a semantic hit answered the wrong question; that entry is evicted.

The body names the `entry_id` the SEMANTIC-HIT response carried (`cache.entry_id`). Entry ids embed the
scope hash (tenant partition included) and are only ever shown to callers served from that entry.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from llmedge.gateway import Gateway, store_errors
from llmedge.http.body import parse_json_object, read_body, validate
from llmedge.http.responses import ServerTiming, json_response


class FalseHitReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(pattern=r"^\d{1,20}\.[0-9a-f]{64}$", description="`cache.entry_id` of the hit")
    reason: str | None = Field(default=None, max_length=500)


async def handle_report(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    report = validate(FalseHitReport, parse_json_object(await read_body(request, 16 * 1024)))
    await gateway.identify(request)  # a revoked or unknown key may not evict anything
    with timing.phase("evict"), store_errors():
        evicted = await gateway.semantic().evict(report.entry_id)
    return json_response(
        {"evicted": evicted, "entry_id": report.entry_id}, timing=timing, request_id=request_id
    )
