"""LLMEDGE_SEMANTIC_MEANING_CHECK reaches the gateway's semantic cache: borderline hits get judged."""

from __future__ import annotations

import pytest

from llmedge.gateway import Gateway
from tests.gateway.conftest import BASE_ENV

STORED = "How do I rename a file in Linux?"
NEW_QUESTION = "How do I rename a hidden file in Linux?"


@pytest.mark.parametrize(("setting", "verdict"), [("false", "extra_words"), ("true", "changed_meaning")])
async def test_the_setting_decides_whether_minilm_judges(setting: str, verdict: str) -> None:
    gateway = Gateway.from_environ({**BASE_ENV, "LLMEDGE_SEMANTIC_MEANING_CHECK": setting})
    try:
        assert gateway.semantic().guard.veto(STORED, NEW_QUESTION) == verdict
    finally:
        await gateway.clients.aclose()
