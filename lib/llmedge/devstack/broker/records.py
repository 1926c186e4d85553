"""What the broker keeps in Redis about a message, and the JSON views QStash's API shows of it.

Field names of the views follow the qstash SDK parsers (`qstash/message.py parse_message_response`,
`qstash/dlq.py parse_dlq_message_response`; PROTOCOLS §3.4, §3.5): required there are `messageId, url,
method, maxRetries, notBefore, createdAt` and, for the DLQ, `responseStatus`.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, Field

Headers = dict[str, list[str]]
MessageKind = Literal["message", "callback", "failure-callback"]


class CallbackConfig(BaseModel):
    """Where and how a (failure) callback message is sent; unset fields fall back to the source's."""

    url: str
    method: str = "POST"
    timeout_s: float | None = None
    retries: int | None = None
    retry_delay: str | None = None
    delay_s: float = 0.0
    headers: Headers = Field(default_factory=dict)


class FlowControlConfig(BaseModel):
    """`Upstash-Flow-Control-Key/Value`: at most `parallelism` deliveries in flight and `rate` started
    per `period_s` seconds for every message that shares `key`."""

    key: str
    parallelism: int | None = None
    rate: int | None = None
    period_s: int = 1


class Message(BaseModel):
    """One message, from publish until it is delivered, cancelled or moved to the DLQ."""

    message_id: str
    kind: MessageKind = "message"
    url: str
    method: str = "POST"
    body_b64: str = ""
    content_type: str | None = None
    headers: Headers = Field(default_factory=dict)  # forwarded to the destination, prefix stripped
    max_retries: int = 3
    retried: int = 0  # attempts made so far; the next delivery carries it as `Upstash-Retried`
    retry_delay: str | None = None
    timeout_s: float
    callback: CallbackConfig | None = None
    failure_callback: CallbackConfig | None = None
    not_before_ms: int
    created_at_ms: int
    queue: str | None = None
    flow_control: FlowControlConfig | None = None
    label: str | None = None
    caller_ip: str | None = None

    @property
    def body(self) -> bytes:
        return base64.b64decode(self.body_b64)

    def delivered_headers(self) -> Headers:
        """The headers the destination receives besides QStash's own (`header` in the API views)."""
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = [self.content_type]
        return headers

    def view(self) -> dict[str, Any]:
        """The message as `GET /v2/messages/{id}` shows it."""
        view: dict[str, Any] = {
            "messageId": self.message_id,
            "url": self.url,
            "method": self.method,
            "header": self.delivered_headers(),
            "maxRetries": self.max_retries,
            "notBefore": self.not_before_ms,
            "createdAt": self.created_at_ms,
        }
        view.update(_body_view(self.body, "body", "bodyBase64"))
        optional = {
            "queueName": self.queue,
            "callback": self.callback.url if self.callback else None,
            "failureCallback": self.failure_callback.url if self.failure_callback else None,
            "callbackHeader": self.callback.headers if self.callback else None,
            "failureCallbackHeader": self.failure_callback.headers if self.failure_callback else None,
            "retryDelayExpression": self.retry_delay,
            "label": self.label,
            "callerIP": self.caller_ip,
        }
        view.update({name: value for name, value in optional.items() if value is not None})
        if self.flow_control is not None:
            view.update(flow_control_view(self.flow_control))
        return view


class DestinationResponse(BaseModel):
    """What the destination answered to one attempt (status 0: no answer — refused, timed out)."""

    status: int
    headers: Headers = Field(default_factory=dict)
    body_b64: str = ""
    error: str | None = None

    @property
    def body(self) -> bytes:
        return base64.b64decode(self.body_b64)


class DeadLetter(BaseModel):
    """A message whose retries ran out (or that the destination refused for good), with its last answer."""

    dlq_id: str
    message: Message
    response: DestinationResponse
    failed_at_ms: int

    def view(self) -> dict[str, Any]:
        view = self.message.view()
        view["dlqId"] = self.dlq_id
        view["responseStatus"] = self.response.status
        view["responseHeader"] = self.response.headers
        view.update(_body_view(self.response.body, "responseBody", "responseBodyBase64"))
        return view


def flow_control_view(flow: FlowControlConfig) -> dict[str, Any]:
    """The flow-control echo the SDK's tests expect: `period` always present, in seconds."""
    view: dict[str, Any] = {"flowControlKey": flow.key, "period": flow.period_s}
    if flow.parallelism is not None:
        view["parallelism"] = flow.parallelism
    if flow.rate is not None:
        view["rate"] = flow.rate
    return view


def _body_view(body: bytes, text_name: str, base64_name: str) -> dict[str, str]:
    """`body` when it is UTF-8 text, else `bodyBase64` (the SDK reads whichever is present)."""
    try:
        return {text_name: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {base64_name: base64.b64encode(body).decode("ascii")}
