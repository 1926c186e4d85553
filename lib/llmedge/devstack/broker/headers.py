"""The `Upstash-*` headers of a publish (PROTOCOLS §3.3), parsed leniently and validated strictly.

Lenient where the official SDKs are: names in any case, `True`/`true`, `, ` or `,` between flow-control
values. Strict where a wrong value would silently change delivery: a bad number, duration, method or URL
is a 400 that names the header.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from llmedge.devstack.broker.durations import parse_duration
from llmedge.devstack.broker.errors import BadRequest
from llmedge.devstack.broker.records import CallbackConfig, FlowControlConfig, Headers
from llmedge.devstack.broker.retry_delay import RetryDelayExpression

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
MAX_RETRIES = 100  # a sanity bound; QStash's plans cap far lower
MAX_DELAY_S = 365 * 86400.0
MAX_FLOW_PERIOD_S = 7 * 86400  # docs `qstash/features/flowcontrol.mdx`: a period is at most a week

_FORWARD = "upstash-forward-"
_CALLBACK = "upstash-callback-"
_FAILURE_CALLBACK = "upstash-failure-callback-"
# Suffixes of `Upstash-Callback-*` that configure the callback message itself (docs `callbacks.mdx`).
_CALLBACK_SETTINGS = frozenset({"method", "timeout", "retries", "retry-delay", "delay"})


@dataclass(frozen=True)
class PublishOptions:
    """Everything a publish request asks for, besides its destination and body."""

    content_type: str | None = None
    method: str = "POST"
    forward_headers: Headers = field(default_factory=dict)
    retries: int | None = None
    retry_delay: str | None = None
    delay_s: float = 0.0
    not_before_s: int | None = None
    timeout_s: float | None = None
    deduplication_id: str | None = None
    content_based_deduplication: bool = False
    callback: CallbackConfig | None = None
    failure_callback: CallbackConfig | None = None
    flow_control: FlowControlConfig | None = None
    label: str | None = None


def parse_publish_headers(pairs: Iterable[tuple[str, str]]) -> PublishOptions:
    """Options from the request's headers (`pairs` as received; names compared case-insensitively)."""
    plain: dict[str, str] = {}
    forward: Headers = {}
    callback_extra: dict[str, str] = {}
    failure_extra: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.lower()
        if name.startswith(_FORWARD):
            forward.setdefault(canonical_header(name[len(_FORWARD) :]), []).append(value)
        elif name.startswith(_CALLBACK):
            callback_extra[name[len(_CALLBACK) :]] = value
        elif name.startswith(_FAILURE_CALLBACK):
            failure_extra[name[len(_FAILURE_CALLBACK) :]] = value
        else:
            plain[name] = value

    retries = _optional_int(plain, "upstash-retries", MAX_RETRIES)
    flow_key = plain.get("upstash-flow-control-key")
    flow_value = plain.get("upstash-flow-control-value")
    if flow_value is not None and not flow_key:
        raise BadRequest("Upstash-Flow-Control-Value needs an Upstash-Flow-Control-Key")
    return PublishOptions(
        content_type=plain.get("content-type"),
        method=_method(plain.get("upstash-method"), "Upstash-Method"),
        forward_headers=forward,
        retries=retries,
        retry_delay=_retry_delay(plain.get("upstash-retry-delay"), "Upstash-Retry-Delay"),
        delay_s=_duration(plain.get("upstash-delay"), "Upstash-Delay") or 0.0,
        not_before_s=_optional_int(plain, "upstash-not-before", None),
        timeout_s=_timeout(plain.get("upstash-timeout"), "Upstash-Timeout"),
        deduplication_id=plain.get("upstash-deduplication-id") or None,
        content_based_deduplication=_boolean(plain, "upstash-content-based-deduplication"),
        callback=_callback(plain.get("upstash-callback"), callback_extra, "Upstash-Callback"),
        failure_callback=_callback(
            plain.get("upstash-failure-callback"), failure_extra, "Upstash-Failure-Callback"
        ),
        flow_control=_flow_control(flow_key, flow_value) if flow_key else None,
        label=plain.get("upstash-label") or None,
    )


def canonical_header(name: str) -> str:
    """Go's `http.CanonicalHeaderKey` (QStash is written in Go): `x-my-header` → `X-My-Header`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://")) and len(url.split("://", 1)[1]) > 0


def _callback(url: str | None, extra: dict[str, str], header: str) -> CallbackConfig | None:
    """The callback's URL plus its `<header>-*` settings and forwarded headers.

    Besides the documented `<header>-Forward-<Name>`, a suffix that is not a setting is forwarded as
    `<Name>` too: the Python SDK renders `callback_headers={"K": "v"}` as `Upstash-Callback-K: v`
    (qstash 3.4.0 `message.py prepare_headers`), so that is what its users mean. How Upstash itself treats
    such headers is unconfirmed (PROTOCOLS §3.3).
    """
    if url is None:
        return None  # settings for a callback that was not asked for configure nothing
    if not is_http_url(url):
        raise BadRequest(f"{header} must be an http(s) URL")
    forwarded: Headers = {}
    for suffix, value in extra.items():
        if suffix not in _CALLBACK_SETTINGS:
            name = suffix.removeprefix("forward-")
            forwarded.setdefault(canonical_header(name), []).append(value)
    return CallbackConfig(
        url=url,
        method=_method(extra.get("method"), f"{header}-Method"),
        timeout_s=_timeout(extra.get("timeout"), f"{header}-Timeout"),
        retries=_optional_int(extra, "retries", MAX_RETRIES, shown=f"{header}-Retries"),
        retry_delay=_retry_delay(extra.get("retry-delay"), f"{header}-Retry-Delay"),
        delay_s=_duration(extra.get("delay"), f"{header}-Delay") or 0.0,
        headers=forwarded,
    )


def _flow_control(key: str, value: str | None) -> FlowControlConfig:
    settings: dict[str, int] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, equals, raw = (part.strip() for part in item.partition("="))
        if not equals or name not in {"parallelism", "rate", "period"} or name in settings:
            raise BadRequest(f"Upstash-Flow-Control-Value: unexpected {item.strip()!r}")
        if name == "period":
            period = _duration(raw, "Upstash-Flow-Control-Value period") or 0.0
            if not 1 <= period <= MAX_FLOW_PERIOD_S:
                raise BadRequest("Upstash-Flow-Control-Value: period must be between 1s and one week")
            settings[name] = math.ceil(period)
        elif raw.isdigit() and int(raw) >= 1:
            settings[name] = int(raw)
        else:
            raise BadRequest(f"Upstash-Flow-Control-Value: {name} must be a positive integer")
    return FlowControlConfig(
        key=key,
        parallelism=settings.get("parallelism"),
        rate=settings.get("rate"),
        period_s=settings.get("period", 1),
    )


def _method(value: str | None, header: str) -> str:
    if value is None:
        return "POST"
    method = value.strip().upper()
    if method not in METHODS:
        raise BadRequest(f"{header} must be one of {', '.join(sorted(METHODS))}")
    return method


def _optional_int(values: dict[str, str], name: str, maximum: int | None, *, shown: str = "") -> int | None:
    raw = values.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit() or (maximum is not None and int(raw) > maximum):
        bound = f" between 0 and {maximum}" if maximum is not None else ""
        raise BadRequest(f"{shown or canonical_header(name)} must be an integer{bound}")
    return int(raw)


def _duration(value: str | None, header: str) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise BadRequest(f"{header} must be a duration like 10s, 5m, 1h30m or 1d") from None
    if seconds > MAX_DELAY_S:
        raise BadRequest(f"{header} is longer than a year")
    return seconds


def _timeout(value: str | None, header: str) -> float | None:
    seconds = _duration(value, header)
    if seconds is not None and seconds <= 0:
        raise BadRequest(f"{header} must be positive")
    return seconds


def _retry_delay(value: str | None, header: str) -> str | None:
    if value is None:
        return None
    try:
        RetryDelayExpression(value)
    except ValueError as error:
        raise BadRequest(f"{header}: {error}") from None
    return value


def _boolean(values: dict[str, str], name: str) -> bool:
    raw = values.get(name)
    if raw is None:
        return False
    # The Python SDK sends str(bool): "True"/"False" (qstash 3.4.0 `prepare_headers`).
    lowered = raw.strip().lower()
    if lowered not in {"true", "false"}:
        raise BadRequest(f"{canonical_header(name)} must be true or false")
    return lowered == "true"
