"""What the near-miss guards see in one prompt: content words, names, numbers, units, negation, quotes.

`analyse(text)` is pure and fast (well under a millisecond, cached), so a stored prompt is re-analysed at
lookup time instead of being stored pre-analysed: the rules can change without rewriting the cache.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from llmedge.semantic.lexicon import (
    CANONICAL_PHRASES,
    FRAMING_WORDS,
    NEGATIONS,
    NUMBER_WORDS,
    STOPWORDS,
    UNITS,
)

# Rewritten before Unicode normalisation: NFKC would turn "x²" into "x2".
_SYMBOLS = str.maketrans(
    {
        "²": "^2",
        "³": "^3",
        "−": "-",
        "–": "-",
        "—": " - ",
        "÷": " divided by ",
        "×": " times ",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "«": '"',
        "»": '"',
        "¿": " ",
        "¡": " ",
    }
)
_JOINED_PREFIX = re.compile(r"\b(re|pre|co|non|multi|sub)-([a-z])", re.IGNORECASE)
_COUNTRIES = {"US": "USA", "USA": "USA", "UK": "UK"}
_COUNTRY_ACRONYMS = re.compile(r"\b(?:U\.S\.A\.|U\.S\.|USA|US|UK)(?![\w.])")
_QUOTED = re.compile(r"""(?<![\w])'([^']+?)'(?![\w])|"([^"]+?)\"""")
_TOKEN = re.compile(
    r"\d+(?:,\d{3})+(?:\.\d+)?|\d+/\d+|\d+(?:\.\d+)?[a-z]*|[a-z]+(?:'[a-z]+)?|[$€%^+\-*/=<>()]"
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\d+/\d+")
_GLUED = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
_MAGNITUDES = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}
_STRONG_OPERATORS = frozenset("=<>^+*")
_FORMULA_PARTS = frozenset("^+-*/=<>()")
# Words between which order changes the question: "km to miles", "3/4 divided by 2/3".
DIRECTION_MARKERS = frozenset({"to", "into", "divided", "over", "than"})
_SENTENCE_BREAK = re.compile(r"[.!?:;]\s+|\n|^\s*")
# Unit spellings short enough to be ordinary words ("in", "m", "s") are only units right after a number.
_WORD_UNITS = {word: unit for word, unit in UNITS.items() if len(word) > 2 and word not in STOPWORDS}
# One alternation, longest phrases first, so "united states of america" wins over "united states".
_PHRASES = re.compile(
    r"(?<![\w/])("
    + "|".join(re.escape(phrase) for phrase in sorted(CANONICAL_PHRASES, key=len, reverse=True))
    + r")(?![\w/])"
)


@dataclass(frozen=True, slots=True)
class Prompt:
    """The parts of a prompt the guards compare."""

    words: dict[str, str]  # stem -> word as written, for the words that carry meaning
    counts: Counter[str]  # how often each of those stems occurs
    names: frozenset[str]  # stems of capitalised words inside sentences, and acronyms
    numbers: Counter[str]  # canonical values ("5", "0.25", "3/4", "50000"), with repeats
    number_units: frozenset[tuple[str, str]]  # ("5", "km"): a number and the unit that follows it
    negated: bool
    quoted: tuple[str, ...]  # quoted spans, lowercased words joined by spaces
    formulas: frozenset[str]  # "x^2-5x+6=0"
    directed: frozenset[tuple[str, str]]  # ("km", "mile") for "km to miles"
    plain: str  # " lowercased words and numbers ", for finding quoted spans
    text: str  # the whole prompt cleaned, lowercased, abbreviations spelt out: what `words` come from


def clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.translate(_SYMBOLS))
    text = _JOINED_PREFIX.sub(r"\1\2", text)  # "re-render" and "rerender" are one word
    # Country acronyms before lowercasing, where "US" is still not the pronoun "us".
    return _COUNTRY_ACRONYMS.sub(lambda match: _COUNTRIES[match.group(0).replace(".", "")], text)


def canonical_phrases(lowered: str) -> str:
    return _PHRASES.sub(lambda match: CANONICAL_PHRASES[match.group(1)], lowered)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A deliberately small suffix stripper: plurals, -ing, -ed, a final e; units to one name."""
    word = _WORD_UNITS.get(word, word).replace("'", "")
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif (word.endswith("es") and word[-3] in "sxz") or word.endswith(("ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, minimum in (("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= minimum:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "sl":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def is_filler(word: str) -> bool:
    """Grammar, request framing and negation: words that do not name what is asked."""
    return word in STOPWORDS or word in FRAMING_WORDS or word in NEGATIONS or word in NUMBER_WORDS


def canonical_number(value: str | float | Decimal) -> str:
    """Every digit kept ("1.50" and "1.5" agree; 1234567 and 1234568 do not — `:g` would merge them)."""
    return format(Decimal(str(value)).normalize(), "f")


def number_value(token: str) -> str | None:
    if _NUMBER.fullmatch(token):
        return token if "/" in token else canonical_number(token.replace(",", ""))
    if token in NUMBER_WORDS:
        return canonical_number(NUMBER_WORDS[token])
    return None


def _tokens(lowered: str) -> list[str]:
    """Words, numbers and operators; "50k" becomes 50000, "16th" 16, "5x" the two tokens 5 and x."""
    tokens: list[str] = []
    for token in _TOKEN.findall(lowered):
        glued = _GLUED.fullmatch(token)
        if not glued:
            tokens.append(token)
            continue
        number, suffix = glued.groups()
        if suffix in _MAGNITUDES:
            tokens.append(canonical_number(Decimal(number) * Decimal(_MAGNITUDES[suffix])))
        elif suffix in _ORDINAL_SUFFIXES:
            tokens.append(number)
        else:
            tokens.extend((number, suffix))
    return tokens


def _formulas(tokens: list[str]) -> frozenset[str]:
    """Runs of numbers, one-letter variables and operators that hold a real operator and two operands."""
    found: set[str] = set()
    run: list[str] = []
    for token in [*tokens, "."]:
        if token in _FORMULA_PARTS or _NUMBER.fullmatch(token) or (len(token) == 1 and token.isalpha()):
            run.append(token)
            continue
        operands = [part for part in run if part not in _FORMULA_PARTS]
        if len(operands) >= 2 and _STRONG_OPERATORS.intersection(run):
            found.add("".join(run).strip("()"))
        run = []
    return frozenset(found)


def _names(cleaned: str) -> frozenset[str]:
    """Capitalised words that do not open a sentence, and acronyms: the named entities of a prompt.

    Neighbouring name words are spelt out together, so "the United States" names what "the US" does."""
    runs: list[list[str]] = []
    for sentence in _SENTENCE_BREAK.split(cleaned):
        last = -2
        for position, word in enumerate(re.findall(r"[A-Za-z][\w'.-]*", sentence)):
            bare = word.strip(".'-").split("'")[0]
            lowered = bare.lower()
            if len(bare) < 2 or is_filler(lowered) or bare == "I":
                continue
            if bare.isupper() or (position > 0 and bare[0].isupper()):
                if position == last + 1:
                    runs[-1].append(lowered)
                else:
                    runs.append([lowered])
                last = position
    return frozenset(stem(part) for run in runs for part in canonical_phrases(" ".join(run)).split())


def _number_units(tokens: list[str]) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for index, token in enumerate(tokens):
        value = number_value(token)
        if value is None:
            continue
        if index and tokens[index - 1] in ("$", "€"):
            pairs.add((value, UNITS[tokens[index - 1]]))
        following = [t for t in tokens[index + 1 : index + 3] if t != "-"][:1]
        if following and following[0] in UNITS and following[0] != "in":
            pairs.add((value, UNITS[following[0]]))
    return frozenset(pairs)


def _directed_pairs(tokens: list[str]) -> frozenset[tuple[str, str]]:
    """("a", "b") for "a to b", "a into b", "a divided by b", "a than b": pairs whose order matters."""
    kept = [t for t in tokens if (t not in STOPWORDS or t in DIRECTION_MARKERS) and t not in "()"]
    pairs: set[tuple[str, str]] = set()
    for index in range(1, len(kept) - 1):
        left, marker, right = kept[index - 1], kept[index], kept[index + 1]
        if marker in DIRECTION_MARKERS and DIRECTION_MARKERS.isdisjoint((left, right)):
            pairs.add((stem(left), stem(right)))
    return frozenset(pairs)


def _meaningful(words: list[str]) -> list[str]:
    """Content words; a unit right after a number is left to `number_units` ("50k dollars" = "$50,000")."""
    kept = []
    for index, word in enumerate(words):
        after_number = index > 0 and number_value(words[index - 1].rstrip("-")) is not None
        if word.isalpha() and len(word) > 1 and not is_filler(word) and not (after_number and word in UNITS):
            kept.append(word)
    return kept


@lru_cache(maxsize=4096)
def analyse(text: str) -> Prompt:
    """Everything the guards compare, from one prompt."""
    cleaned = clean(text)
    lowered = canonical_phrases(cleaned.lower())
    quoted = tuple(
        " ".join(re.findall(r"[a-z0-9]+", (single or double).replace("'", "")))
        for single, double in _QUOTED.findall(lowered)
    )
    tokens = _tokens(lowered)
    words = [token.replace("'", "") for token in tokens]
    meaningful = _meaningful(words)
    return Prompt(
        words={stem(w): w for w in meaningful},
        counts=Counter(map(stem, meaningful)),
        names=_names(cleaned),
        numbers=Counter(v for v in map(number_value, words) if v is not None),
        number_units=_number_units(words),
        negated=any(w in NEGATIONS for w in words) or any(t.endswith("n't") for t in tokens),
        quoted=quoted,
        formulas=_formulas(words),
        directed=_directed_pairs(words),
        plain=" " + " ".join(re.findall(r"[a-z0-9]+", lowered.replace("'", ""))) + " ",
        text=lowered,
    )
