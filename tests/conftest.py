"""Suite-wide fixtures: every test starts from a clean environment.

A developer's shell (or CI's) may carry real Upstash/QStash/OpenAI credentials; no test may pick them up
by accident, so they are removed before each test. Tests that need them set them explicitly.
"""

from __future__ import annotations

import os

import pytest

# `stack`: the whole `llmedge dev` stack in a subprocess; `bridge_url` / `redis`: a Redis behind the
# Upstash REST bridge in this process. Both shared by the session.
pytest_plugins = ["tests.stack_fixture", "tests.upstash_fixture"]

_CLEARED_PREFIXES = ("UPSTASH_", "QSTASH_", "OPENAI_", "LLMEDGE_", "VERCEL", "AWS_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name == "REDIS_URL":
            monkeypatch.delenv(name, raising=False)
