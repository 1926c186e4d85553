"""Checking a decoded JSON document against a schema (`llmedge.schemas`), with an error naming the field."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from llmedge.errors import ValidationFailed

T = TypeVar("T")

# msgspec puts the field in its message: "Expected `int` >= 1 - at `$.params.max_tokens`", or
# "Object missing required field `model`" / "Object contains unknown field `surprise`" (at `$.cache`).
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]*)`")
_INDEX = re.compile(r"\[(\d+)\]")
# Plain words for the patterns of `llmedge.schemas` (registered with `described_pattern`): an error says
# "must be a model name without spaces", not the regular expression.
_PATTERN_MEANINGS: dict[str, str] = {}


def described_pattern(pattern: str, meaning: str) -> str:
    """`pattern`, remembered with what a value that fails it must be instead."""
    _PATTERN_MEANINGS[f"Expected `str` matching regex {pattern!r}"] = f"must be {meaning}"
    return pattern


def convert(document: Any, schema: type[T]) -> T:
    """`document` as a `schema`, or ValidationFailed whose `field` is the dotted path (`messages.0.role`,
    `body` for the document as a whole) and whose message starts with it."""
    try:
        return msgspec.convert(document, schema)
    except msgspec.ValidationError as error:
        message, field = _describe(str(error))
        raise ValidationFailed(f"{field}: {message}", field=field) from None


def _describe(text: str) -> tuple[str, str]:
    at = _AT.search(text)
    message = text[: at.start()] if at else text
    message = _PATTERN_MEANINGS.get(message, message)
    parts = [part for part in _INDEX.sub(r".\1", at.group("path")).split(".") if part] if at else []
    named = _NAMED.search(message)
    if named:
        parts.append(named.group("name"))
    return message, ".".join(parts) or "body"
