"""The Upstash Redis client for CLI commands that work on the data directly (`keys`, `purge`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from upstash_redis.asyncio import Redis

from llmedge.cli import CommandError
from llmedge.limits.store import STORE_ERRORS


@asynccontextmanager
async def redis_from_environment() -> AsyncIterator[Redis]:
    """A client for UPSTASH_REDIS_REST_URL/_TOKEN; a missing variable or a failing store is one line."""
    missing = [
        name for name in ("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN") if not os.environ.get(name)
    ]
    if missing:
        raise CommandError(f"{' and '.join(missing)} must be set (llmedge dev prints them)")
    url = os.environ["UPSTASH_REDIS_REST_URL"]
    async with Redis(
        url, os.environ["UPSTASH_REDIS_REST_TOKEN"], rest_retries=0, allow_telemetry=False
    ) as redis:
        try:
            yield redis
        except STORE_ERRORS as error:
            raise CommandError(f"Upstash Redis at {url} failed: {error}") from None
