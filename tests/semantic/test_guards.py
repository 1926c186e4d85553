"""The near-miss guards: each rule vetoes its kind of near-miss and lets plain rewordings through."""

from __future__ import annotations

import pytest

from llmedge.semantic.embedders import WordLlamaEmbedder
from llmedge.semantic.guards import GuardSettings, NearMissGuard
from llmedge.semantic.text import analyse
from llmedge.semantic.wordmatch import are_opposites, lexical_match, misspelling

LEXICAL = NearMissGuard()


@pytest.fixture(scope="module")
def guard() -> NearMissGuard:
    return NearMissGuard(word_similarity=WordLlamaEmbedder().word_similarity)


@pytest.mark.parametrize(
    ("stored", "query", "reason"),
    [
        ("What is the capital of France?", "What is the capital of Germany?", "name"),
        ("What is 15% of 80?", "What is 15% of 90?", "number"),
        (
            "How do I enable dark mode in the settings?",
            "How do I disable dark mode in the settings?",
            "opposite",
        ),
        ("How do I reverse a list in Python?", "How do I reverse a list in JavaScript?", "name"),
        ("how do I reverse a list in python", "how do I reverse a list in javascript", "extra_words"),
        ("convert 5 km to miles", "convert 5 miles to km", "unit"),
        ("What is 3/4 divided by 2/3?", "What is 2/3 divided by 3/4?", "direction"),
        ("Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?", "negation"),
        ("How do I solve x^2 - 5x + 6 = 0?", "How do I solve x^2 + 5x + 6 = 0?", "formula"),
        ("Is 'alot' a real word?", "Is 'allot' a real word?", "quoted"),
        ("Who was the first US president?", "Who was the 16th US president?", "number"),
        ("What was the population of Tokyo?", "What was the population of Tokyo in 1950?", "number"),
        (
            "How long does a broken wrist take to heal?",
            "How long does a broken wrist take to heal in a child?",
            "extra_words",
        ),
        ("Write a short out-of-office email", "Write a funny short out-of-office email", "extra_words"),
        (
            "How many combinations does a 4-digit PIN have?",
            "How many combinations does a 6-digit PIN have?",
            "number",
        ),
        ("Is raw cookie dough safe to eat?", "Is raw cookie dough dangerous to eat?", "opposite"),
        ("Can I pick up my order in store?", "Can someone else pick up my order in store?", "extra_words"),
        ("Can I cancel my order?", "Can I cancel my order within a day?", "extra_words"),
        (
            "What is the volume of a sphere, and where does it come from?",
            "What is the volume of a cone, and where does it come from?",
            "extra_words",
        ),
    ],
)
def test_near_misses_are_vetoed(guard: NearMissGuard, stored: str, query: str, reason: str) -> None:
    assert guard.veto(stored, query) == reason


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("python check if key exists in dict", "pyton check if a key exists in a dictionary"),
        (
            "What is the difference between a process and a thread?",
            "whats the diffrence between a thread and a process",
        ),
        ("convert 5 km to miles", "5 kilometres in miles?"),
        ("Who was the first US president?", "who was the frist president of the USA"),
        ("Is 0 an even number?", "Is zero an even number?"),
        ("I inherited $50,000", "i inherited 50k dollars"),
        ("How do I remove all stopped docker containers?", "how do i delete all stopped docker containers"),
        ("Are power banks allowed in checked luggage?", "Are power banks permitted in checked luggage?"),
        # Other ways to ask "why", hedges and "the name of" frame the question without changing it.
        ("Why is the sky blue?", "How come the sky is blue?"),
        ("Why do leaves change color?", "For what reason do leaves change colour?"),
        ("How many people live in Tokyo?", "Roughly how many people live in Tokyo?"),
        ("What is the name of the longest river in Africa?", "longest river in Africa?"),
        # A name of several words is spelt out as a whole.
        ("What is the population of the US?", "What is the population of the United States?"),
    ],
)
def test_rewordings_pass(guard: NearMissGuard, stored: str, query: str) -> None:
    assert guard.veto(stored, query) is None


def test_identical_prompts_always_pass() -> None:
    text = "Can you rewrite this sentence in the active voice: 'The cake was eaten by the children.'"
    assert LEXICAL.veto(text, text) is None


def test_word_vectors_accept_synonyms_above_the_floor(guard: NearMissGuard) -> None:
    # "fridge" for "refrigerator" needs the word vectors; "freezer" stays below the floor.
    stored = "How long does cooked rice keep in the refrigerator?"
    synonym, neighbour = stored.replace("refrigerator", "fridge"), stored.replace("refrigerator", "freezer")
    assert LEXICAL.veto(stored, synonym) == "extra_words"
    assert guard.veto(stored, synonym) is None
    assert guard.veto(stored, neighbour) == "extra_words"
    strict = NearMissGuard(GuardSettings(word_similarity_floor=1.01), WordLlamaEmbedder().word_similarity)
    assert strict.veto(stored, synonym) == "extra_words"


def test_names_are_never_matched_by_word_vectors(guard: NearMissGuard) -> None:
    # WordLlama puts "Sweden" close to "Switzerland"; names are compared lexically only.
    assert guard.veto("What is the currency of Switzerland?", "What is the currency of Sweden?") == "name"


def test_missing_share_is_bounded() -> None:
    stored = "How long can cooked chicken stay in the fridge before I should throw it out?"
    assert LEXICAL.veto(stored, "how long can chicken stay") == "missing_words"
    lenient = NearMissGuard(GuardSettings(max_missing_share=1.0))
    assert lenient.veto(stored, "how long can chicken stay") is None


def test_analysis_reads_numbers_units_and_quotes() -> None:
    prompt = analyse("Is a 30,000 mAh power bank OK? I paid $49 for 2 of them, 50k total, 'in the box'.")
    assert set(prompt.numbers) == {"30000", "49", "2", "50000"}
    assert ("30000", "mah") in prompt.number_units and ("49", "usd") in prompt.number_units
    assert prompt.quoted == ("in the box",)
    assert analyse("x² − 5x + 6 = 0").formulas == analyse("x^2 - 5x + 6 = 0").formulas == {"x^2-5x+6=0"}
    assert analyse("don't stop").negated and not analyse("do stop").negated


def test_word_matching_rules() -> None:
    assert misspelling("diffrence", "difference") and misspelling("pyton", "python")
    assert not misspelling("cone", "come") and not misspelling("sprain", "strain")
    assert are_opposites("enable", "disable") and are_opposites("increase", "decrease")
    assert are_opposites("freeze", "unfreeze") and are_opposites("import", "export")
    assert not lexical_match("increas", "increase", "decreas", "decrease")
    assert lexical_match("congrat", "congrats", "congratulation", "congratulations")  # an abbreviation


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("what is 1234567 + 1", "what is 1234568 + 1"),
        ("order 1763904712345678901 status", "order 1763904712399999999 status"),
        ("is 0.1234567 bigger than 0.1", "is 0.1234568 bigger than 0.1"),
    ],
)
def test_numbers_differing_past_six_digits_are_still_different(stored: str, query: str) -> None:
    # A regression: numbers were compared after `:g` formatting, which keeps 6 significant digits.
    assert NearMissGuard().veto(stored, query) == "number"
