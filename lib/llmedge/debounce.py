"""Debounce: a newer request with the same key inside the window replaces the older, still-waiting one.

Typing-ahead clients send a request per keystroke; only the last one should reach the model. A debounced
request is published with a QStash delay of `window` seconds, and its message id is swapped into a
per-caller key with `SET … GET`. The previous message, if it is still waiting out its delay, is cancelled
in QStash and its job marked failed with code `superseded`, so its poller learns at once. If QStash
already delivered it, the cancel fails and that older job simply completes too.
"""

from __future__ import annotations

import hashlib
import logging

from llmedge.gateway import Gateway, store_errors
from llmedge.limits import Reservation
from llmedge.offload import cancel
from llmedge.schemas import DebounceOptions

log = logging.getLogger("llmedge.debounce")

# The key outlives the window a little, so a request that arrives just after it still finds its predecessor.
_GRACE_SECONDS = 30


def debounce_key(caller_id: str, options: DebounceOptions) -> str:
    caller = hashlib.sha256(caller_id.encode()).hexdigest()[:24]
    key = hashlib.sha256(options.key.encode()).hexdigest()[:24]
    return f"llmedge:debounce:{caller}:{key}"


async def supersede(
    gateway: Gateway, caller_id: str, options: DebounceOptions, job_id: str, message_id: str
) -> None:
    """Record this job as the latest for its debounce key and cancel the one it replaces."""
    key = debounce_key(caller_id, options)
    with store_errors():
        previous = await gateway.clients.redis.set(
            key, f"{message_id} {job_id}", get=True, ex=options.window + _GRACE_SECONDS
        )
    if not previous:
        return
    previous_message, _, previous_job = str(previous).partition(" ")
    if not await cancel(gateway.clients.qstash, previous_message):
        return
    with store_errors():
        job = await gateway.jobs.get(previous_job)
        if job is None:
            return
        outcome = await gateway.jobs.transition(
            previous_job,
            message_id=f"debounce-{job_id}",
            status="failed",
            attempts=job.attempts,
            now_ms=gateway.now_ms(),
            error={"code": "superseded", "message": f"replaced by a newer request ({job_id})"},
        )
        stored = job.plan.get("reservation")
        if outcome == "applied" and stored:
            await gateway.limiter.settle(Reservation.from_dict(stored), actual_tokens=0)
    log.info("debounced", extra={"job_id": previous_job, "superseded_by": job_id})
