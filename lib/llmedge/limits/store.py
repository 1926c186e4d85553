"""What a failed or slow Upstash round trip raises, so callers can apply a policy instead of a 500.

upstash-redis raises `UpstashError` for an error reply, lets httpx's transport errors through, and fails
to decode a non-JSON error page with a `ValueError` (json) or `UnicodeDecodeError` (base64 decode);
`asyncio.wait_for` raises `TimeoutError` when the time budget runs out.
"""

from __future__ import annotations

import httpx
from upstash_redis.errors import UpstashError

STORE_ERRORS: tuple[type[Exception], ...] = (UpstashError, httpx.HTTPError, TimeoutError, OSError, ValueError)
