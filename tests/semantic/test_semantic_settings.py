"""The semantic settings reach the gateway's semantic cache: LLMEDGE_SEMANTIC_MEANING_CHECK (borderline
hits get judged) and the search budget (LLMEDGE_SEMANTIC_CANDIDATES, LLMEDGE_SEMANTIC_GATHERED)."""

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


async def test_the_search_budget_reaches_the_index() -> None:
    environ = {**BASE_ENV, "LLMEDGE_SEMANTIC_CANDIDATES": "3000", "LLMEDGE_SEMANTIC_GATHERED": "15000"}
    gateway = Gateway.from_environ(environ)
    try:
        budget = gateway.semantic().index.budget
        assert (budget.candidates, budget.gathered) == (3000, 15000)
    finally:
        await gateway.clients.aclose()
