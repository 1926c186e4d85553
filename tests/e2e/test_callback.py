"""Only QStash-signed callbacks for this exact URL change anything, and each changes it once."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import httpx
import jwt
import pytest

from tests.e2e.flow import chat, poll, submit, unique


@pytest.fixture
async def client(stack) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        yield client


def sign(key: str, url: str, body: bytes, *, now: float | None = None, lifetime: int = 300) -> str:
    """A token shaped exactly like QStash's (PROTOCOLS §4.1)."""
    issued = int(time.time() if now is None else now)
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    claims = {
        "iss": "Upstash",
        "sub": url,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": f"jwt_{uuid.uuid4().hex}",
        "body": digest,
    }
    return jwt.encode(claims, key, algorithm="HS256")


def callback_body(content: str, status: int = 200) -> bytes:
    completion = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    encoded = base64.b64encode(json.dumps(completion).encode()).decode()
    return json.dumps(
        {"status": status, "body": encoded, "retried": 0, "maxRetries": 3, "sourceMessageId": "msg_test"}
    ).encode()


async def pending_job(client: httpx.AsyncClient) -> str:
    response = await submit(client, chat(unique("slow enough to forge") + " [sim:latency=8]"))
    assert response.status_code == 202
    return response.json()["job_id"]


async def deliver(
    client: httpx.AsyncClient, url: str, body: bytes, signature: str, message_id: str
) -> httpx.Response:
    return await client.post(
        url,
        content=body,
        headers={
            "Upstash-Signature": signature,
            "Upstash-Message-Id": message_id,
            "content-type": "application/json",
        },
    )


async def status_of(client: httpx.AsyncClient, job_id: str) -> str:
    return (await client.get("/api/result", params={"id": job_id})).json()["status"]


async def test_bad_signatures_are_401_and_change_nothing(client: httpx.AsyncClient, stack) -> None:  # type: ignore[no-untyped-def]
    job_id = await pending_job(client)
    path = f"/api/callback?job={job_id}"
    url = stack.base_url + path
    key = stack.env["QSTASH_CURRENT_SIGNING_KEY"]
    body = callback_body("forged answer")
    attempts = {
        "forged key": sign("sig_a_forged_key_of_the_same_length", url, body),
        "expired": sign(key, url, body, now=time.time() - 400),
        "other url": sign(key, stack.base_url + "/api/callback?job=job_someoneelse0000000000", body),
        "tampered body": sign(key, url, callback_body("original answer")),
        "garbage": "not-a-jwt",
    }
    for reason, signature in attempts.items():
        response = await deliver(client, path, body, signature, f"msg_{reason.replace(' ', '_')}")
        assert response.status_code == 401, reason
        assert response.json()["error"]["code"] == "invalid_signature"
    missing = await client.post(path, content=body)
    assert missing.status_code == 401
    assert await status_of(client, job_id) == "pending"


async def test_duplicate_delivery_is_applied_once(client: httpx.AsyncClient, stack) -> None:  # type: ignore[no-untyped-def]
    job_id = await pending_job(client)
    path = f"/api/callback?job={job_id}"
    body = callback_body("the signed answer")
    signature = sign(stack.env["QSTASH_CURRENT_SIGNING_KEY"], stack.base_url + path, body)
    outcomes = [
        (await deliver(client, path, body, signature, "msg_dup_once")).json()["status"] for _ in range(3)
    ]
    assert outcomes == ["applied", "duplicate", "duplicate"]
    final = (await poll(client, job_id)).json()
    assert final["result"]["choices"][0]["message"]["content"] == "the signed answer"


async def test_next_signing_key_is_accepted(client: httpx.AsyncClient, stack) -> None:  # type: ignore[no-untyped-def]
    job_id = await pending_job(client)
    path = f"/api/callback?job={job_id}"
    body = callback_body("signed with the next key")
    signature = sign(stack.env["QSTASH_NEXT_SIGNING_KEY"], stack.base_url + path, body)
    response = await deliver(client, path, body, signature, "msg_next_key")
    assert response.status_code == 200 and response.json()["status"] == "applied"
