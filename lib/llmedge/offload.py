"""Hand a model call to QStash: the model API is the destination, our callback receives its answer.

No function waits for the model: QStash makes the call (for as long as the plan allows), retries it with
backoff, and then POSTs the outcome to `/api/callback`. The job id travels in the callback URL's query;
QStash signs that exact URL (the JWT `sub`), so it cannot be altered without breaking the signature.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import httpx

from llmedge.errors import OffloadUnavailable
from llmedge.settings import Settings
from llmedge.upstream import UpstreamCall

if TYPE_CHECKING:
    from qstash import AsyncQStash

log = logging.getLogger("llmedge.offload")

_SHARED_LANE_TIERS = frozenset({"anonymous", "free"})


def callback_urls(settings: Settings, job_id: str) -> tuple[str, str]:
    base = f"{settings.callback_url}?job={job_id}"
    return base, f"{base}&event=failure"


def flow_control_for(settings: Settings, model: str, tier: str) -> dict[str, Any] | None:
    """Per model, from LLMEDGE_FLOW_CONTROL, in lanes: anonymous and free callers share one lane, every
    other (paying) tier has its own, so paying traffic never queues behind a free-tier burst."""
    config = settings.flow_control.get(model) or settings.flow_control.get("*")
    if config is None:
        return None
    lane = "shared" if tier in _SHARED_LANE_TIERS else tier
    # The SDK's FlowControl is a TypedDict: a plain dict is the same thing at run time.
    flow: dict[str, Any] = {
        "key": re.sub(r"[^A-Za-z0-9_.-]", "_", f"llmedge.{lane}.{model}"),
        "period": config.period,
    }
    if config.parallelism:
        flow["parallelism"] = config.parallelism
    if config.rate:
        flow["rate"] = config.rate
    return flow


async def publish(
    qstash: AsyncQStash,
    settings: Settings,
    *,
    call: UpstreamCall,
    job_id: str,
    deduplication_id: str,
    model: str,
    tier: str,
    delay_seconds: int | None = None,
) -> str:
    """Publish the call; returns QStash's message id or raises `OffloadUnavailable`."""
    from qstash.errors import QStashError

    callback, failure_callback = callback_urls(settings, job_id)
    headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else None
    try:
        response = await qstash.message.publish_json(
            url=call.url,
            body=call.body,
            headers=headers,
            callback=callback,
            failure_callback=failure_callback,
            retries=settings.qstash_retries,
            timeout=settings.upstream_timeout,
            deduplication_id=deduplication_id,
            flow_control=flow_control_for(settings, model, tier),  # type: ignore[arg-type]
            delay=delay_seconds,
        )
    except (QStashError, httpx.HTTPError) as error:
        log.warning("qstash publish failed", extra={"job_id": job_id, "error": str(error)})
        raise OffloadUnavailable("the job could not be queued; nothing was started, retry later") from error
    return response.message_id  # type: ignore[union-attr]


async def cancel(qstash: AsyncQStash, message_id: str) -> bool:
    """Best-effort cancel (debounce, permanent upstream errors); False if QStash would not."""
    from qstash.errors import QStashError

    try:
        await qstash.message.cancel(message_id)
    except (QStashError, httpx.HTTPError) as error:
        log.info("qstash cancel failed", extra={"message_id": message_id, "error": str(error)})
        return False
    return True
