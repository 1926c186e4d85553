"""Near-miss vetoes: cheap checks that refuse a hit the embedding similarity alone would allow.

Sentence embeddings put "the capital of France" next to "the capital of Germany" and "15% of 80" next to
"15% of 90": on the development set the hard negatives are, on average, *more* similar to the seed than
its paraphrases. So similarity only proposes a candidate and these rules decide. Each rule is general
(negation, numbers, units, formulas, quoted text, direction, opposites, names, the content words
themselves) and errs towards a miss: a wrong cached answer costs more than a second model call.

Words are compared lexically (stem, abbreviation, misspelling, a short synonym list) and, when a
`WordSimilarity` is given, by word vectors, which accept "permitted"/"allowed" but, with a high enough
bar, not "key"/"value". Names (capitalised words, acronyms) are only ever compared lexically: word
vectors put "Sweden" next to "Switzerland".

Words left without a counterpart veto the hit, unless a `MeaningCheck` is given: then a candidate
that differs only by a few such words, and passes every other rule, is judged by leaving those words
out with a contextual sentence encoder (`meaning.py`); it vetoes as "changed_meaning" when they
matter. On the development set (WordLlama, threshold 0.5) that takes the paraphrase hit rate from 0.21
to 0.29 with no wrong hit, at the price of one or two encoder batches (tens of milliseconds) for each
candidate it judges; without it a candidate costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from llmedge.semantic.meaning import MeaningCheck
from llmedge.semantic.text import Prompt, analyse
from llmedge.semantic.wordmatch import are_opposites, lexical_match, misspelt_filler

WordSimilarity = Callable[[str, str], float]
"""Cosine similarity of two single words (as written), e.g. from the embedder's word vectors."""


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """The tolerances, chosen on the development set with `llmedge eval semantic`."""

    max_extra_words: int = 0  # query words the stored prompt has nothing for
    max_missing_share: float = 0.34  # share of the stored prompt's words the query may leave out
    word_similarity_floor: float = 0.5  # word-vector cosine at which two words count as synonyms


class NearMissGuard:
    """Decides whether a query may be answered with the answer cached for a stored prompt."""

    def __init__(
        self,
        settings: GuardSettings | None = None,
        word_similarity: WordSimilarity | None = None,
        meaning: MeaningCheck | None = None,
    ):
        self.settings = settings or GuardSettings()
        self._word_similarity = word_similarity
        self._meaning = meaning

    def veto(self, stored_text: str, query_text: str) -> str | None:
        """The reason `query_text` must not get the answer cached for `stored_text`, or None."""
        return self.compare(analyse(stored_text), analyse(query_text))

    def compare(self, stored: Prompt, query: Prompt) -> str | None:
        """`veto` on analysed prompts; rules run cheapest first."""
        reason = _structural_mismatch(stored, query)
        if reason:
            return reason
        extra = self._unmatched(query.words, stored.words, names=query.names)
        if any(word in query.names for word in extra) or _unmatched_names(query, stored):
            return "name"
        missing = self._unmatched(stored.words, query.words, names=stored.names)
        reason = self._word_difference(stored, query, extra, missing)
        if reason in (None, "swapped_word") or self._meaning is None:
            return reason
        # "extra_words" is decided before a swapped word is looked for: a swap is never judged either.
        if reason == "extra_words" and _repeated_more(stored, query):
            return reason
        if not self._meaning.can_judge(stored, extra, missing):
            return reason
        return "changed_meaning" if self._meaning.changes_question(stored, query, extra, missing) else None

    def _word_difference(
        self, stored: Prompt, query: Prompt, extra: list[str], missing: list[str]
    ) -> str | None:
        """The lexical verdict on the words the two prompts do not share."""
        if len(extra) > self.settings.max_extra_words:
            return "extra_words"
        if _repeated_more(stored, query):
            return "swapped_word"
        if stored.words and len(missing) > self.settings.max_missing_share * len(stored.words):
            return "missing_words"
        return None

    def _unmatched(
        self, words: dict[str, str], others: dict[str, str], *, names: frozenset[str]
    ) -> list[str]:
        return [
            word
            for word, raw in words.items()
            if not misspelt_filler(raw) and not self._matches_any(word, raw, others.items(), word in names)
        ]

    def _matches_any(self, word: str, raw: str, others: Iterable[tuple[str, str]], is_name: bool) -> bool:
        candidates = list(others)
        if any(lexical_match(word, raw, other, other_raw) for other, other_raw in candidates):
            return True
        if is_name or self._word_similarity is None:
            return False
        floor = self.settings.word_similarity_floor
        return any(
            self._word_similarity(raw, other_raw) >= floor and not are_opposites(raw, other_raw)
            for _, other_raw in candidates
        )


def _structural_mismatch(stored: Prompt, query: Prompt) -> str | None:
    """The rules that need no word matching: negation, numbers, units, formulas, quotes, direction."""
    if stored.negated != query.negated:
        return "negation"
    if query.numbers - stored.numbers:
        return "number"
    if _unit_conflict(stored, query):
        return "unit"
    if stored.formulas != query.formulas:
        return "formula"
    if any(f" {span} " not in query.plain for span in stored.quoted if span) or any(
        f" {span} " not in stored.plain for span in query.quoted if span
    ):
        return "quoted"
    if _reversed(stored.directed, query.directed):
        return "direction"
    for word, raw in query.words.items():
        if word not in stored.words and any(
            are_opposites(raw, other_raw)
            for other, other_raw in stored.words.items()
            if other not in query.words
        ):
            return "opposite"
    return None


def _unmatched_names(query: Prompt, stored: Prompt) -> bool:
    known = {**stored.words, **{name: name for name in stored.names}}
    return any(
        not any(lexical_match(name, name, other, raw) for other, raw in known.items()) for name in query.names
    )


def _repeated_more(stored: Prompt, query: Prompt) -> bool:
    """A stored word the query says more often than the stored prompt does: in an otherwise matching
    prompt, the extra mention has replaced something ("10% off the *original* price" for "the *sale*
    price", in a prompt that already says "originally")."""

    def occurrences(prompt: Prompt, word: str) -> int:
        return sum(
            n for other, n in prompt.counts.items() if lexical_match(word, word, other, prompt.words[other])
        )

    return any(occurrences(query, word) > occurrences(stored, word) for word in stored.words)


def _unit_conflict(stored: Prompt, query: Prompt) -> bool:
    stored_units: dict[str, set[str]] = {}
    for value, unit in stored.number_units:
        stored_units.setdefault(value, set()).add(unit)
    return any(
        value in stored_units and unit not in stored_units[value] for value, unit in query.number_units
    )


def _reversed(stored: frozenset[tuple[str, str]], query: frozenset[tuple[str, str]]) -> bool:
    def same(a: str, b: str) -> bool:
        return lexical_match(a, a, b, b)

    return any(
        same(a, query_b) and same(b, query_a) and not same(a, b)
        for a, b in stored
        for query_a, query_b in query
    )
