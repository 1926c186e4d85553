"""When Upstash Redis is unreachable: answer uncached, by calling the model directly, within a deadline.

Without Redis there is nowhere to keep a job, so the offloaded flow cannot run. Rather than refuse, the
function calls the model API itself, bounded by `LLMEDGE_BYPASS_TIMEOUT` (default 8 s, under a 10 s
function limit), and answers 200 with `X-Cache: BYPASS`; a model slower than that gets 503 with
Retry-After. This is the one place a function waits for a model, and only while the store is down. It
runs only when the limits' fail policy admitted the request (a fail-closed limit still refuses with 503).
Set LLMEDGE_BYPASS_TIMEOUT=0 to answer 503 instead.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx

from llmedge.errors import LLMEdgeError, ServiceUnavailable, StoreUnavailable
from llmedge.settings import Settings
from llmedge.upstream import UpstreamCall, error_message

log = logging.getLogger("llmedge.bypass")


class UpstreamFailed(LLMEdgeError):
    status = 502
    code = "upstream_error"


async def call_directly(client: httpx.AsyncClient, settings: Settings, call: UpstreamCall) -> dict[str, Any]:
    """The model's answer, or an error: 503 if bypass is off or too slow, 502 if the model refused."""
    if settings.bypass_timeout <= 0:
        raise StoreUnavailable("the data store cannot be reached; retry shortly")
    headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else {}
    try:
        response = await client.post(call.url, json=call.body, headers=headers)
    except httpx.TimeoutException:
        raise ServiceUnavailable(
            "the data store is down and the model did not answer in time; retry shortly",
            headers={"Retry-After": "5"},
        ) from None
    except httpx.HTTPError as error:
        raise ServiceUnavailable(
            f"the data store is down and the model API is unreachable ({error})"
        ) from None
    if not response.is_success:
        raise UpstreamFailed(
            error_message(response.status_code, response.content),
            details={"upstream_status": response.status_code},
        )
    try:
        result = response.json()
    except ValueError:
        raise UpstreamFailed("the model API answered with no JSON") from None
    log.warning(
        "answered in bypass mode: the data store is unreachable", extra={"model": call.body.get("model")}
    )
    return result if isinstance(result, dict) else {"result": result}


def bypass_job_id() -> str:
    """Nothing is stored, so the id only names this answer in logs and in the response."""
    return "bypass_" + secrets.token_urlsafe(12)
