"""What an admitted miss holds until its callback settles it: an in-flight slot and a token estimate.

Serialisable: the gateway stores `to_dict()` in the job record and the callback, another function
invocation perhaps on another instance, rebuilds it with `from_dict()`. It carries the bucket parameters
it was charged under, so a configuration change in between cannot reconcile against a different bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict, fields


class Reservation(Struct, frozen=True):
    job_id: str
    caller_id: str
    tier: str
    estimated_tokens: int
    in_flight_key: str
    token_key: str
    token_size: int  # 0: the tier has no token budget, only the in-flight slot is held
    token_interval_ms: int
    token_refill: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reservation:
        """Rebuild from `to_dict()`'s output; `ValueError` if a field is missing or of the wrong type."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = data.get(item.name)
            expected = int if item.type in ("int", int) else str
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(
                    f"reservation field {item.name!r} must be {expected.__name__}; got {value!r}"
                )
            values[item.name] = value
        return cls(**values)
