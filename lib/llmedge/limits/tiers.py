"""Tiers: what each class of caller may spend, parsed strictly from `LLMEDGE_TIERS`.

    LLMEDGE_TIERS='{"anonymous": {"requests": "20/1m", "tokens": "50000/1d", "in_flight": 3},
                    "pro": {"requests": "600/1m"}}'

- `requests`: "N/<duration>", a sliding window (upstash-ratelimit's SlidingWindow): at most N requests,
  cache hits included, in any window of that length (approximated by weighting the previous window).
- `tokens`: "N/<duration>", a token bucket (upstash-ratelimit's TokenBucket with N tokens refilled every
  duration): each miss is charged its estimate up front and reconciled with the real usage later.
- `in_flight`: N, the most jobs one caller may have waiting on the model at once.

A tier omits a limit it does not want. Durations are `<integer><unit>`, unit one of ms, s, m, h, d.
Tiers named in `LLMEDGE_TIERS` replace the defaults of the same name; the others keep their defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from llmedge.errors import ConfigurationError
from llmedge.limits.envjson import json_object_variable

_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)(ms|s|m|h|d)\s*$")
_TIER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TIER_FIELDS = frozenset({"requests", "tokens", "in_flight"})

ANONYMOUS = "anonymous"


class Rate(Struct, frozen=True):
    """`limit` units per `window_ms` milliseconds."""

    limit: int
    window_ms: int

    @property
    def window_seconds(self) -> int:
        return max(1, self.window_ms // 1000)


class Tier(Struct, frozen=True):
    name: str
    requests: Rate | None = None
    tokens: Rate | None = None
    in_flight: int | None = None


DEFAULT_TIERS: dict[str, Tier] = {
    ANONYMOUS: Tier(ANONYMOUS, requests=Rate(30, 60_000), tokens=Rate(100_000, 86_400_000), in_flight=3),
    "free": Tier("free", requests=Rate(60, 60_000), tokens=Rate(250_000, 86_400_000), in_flight=5),
    "pro": Tier("pro", requests=Rate(600, 60_000), tokens=Rate(5_000_000, 86_400_000), in_flight=20),
}


def parse_rate(text: object, *, field: str) -> Rate:
    """Parse "N/<duration>" (e.g. "20/1m"); `field` names the setting in the error."""
    match = _RATE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigurationError(
            f'{field} must look like "20/1m" (a count, "/", a duration in ms, s, m, h or d); got {text!r}'
        )
    count, amount, unit = int(match[1]), int(match[2]), match[3]
    if count < 1 or amount < 1:
        raise ConfigurationError(f"{field} must have a count and a duration of at least 1; got {text!r}")
    return Rate(limit=count, window_ms=amount * _UNIT_MS[unit])


def parse_tiers(raw: str | None, *, variable: str = "LLMEDGE_TIERS") -> dict[str, Tier]:
    """The default tiers, with those named in the JSON `raw` replacing their namesakes."""
    tiers = dict(DEFAULT_TIERS)
    document = json_object_variable(raw, variable, "of tier name → limits")
    if document is None:
        return tiers
    for name, body in document.items():
        tiers[name] = _parse_tier(name, body, f"{variable}[{name!r}]")
    return tiers


def _parse_tier(name: str, body: Any, where: str) -> Tier:
    if not _TIER_NAME.match(name):
        raise ConfigurationError(f"{where}: a tier name is 1-32 letters, digits, '_' or '-'")
    if not isinstance(body, Mapping):
        raise ConfigurationError(f"{where} must be an object with requests, tokens and/or in_flight")
    unknown = sorted(set(body) - _TIER_FIELDS)
    if unknown:
        raise ConfigurationError(f"{where} has unknown field(s) {unknown}; allowed: {sorted(_TIER_FIELDS)}")
    requests = body.get("requests")
    tokens = body.get("tokens")
    in_flight = body.get("in_flight")
    if in_flight is not None and (
        isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1
    ):
        raise ConfigurationError(f"{where}['in_flight'] must be an integer of at least 1; got {in_flight!r}")
    return Tier(
        name=name,
        requests=None if requests is None else parse_rate(requests, field=f"{where}['requests']"),
        tokens=None if tokens is None else parse_rate(tokens, field=f"{where}['tokens']"),
        in_flight=in_flight,
    )
