"""A JSON object read from an environment variable, with errors that name the variable."""

from __future__ import annotations

import json
from typing import Any

from llmedge.errors import ConfigurationError


def json_object_variable(raw: str | None, variable: str, expected: str) -> dict[str, Any] | None:
    """The object, or None when the variable is unset or blank; `expected` shows its shape in the error."""
    if raw is None or not raw.strip():
        return None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{variable} is not valid JSON ({error.msg} at char {error.pos})") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{variable} must be a JSON object {expected}")
    return document
