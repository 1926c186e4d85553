"""Limits tests run against the suite-wide bridge (tests/upstash_fixture.py: `bridge_url`, `redis`)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing the server never see each other's state."""
    return f"t{uuid.uuid4().hex[:10]}"
