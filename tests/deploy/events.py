"""Realistic AWS Lambda event payloads (shapes from AWS's documentation examples)."""

from __future__ import annotations

import base64
import json
from typing import Any


def http_api_v2(
    method: str, path: str, *, body: Any = None, query: str = "", source_ip: str = "203.0.113.7"
) -> dict:
    """An API Gateway HTTP API (payload format 2.0) event, as `serverless.yml` routes produce."""
    encoded = base64.b64encode(json.dumps(body).encode()).decode() if body is not None else None
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "*/*",
            "content-type": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-65f0c2d1-1234567890abcdef12345678",
            "x-forwarded-for": source_ip,
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&")) if query else None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "12/Mar/2024:19:03:58 +0000",
            "timeEpoch": 1710270238000,
        },
        "body": encoded,
        "isBase64Encoded": body is not None,
    }


def function_url(
    method: str, path: str, *, body: Any = None, query: str = "", source_ip: str = "198.51.100.4"
) -> dict:
    """A Lambda function URL event: payload format 2.0 with a `lambda-url` domain and no route key."""
    event = http_api_v2(method, path, body=body, query=query, source_ip=source_ip)
    domain = "abcdefghijklmnop.lambda-url.us-east-1.on.aws"
    event["routeKey"] = "$default"
    event["headers"]["host"] = domain
    event["requestContext"].update(
        {
            "apiId": "abcdefghijklmnop",
            "domainName": domain,
            "domainPrefix": "abcdefghijklmnop",
            "routeKey": "$default",
        }
    )
    return event


class LambdaContext:
    function_name = "llmedge-generate"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:llmedge-generate"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000
