"""The exact cache: cache-aside entries keyed by the canonical request key.

An entry is `{"job_id", "stored_at", "result"}` where `result` is the model API's JSON spliced in as the
text it arrived as. Entries are written with `SET … EX ttl` and read with plain `GET`, so the TTL is
absolute: a hit never extends an entry's life. Writes happen only in the callback, and only for complete
answers (see `upstream.is_complete`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from msgspec import Struct

from llmedge.schemas import CacheMode


class CachedAnswer(Struct, frozen=True):
    job_id: str
    result: dict[str, Any]
    age: int


def encode_entry(*, job_id: str, raw_result: str, stored_at: float) -> str:
    return f'{{"job_id":{json.dumps(job_id)},"stored_at":{int(stored_at)},"result":{raw_result}}}'


def decode_entry(value: str, *, now: float | None = None) -> CachedAnswer | None:
    """A stored entry, or None for anything unreadable (treated as a miss, never as an error)."""
    try:
        entry = json.loads(value)
        stored_at = int(entry["stored_at"])
        result = entry["result"]
        job_id = str(entry["job_id"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(result, dict):
        return None
    age = max(0, int((time.time() if now is None else now) - stored_at))
    return CachedAnswer(job_id=job_id, result=result, age=age)


def reads_cache(mode: CacheMode) -> bool:
    return mode in ("default", "no-store")


def writes_cache(mode: CacheMode) -> bool:
    return mode != "no-store"
