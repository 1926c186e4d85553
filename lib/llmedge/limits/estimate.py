"""The up-front token estimate a miss is charged before the model runs; settle corrects it afterwards."""

from __future__ import annotations

import math

# Without `max_tokens` a model may write up to its context limit; charge this much and refund the rest.
DEFAULT_COMPLETION_TOKENS = 1024
# Per-request framing the chat format adds around the messages (roles, separators).
_OVERHEAD_TOKENS = 8


def estimate_tokens(
    prompt_text: str, max_tokens: int | None, *, default_completion: int = DEFAULT_COMPLETION_TOKENS
) -> int:
    """Prompt tokens (one per 3 UTF-8 bytes) plus the completion allowance.

    One token per 3 bytes over-estimates English (about 4 characters a token) and roughly matches CJK
    (3 bytes a character, about a token each): erring high is safe, because the difference is refunded
    when the real `usage` arrives, while erring low would let concurrent requests overspend.
    """
    prompt = math.ceil(len(prompt_text.encode()) / 3) + _OVERHEAD_TOKENS
    completion = default_completion if max_tokens is None else max(0, max_tokens)
    return prompt + completion
