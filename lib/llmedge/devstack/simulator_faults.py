"""Faults and delays the simulator injects: global dials, and directives carried by one request.

The dials (latency, error rate) act on every call, which suits `llmedge dev` and benchmarks. Tests run
concurrently against one shared stack, so a test that needs a fault writes it into its own prompt instead —
it then affects that request alone:

    [sim:fail=500x2]   the first 2 deliveries of this exact request body fail with 500, later ones succeed
    [sim:429x1]        the first delivery gets 429 with Retry-After: 1 (any 4xx/5xx status works)
    [sim:status=400]   every delivery fails with that status
    [sim:latency=2.5]  this request takes 2.5 s instead of the global latency

Several may be combined (`[sim:429x1,fail=500x1]`); counted failures are served in the order written.
Deliveries are counted per request-body digest, so a retry of the same body advances the count.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from dataclasses import dataclass, field

from llmedge.devstack.simulator_errors import SimulatedError

_DIRECTIVES = re.compile(r"\[sim:([^\]]*)\]")
_COUNTED = re.compile(r"(?:fail=)?([45]\d\d)x(\d+)")
_STATUS = re.compile(r"status=([45]\d\d)")
_LATENCY = re.compile(r"latency=(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Directives:
    failures: tuple[tuple[int, int], ...] = ()  # (status, how many deliveries), served in order
    status: int | None = None
    latency: float | None = None
    source: str = ""  # the directives as written, quoted in error messages

    def failure_for(self, delivery: int) -> SimulatedError | None:
        """The error to answer the `delivery`-th (1-based) delivery of this request with, if any."""
        if self.status is not None:
            return SimulatedError.for_status(self.status, f"simulated by {self.source}")
        remaining = delivery
        for status, count in self.failures:
            if remaining <= count:
                return SimulatedError.for_status(status, f"simulated by {self.source}, delivery {delivery}")
            remaining -= count
        return None


def parse_directives(prompt: str) -> Directives:
    """The `[sim:…]` directives in `prompt`; an unknown one is a 400 naming it (a typo must not pass)."""
    failures: list[tuple[int, int]] = []
    status: int | None = None
    latency: float | None = None
    found = _DIRECTIVES.findall(prompt)
    for item in (part.strip() for group in found for part in group.split(",")):
        if counted := _COUNTED.fullmatch(item):
            failures.append((int(counted[1]), int(counted[2])))
        elif fixed := _STATUS.fullmatch(item):
            status = int(fixed[1])
        elif delay := _LATENCY.fullmatch(item):
            latency = float(delay[1])
        else:
            raise SimulatedError(
                400,
                f"Unknown simulator directive '[sim:{item}]'; expected fail=<status>x<n>, <status>x<n>, "
                "status=<status> or latency=<seconds>.",
                param="messages",
                code="invalid_value",
            )
    source = "".join(f"[sim:{group}]" for group in found)
    return Directives(tuple(failures), status, latency, source)


class DeliveryCounter:
    """How many times each request body has been delivered; the oldest bodies are forgotten first."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._counts: OrderedDict[str, int] = OrderedDict()

    def next(self, digest: str) -> int:
        count = self._counts.pop(digest, 0) + 1
        self._counts[digest] = count
        if len(self._counts) > self._capacity:
            self._counts.popitem(last=False)
        return count

    def clear(self) -> None:
        self._counts.clear()


@dataclass
class Dials:
    """Global behaviour: seconds added to every call, and the fraction of calls that fail with 500."""

    latency: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.latency < 0 or not 0 <= self.error_rate <= 1:
            raise ValueError("latency must be >= 0 and error_rate within [0, 1]")
        self._rng = random.Random(self.seed)  # seeded: a given run fails the same calls every time

    def random_failure(self) -> SimulatedError | None:
        if self.error_rate and self._rng.random() < self.error_rate:
            return SimulatedError.for_status(500, f"simulated: error_rate {self.error_rate}")
        return None

    def as_dict(self) -> dict[str, float | int]:
        return {"latency": self.latency, "error_rate": self.error_rate, "seed": self.seed}
