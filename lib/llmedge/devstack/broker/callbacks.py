"""Callback and failure-callback messages (docs `qstash/features/callbacks.mdx`; PROTOCOLS §3.9).

A callback is a new message, sent after each attempt; a failure callback is sent once, after the last
failed attempt, and also names the DLQ entry. Both carry the attempt's outcome as JSON and use the
source message's retry settings unless `Upstash-(Failure-)Callback-*` overrode them.

Choices where the docs are silent (PROTOCOLS marks them UNCONFIRMED): `notBefore`/`createdAt` are
integers (ms, as on `GET /v2/messages`); the request is `application/json`; an attempt that got no answer
(refused, timed out) reports `status` 0 and an empty `body`.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from llmedge.devstack.broker.records import CallbackConfig, DestinationResponse, Message, MessageKind
from llmedge.devstack.broker.store import now_ms


def callback_body(
    source: Message, response: DestinationResponse, *, dlq_id: str | None = None
) -> dict[str, Any]:
    """The JSON a (failure) callback receives about one attempt of `source`."""
    body: dict[str, Any] = {
        "status": response.status,
        "header": response.headers,
        "body": response.body_b64,
        "retried": source.retried,
        "maxRetries": source.max_retries,
        "sourceMessageId": source.message_id,
        "url": source.url,
        "method": source.method,
        "sourceHeader": source.delivered_headers(),
        "sourceBody": source.body_b64,
        "notBefore": source.not_before_ms,
        "createdAt": source.created_at_ms,
    }
    if source.caller_ip is not None:
        body["callerIP"] = source.caller_ip
    if dlq_id is not None:
        body["dlqId"] = dlq_id
    return body


def callback_message(
    message_id: str,
    source: Message,
    response: DestinationResponse,
    config: CallbackConfig,
    *,
    kind: MessageKind,
    delay_ms: int,
    dlq_id: str | None = None,
) -> Message:
    """The message that reports `response` (an attempt of `source`) to `config.url`."""
    created = now_ms()
    payload = json.dumps(callback_body(source, response, dlq_id=dlq_id)).encode()
    return Message(
        message_id=message_id,
        kind=kind,
        url=config.url,
        method=config.method,
        body_b64=base64.b64encode(payload).decode("ascii"),
        content_type="application/json",
        headers=config.headers,
        max_retries=source.max_retries if config.retries is None else config.retries,
        retry_delay=config.retry_delay or source.retry_delay,
        timeout_s=config.timeout_s or source.timeout_s,  # the delivery loop caps it at the maximum
        not_before_ms=created + delay_ms,
        created_at_ms=created,
        label=source.label,
        caller_ip=source.caller_ip,
    )
