"""GET /api/stats: the stats report (`llmedge.stats_report`) for the operator, behind the admin key.

Without `LLMEDGE_ADMIN_KEY` the endpoint does not exist (404): a deployment that never chose an admin key
has no admin surface to probe. With it, the key must come as `Authorization: Bearer <key>` (401 otherwise).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from llmedge.errors import AuthenticationError, NotFound
from llmedge.gateway import Gateway, store_errors
from llmedge.http.responses import ServerTiming, json_response
from llmedge.stats import effective_prices
from llmedge.stats_report import snapshot

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llmedge admin"'}


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


async def handle_stats(gateway: Gateway, request: Request, timing: ServerTiming, request_id: str) -> Response:
    admin_key = gateway.settings.admin_key
    if not admin_key:
        raise NotFound("the stats endpoint is disabled; set LLMEDGE_ADMIN_KEY to enable it")
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError("send the admin key as `Authorization: Bearer <key>`", headers=_CHALLENGE)
    # Constant-time comparison: the admin key must not leak one character at a time through timing.
    if not hmac.compare_digest(token.encode(), admin_key.encode()):
        raise AuthenticationError("the admin key is not valid", headers=_CHALLENGE)
    prices = effective_prices(gateway.settings.prices)
    with timing.phase("stats"), store_errors():
        report = await snapshot(gateway.clients.redis, prices, prefix=gateway.limits.prefix)
    headers = {"Cache-Control": "no-store"}
    return json_response(report, headers=headers, timing=timing, request_id=request_id)
