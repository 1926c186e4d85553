"""Duration strings as QStash and the destinations that answer it write them.

`Upstash-Delay` / `Upstash-Timeout` / flow-control `period` use `<n><unit>` with s/m/h/d, combinable
(`1d10h30m`, docs `qstash/features/delay.mdx`); `Retry-After`-style answers from a destination may be Go
durations (`6m5s`, units ns/us/µs/ms/s/m/h; docs `qstash/features/retry.mdx`). One parser accepts both;
a bare number means seconds, as the Python SDK's int → `"<n>s"` rendering does.
"""

from __future__ import annotations

import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_BARE_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds in `text` (`"90"`, `"10s"`, `"1h30m3s"`, `"1.5s"`); ValueError if it is not a duration."""
    text = text.strip()
    if _BARE_NUMBER.fullmatch(text):
        return float(text)
    position, total = 0, 0.0
    for part in _PART.finditer(text):
        if part.start() != position:
            break
        total += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
        position = part.end()
    if position == 0 or position != len(text):
        raise ValueError(f"not a duration: {text!r}")
    return total
