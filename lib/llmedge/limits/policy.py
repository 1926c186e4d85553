"""What each limit does when Redis cannot answer in time: fail open (admit) or fail closed (refuse).

Defaults, and why:
- `requests`: open. It guards against abuse, not spend; refusing every caller because the limit store is
  down would turn a Redis incident into a full outage. The local block cache still refuses callers that
  were already over their limit.
- `global`: open. The upstream has a second guard that does not depend on Redis: QStash flow control
  (rate and parallelism per model), so a burst waits in QStash instead of reaching the provider.
- `tokens`: closed. The budget is money; while it cannot be checked a single client could spend without
  bound. Only requests that would cost tokens are refused: a tier without a token budget is not affected.
- `in_flight`: open. It is about fairness between callers, and QStash flow control still bounds the
  upstream's concurrency.

Override in `LLMEDGE_LIMITS_FAIL_POLICY`, e.g. '{"requests": "closed", "in_flight": "closed"}'.
"""

from __future__ import annotations

from typing import Literal, get_args

from msgspec import Struct

from llmedge.errors import ConfigurationError
from llmedge.limits.envjson import json_object_variable

LimitName = Literal["requests", "global", "tokens", "in_flight"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)
FailMode = Literal["open", "closed"]


class FailPolicy(Struct, frozen=True):
    requests: FailMode = "open"
    global_: FailMode = "open"
    tokens: FailMode = "closed"
    in_flight: FailMode = "open"

    def mode(self, limit: LimitName) -> FailMode:
        mode: FailMode = getattr(self, "global_" if limit == "global" else limit)
        return mode

    def first_closed(self, limits: tuple[LimitName, ...]) -> LimitName | None:
        """The first of `limits` that fails closed, or None when all of them fail open."""
        return next((limit for limit in limits if self.mode(limit) == "closed"), None)


def parse_fail_policy(raw: str | None, *, variable: str = "LLMEDGE_LIMITS_FAIL_POLICY") -> FailPolicy:
    document = json_object_variable(raw, variable, 'like {"tokens": "closed"}')
    if document is None:
        return FailPolicy()
    modes: dict[str, FailMode] = {}
    for limit, mode in document.items():
        if limit not in LIMIT_NAMES:
            raise ConfigurationError(f"{variable} names unknown limit {limit!r}; known: {list(LIMIT_NAMES)}")
        if mode not in get_args(FailMode):
            raise ConfigurationError(f'{variable}[{limit!r}] must be "open" or "closed"; got {mode!r}')
        modes["global_" if limit == "global" else limit] = mode
    return FailPolicy(**modes)
