"""When two words name the same thing: equal stems, an abbreviation, a misspelling, a synonym.

And when they never do, however alike they look: opposites ("enable"/"disable", "increase"/"decrease").
"""

from __future__ import annotations

from functools import lru_cache

from llmedge.semantic.lexicon import FRAMING_WORDS, NEGATING_PREFIXES, OPPOSITES, STOPWORDS, SYNONYM_GROUPS
from llmedge.semantic.text import stem

_SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(map(stem, group)) for group in SYNONYM_GROUPS)
_STEMMED_OPPOSITES: dict[str, frozenset[str]] = {}
for _word, _others in OPPOSITES.items():
    _STEMMED_OPPOSITES[stem(_word)] = _STEMMED_OPPOSITES.get(stem(_word), frozenset()) | frozenset(
        map(stem, _others)
    )
_FILLER_BY_INITIAL: dict[str, tuple[str, ...]] = {}
for _filler in sorted(STOPWORDS | FRAMING_WORDS):
    if len(_filler) >= 4:
        _FILLER_BY_INITIAL[_filler[0]] = (*_FILLER_BY_INITIAL.get(_filler[0], ()), _filler)


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment edit distance (a swap of neighbours counts 1); `limit + 1` when above."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], before_previous[j - 2] + 1)
        before_previous, previous = previous, current
    return previous[-1]


def are_opposites(a: str, b: str) -> bool:
    """Listed opposites, a negating prefix ("freeze"/"unfreeze"), or a swapped prefix ("import"/"export")."""
    if stem(b) in _STEMMED_OPPOSITES.get(stem(a), ()):
        return True
    shorter, longer = sorted((a, b), key=len)
    if any(longer == prefix + shorter for prefix in NEGATING_PREFIXES):
        return True
    return len(a) == len(b) > 5 and a[2:] == b[2:] and a[:2] != b[:2]


def misspelling(a: str, b: str) -> bool:
    """One slip for a short word, two for a long one; misspellings keep the first letter.

    Below seven letters a changed letter is not accepted, only a dropped, doubled or swapped one:
    "cone"/"come", "gold"/"good", "sprain"/"strain" are different words, not typos.
    """
    shorter = min(len(a), len(b))
    if a[0] != b[0] or shorter < 4:
        return False
    if shorter < 7 and len(a) == len(b) and sorted(a) != sorted(b):
        return False
    limit = 2 if shorter >= 7 else 1
    return osa_distance(a, b, limit) <= limit


@lru_cache(maxsize=65536)
def lexical_match(stem_a: str, raw_a: str, stem_b: str, raw_b: str) -> bool:
    """Same stem, listed synonyms, an abbreviation ("temp"/"temperature") or a misspelling."""
    if stem_a == stem_b:
        return True
    if are_opposites(raw_a, raw_b) or are_opposites(stem_a, stem_b):
        return False
    if any(stem_a in group and stem_b in group for group in _SYNONYMS):
        return True
    shorter, longer = sorted((stem_a, stem_b), key=len)
    if len(shorter) >= 5 and longer.startswith(shorter):
        return True
    return misspelling(raw_a, raw_b)


@lru_cache(maxsize=16384)
def misspelt_filler(word: str) -> bool:
    """ "diffrence", "evrey", "wich": a misspelt framing or function word is still not content."""
    return any(misspelling(word, filler) for filler in _FILLER_BY_INITIAL.get(word[:1], ()))
