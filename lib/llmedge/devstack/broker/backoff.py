"""How long to wait before the next attempt (docs `qstash/features/retry.mdx`; PROTOCOLS §3.7).

In order: a time the destination asked for (`Retry-After`, `X-RateLimit-Reset`, `-Requests`, `-Tokens`;
seconds, an RFC 1123 date or a Go duration; above one day it is ignored), else the message's
`Upstash-Retry-Delay` expression (ms, `retried` = retries so far), else `min(86400, e^(2.5·n))` seconds
with n the number of the coming retry (12 s, 2m28s, 30m8s, …). The result is in real seconds; the
delivery loop multiplies it by its time scale.
"""

from __future__ import annotations

import logging
import math
from email.utils import parsedate_to_datetime

from llmedge.devstack.broker.durations import parse_duration
from llmedge.devstack.broker.records import Headers
from llmedge.devstack.broker.retry_delay import RetryDelayExpression

MAX_BACKOFF_S = 86400.0
DESTINATION_RETRY_HEADERS = (
    "Retry-After",
    "X-Ratelimit-Reset",
    "X-Ratelimit-Reset-Requests",
    "X-Ratelimit-Reset-Tokens",
)

log = logging.getLogger("llmedge.devstack.broker")


def default_backoff_s(retry_number: int) -> float:
    """`min(86400, e^(2.5·n))`: the documented default before retry number n (1 for the first)."""
    return min(MAX_BACKOFF_S, math.exp(2.5 * retry_number))


def next_retry_delay_s(
    *, retried: int, retry_delay: str | None, response_headers: Headers, now_s: float
) -> float:
    """Seconds to wait after a failed attempt that carried `Upstash-Retried: <retried>` (0 for the first
    attempt): the coming retry is number `retried + 1`, and the expression sees `retried`."""
    asked = destination_retry_after_s(response_headers, now_s)
    if asked is not None:
        return asked
    if retry_delay is not None:
        try:
            milliseconds = RetryDelayExpression(retry_delay).milliseconds(retried)
        except (ArithmeticError, ValueError) as error:
            log.warning("Upstash-Retry-Delay %r failed for retried=%d: %s", retry_delay, retried, error)
        else:
            return min(MAX_BACKOFF_S, max(0.0, milliseconds / 1000))
    return default_backoff_s(retried + 1)


def destination_retry_after_s(headers: Headers, now_s: float) -> float | None:
    """The wait the destination asked for, if any usable header says so."""
    lowered = {name.lower(): values for name, values in headers.items()}
    for name in DESTINATION_RETRY_HEADERS:
        for value in lowered.get(name.lower(), []):
            seconds = _parse_wait(value.strip(), now_s)
            if seconds is not None and seconds <= MAX_BACKOFF_S:
                return max(0.0, seconds)
    return None


def _parse_wait(value: str, now_s: float) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now_s
    except (TypeError, ValueError, IndexError):
        return None
