"""POST /api/report: a caller says a semantic hit answered the wrong question; that entry is evicted.

The body names the `entry_id` the SEMANTIC-HIT response carried (`cache.entry_id`). Entry ids embed the
scope hash (tenant partition included) and are only ever shown to callers served from that entry.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from llmedge.gateway import Gateway, store_errors
from llmedge.http.body import parse_json_object, read_body
from llmedge.http.responses import ServerTiming, json_response
from llmedge.schemas import FalseHitReport
from llmedge.validation import convert


async def handle_report(
    gateway: Gateway, request: Request, timing: ServerTiming, request_id: str
) -> Response:
    report = convert(parse_json_object(await read_body(request, 16 * 1024)), FalseHitReport)
    await gateway.identify(request)  # a revoked or unknown key may not evict anything
    with timing.phase("evict"), store_errors():
        evicted = await gateway.semantic().evict(report.entry_id)
    return json_response(
        {"evicted": evicted, "entry_id": report.entry_id}, timing=timing, request_id=request_id
    )
