"""Pure parts of the broker: header parsing, durations, the retry-delay evaluator, backoff, signing."""

from __future__ import annotations

import math
import time

import jwt
import pytest
from qstash import Receiver
from qstash.errors import SignatureError

from llmedge.devstack.broker.backoff import default_backoff_s, next_retry_delay_s
from llmedge.devstack.broker.durations import parse_duration
from llmedge.devstack.broker.errors import BadRequest
from llmedge.devstack.broker.headers import canonical_header, parse_publish_headers
from llmedge.devstack.broker.retry_delay import RetryDelayExpression
from llmedge.devstack.broker.signing import SigningKeys, sign
from tests.devstack_qstash.conftest import CURRENT_KEY, NEXT_KEY


def test_sdk_rendered_headers_become_options() -> None:
    options = parse_publish_headers(
        [
            ("content-type", "application/json"),
            ("upstash-method", "put"),
            ("upstash-forward-x-api-key", "k1"),
            ("upstash-forward-x-api-key", "k2"),
            ("upstash-retries", "5"),
            ("upstash-retry-delay", "pow(2, retried) * 1000"),
            ("upstash-delay", "1m30s"),
            ("upstash-timeout", "20s"),
            ("upstash-deduplication-id", "job-1"),
            ("upstash-content-based-deduplication", "True"),  # the Python SDK's str(True)
            ("upstash-callback", "http://cb/x"),
            ("upstash-callback-retries", "1"),
            ("upstash-callback-forward-x-a", "a"),
            ("upstash-callback-x-b", "b"),  # the SDK's callback_headers={"X-B": "b"}
            ("upstash-failure-callback", "https://fail/y"),
            ("upstash-failure-callback-method", "PUT"),
            ("upstash-flow-control-key", "model"),
            ("upstash-flow-control-value", "parallelism=2, rate=10,period=1h30m3s"),
            ("upstash-label", "l"),
        ]
    )
    assert options.content_type == "application/json"
    assert options.method == "PUT"
    assert options.forward_headers == {"X-Api-Key": ["k1", "k2"]}
    assert (options.retries, options.retry_delay) == (5, "pow(2, retried) * 1000")
    assert (options.delay_s, options.timeout_s) == (90.0, 20.0)
    assert (options.deduplication_id, options.content_based_deduplication) == ("job-1", True)
    assert options.callback is not None and options.failure_callback is not None
    assert (options.callback.url, options.callback.retries) == ("http://cb/x", 1)
    assert options.callback.headers == {"X-A": ["a"], "X-B": ["b"]}
    assert (options.failure_callback.url, options.failure_callback.method) == ("https://fail/y", "PUT")
    assert options.flow_control is not None
    assert (options.flow_control.parallelism, options.flow_control.rate) == (2, 10)
    assert options.flow_control.period_s == 5403
    assert options.label == "l"


def test_defaults_when_no_header_is_given() -> None:
    options = parse_publish_headers([])
    assert (options.method, options.retries, options.delay_s, options.callback) == ("POST", None, 0.0, None)
    assert options.flow_control is None and not options.content_based_deduplication


def test_callback_settings_without_a_callback_configure_nothing() -> None:
    assert parse_publish_headers([("upstash-failure-callback-retries", "2")]).failure_callback is None


def test_a_bad_callback_setting_is_refused() -> None:
    with pytest.raises(BadRequest, match="Upstash-Callback-Retries"):
        parse_publish_headers([("upstash-callback", "http://cb"), ("upstash-callback-retries", "x")])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10", 10.0), ("10s", 10.0), ("5m", 300.0), ("1d10h30m", 124200.0), ("1.5s", 1.5), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "10x", "1h 30m", "-5s", "10s5"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_canonical_header_names_follow_go() -> None:
    assert canonical_header("x-my-HEADER") == "X-My-Header"


@pytest.mark.parametrize(
    ("expression", "retried", "milliseconds"),
    [
        ("1000", 0, 1000.0),
        ("1000 * (1 + retried)", 2, 3000.0),
        ("pow(2, retried)", 3, 8.0),
        ("max(10, pow(2, retried))", 1, 10.0),
        ("min(sqrt(16), abs(-3)) + floor(1.7) + ceil(0.2) + round(2.4)", 0, 7.0),
        ("exp(0) * 100 % 60 - -1", 0, 41.0),
    ],
)
def test_retry_delay_expressions(expression: str, retried: int, milliseconds: float) -> None:
    assert RetryDelayExpression(expression).milliseconds(retried) == milliseconds


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "retried.__class__",
        "open('/etc/passwd')",
        "[1, 2]",
        "lambda: 1",
        "2 ** 10",  # not in the documented grammar
        "True + 1",
        "pow(2)",
        "max(*[1])",
        "x + 1",
        "1 +",
        "1" * 300,
    ],
)
def test_retry_delay_rejects_everything_else(expression: str) -> None:
    with pytest.raises(ValueError):
        RetryDelayExpression(expression)


def test_retry_delay_overflow_is_an_arithmetic_error_not_a_hang() -> None:
    with pytest.raises(OverflowError):
        RetryDelayExpression("pow(10, 400)").milliseconds(0)


def test_default_backoff_follows_the_documented_table() -> None:
    # docs `qstash/features/retry.mdx`: 12 s, 2m28s, 30m8s, 6h7m6s, then capped at a day.
    assert [round(default_backoff_s(n)) for n in (1, 2, 3, 4)] == [12, 148, 1808, 22026]
    assert default_backoff_s(5) == default_backoff_s(50) == 86400


def test_next_retry_delay_prefers_the_destination_then_the_expression_then_the_default() -> None:
    now = time.time()
    with_expression = {"retried": 1, "retry_delay": "1000 * (retried + 1)", "now_s": now}
    assert next_retry_delay_s(response_headers={"Retry-After": ["7"]}, **with_expression) == 7.0
    assert (
        next_retry_delay_s(response_headers={"X-Ratelimit-Reset-Tokens": ["6m5s"]}, **with_expression)
        == 365.0
    )
    assert (
        next_retry_delay_s(response_headers={"Retry-After": ["90000"]}, **with_expression) == 2.0
    )  # > 1 day
    assert next_retry_delay_s(response_headers={}, **with_expression) == 2.0
    assert next_retry_delay_s(response_headers={}, retried=0, retry_delay=None, now_s=now) == math.exp(2.5)
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 30))
    from_date = next_retry_delay_s(
        response_headers={"Retry-After": [http_date]}, retried=0, retry_delay=None, now_s=now
    )
    assert 28 <= from_date <= 30


def test_signature_verifies_with_the_official_receiver_and_has_pyjwt_claims() -> None:
    token = sign(CURRENT_KEY, url="https://example.com/api?x=1", body=b'{"a": 1}')
    Receiver(CURRENT_KEY, NEXT_KEY).verify(
        signature=token, body='{"a": 1}', url="https://example.com/api?x=1"
    )
    claims = jwt.decode(token, CURRENT_KEY, algorithms=["HS256"], issuer="Upstash")
    assert claims["iat"] == claims["nbf"] == claims["exp"] - 300
    assert isinstance(claims["jti"], str) and claims["jti"].startswith("jwt_")
    assert claims["body"].endswith("=")  # padded base64url, as in the docs' example
    assert "aud" not in claims
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


def test_an_expired_signature_is_refused() -> None:
    token = sign(CURRENT_KEY, url="https://e.com", body=b"", now=time.time() - 301)
    with pytest.raises(SignatureError, match="expired"):
        Receiver(CURRENT_KEY, CURRENT_KEY).verify(signature=token, body="", url="https://e.com")


def test_rotation_promotes_next_and_mints_a_fresh_key() -> None:
    keys = SigningKeys(CURRENT_KEY, NEXT_KEY)
    keys.rotate()
    assert keys.current == NEXT_KEY
    assert keys.next.startswith("sig_") and len(keys.next) == 32 and keys.next != CURRENT_KEY
