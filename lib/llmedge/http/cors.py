"""Cross-origin calls from browsers (CORS), for a frontend served from another site than the gateway.

Off unless `LLMEDGE_CORS_ORIGINS` names the origins (or `*`): a page on the gateway's own origin (the
Vercel setup) needs none of it. Starlette's middleware answers the preflight (`OPTIONS` with
`Access-Control-Request-Method`) itself and adds `Access-Control-Allow-Origin` to the answers of an
allowed origin; a browser refuses the answer to any other origin. Credentials (cookies) are never
allowed: callers authenticate with a bearer key in `Authorization`, which the preflight admits.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware

# What the polling page and any client of the public contract send.
REQUEST_HEADERS = ("Authorization", "Content-Type", "If-None-Match", "X-Request-Id")
# What a script must be able to read: cache verdicts, polling hints, limits, ids (README, HTTP API).
EXPOSED_HEADERS = (
    "X-Cache",
    "X-Cache-Similarity",
    "Age",
    "Location",
    "Retry-After",
    "ETag",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "X-RateLimit-Status",
    "X-Request-Id",
    "Server-Timing",
)
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight's answer


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """The middleware for `origins` (none when empty)."""
    if not origins:
        return []
    from starlette.middleware.cors import CORSMiddleware

    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=list(REQUEST_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            max_age=PREFLIGHT_MAX_AGE,
        )
    ]
