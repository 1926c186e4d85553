"""Fixtures for the gateway's unit tests: settings that point nowhere real."""

from __future__ import annotations

import pytest

from llmedge.settings import Settings

BASE_ENV = {
    "UPSTASH_REDIS_REST_URL": "http://redis.invalid",
    "UPSTASH_REDIS_REST_TOKEN": "redis-token",
    "QSTASH_URL": "http://qstash.invalid",
    "QSTASH_TOKEN": "qstash-token",
    "QSTASH_CURRENT_SIGNING_KEY": "sig_current_key_for_tests",
    "QSTASH_NEXT_SIGNING_KEY": "sig_next_key_for_tests",
    "OPENAI_BASE_URL": "http://model.invalid/v1",
    "OPENAI_API_KEY": "sk-test",
    "LLMEDGE_PUBLIC_URL": "https://gateway.example.com",
}


@pytest.fixture
def settings() -> Settings:
    return Settings.from_environ(BASE_ENV)
