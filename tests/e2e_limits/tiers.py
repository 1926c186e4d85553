"""The tiers and API keys of the limits end-to-end tests: one tenant per concern, so tests never share a limit.

Every process of a test stack (the `llmedge dev` stack, whose own gateway receives the QStash callbacks, and
each `llmedge serve` instance) gets the same `LIMITS_ENV`, as every function instance of one deployment would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MODEL = "gpt-4o-mini"
FLOW_PARALLELISM = 2
REQUEST_LIMIT = 50
TOKEN_BUDGET = 1000


@dataclass(frozen=True)
class Key:
    secret: str
    tenant: str
    tier: str

    @property
    def caller_id(self) -> str:
        """What the limits count against (llmedge.limits.identity.Caller.id for an API key)."""
        return f"tenant:{self.tenant}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}


TIERS = {
    "per-minute": {"requests": f"{REQUEST_LIMIT}/1m"},
    "budget": {"tokens": f"{TOKEN_BUDGET}/1d"},
    "tiny": {"requests": "2/1m"},
    "slots": {"in_flight": 5},
    # Never the limit a test trips: for the flow-control, debounce and overhead tests.
    "roomy": {"requests": "100000/1m", "tokens": "100000000/1d", "in_flight": 1000},
}

REQUESTS = Key("llmedge-e2e-limits-requests-0123456789", "requests-tenant", "per-minute")
TOKENS = Key("llmedge-e2e-limits-tokens-0123456789", "tokens-tenant", "budget")
TINY = Key("llmedge-e2e-limits-tiny-0123456789", "tiny-tenant", "tiny")
SLOTS = Key("llmedge-e2e-limits-slots-0123456789", "slots-tenant", "slots")
ROOMY = Key("llmedge-e2e-limits-roomy-0123456789", "roomy-tenant", "roomy")
SLOW_STORE = Key("llmedge-e2e-limits-slow-store-0123456789", "slow-store-tenant", "per-minute")
_KEYS = (REQUESTS, TOKENS, TINY, SLOTS, ROOMY, SLOW_STORE)

LIMITS_ENV = {
    "LLMEDGE_TIERS": json.dumps(TIERS),
    "LLMEDGE_API_KEYS": json.dumps({key.secret: {"tenant": key.tenant, "tier": key.tier} for key in _KEYS}),
    # The global limit protects the upstream across all callers; these tests trip each caller's own limits.
    "LLMEDGE_GLOBAL_LIMIT": "100000/1m",
    "LLMEDGE_FLOW_CONTROL": json.dumps({MODEL: {"parallelism": FLOW_PARALLELISM}}),
    # Distinct prompts must stay misses for the counts to be exact; a semantic hit of a neighbour's prompt
    # would skip the model call and settle with 0 tokens.
    "LLMEDGE_SEMANTIC_CACHE": "false",
}
