from __future__ import annotations

from llmedge.limits.estimate import DEFAULT_COMPLETION_TOKENS, estimate_tokens


def test_prompt_plus_max_tokens() -> None:
    assert estimate_tokens("abc" * 100, 50) == 100 + 8 + 50


def test_default_completion_when_max_tokens_is_absent() -> None:
    assert estimate_tokens("", None) == 8 + DEFAULT_COMPLETION_TOKENS
    assert estimate_tokens("", None, default_completion=10) == 18


def test_multibyte_text_is_not_underestimated() -> None:
    # 1 CJK character is about 1 token; 3 UTF-8 bytes each.
    assert estimate_tokens("漢" * 90, 0) >= 90
