"""Flow control (docs `qstash/features/flowcontrol.mdx`): per key, at most `parallelism` deliveries in
flight and at most `rate` started per `period`; the rest wait their turn, in order.

The counters live in the delivery loop's memory. That is enough for one broker process: on a restart
every claimed message is made due again and nothing is in flight, so the counts start from zero truly.
The period is multiplied by the time scale, like every other wait of the broker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmedge.devstack.broker.records import FlowControlConfig


@dataclass
class _Gate:
    config: FlowControlConfig
    in_flight: int = 0
    window_start: float = 0.0
    window_count: int = 0
    waiting: deque[str] = field(default_factory=deque)


class FlowGates:
    """Admission per flow-control key. Not thread-safe: used from the delivery loop's event loop only."""

    def __init__(self, time_scale: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._time_scale = time_scale
        self._clock = clock
        self._gates: dict[str, _Gate] = {}

    def offer(self, config: FlowControlConfig, message_id: str) -> None:
        """Queue a message behind `config.key`; the latest message's limits apply to the key."""
        gate = self._gates.setdefault(config.key, _Gate(config))
        gate.config = config
        gate.waiting.append(message_id)

    def admit(self) -> list[tuple[str, str]]:
        """(key, message id) pairs that may start now; each takes a slot until `release(key)`."""
        admitted: list[tuple[str, str]] = []
        now = self._clock()
        for key, gate in list(self._gates.items()):
            while gate.waiting and self._has_room(gate, now):
                gate.in_flight += 1
                gate.window_count += 1
                admitted.append((key, gate.waiting.popleft()))
            if not gate.waiting and gate.in_flight == 0 and self._rate_allows(gate, now):
                del self._gates[key]  # idle, and its rate window holds nothing back any more
        return admitted

    def release(self, key: str) -> None:
        gate = self._gates.get(key)
        if gate is not None:
            gate.in_flight = max(0, gate.in_flight - 1)

    def seconds_until_rate_allows(self) -> float | None:
        """How long until a key that is waiting only on its rate gets a new window (None: no such key)."""
        now = self._clock()
        waits = [
            gate.window_start + self._period(gate) - now
            for gate in self._gates.values()
            if gate.waiting and not self._rate_allows(gate, now) and self._parallelism_allows(gate)
        ]
        return max(0.0, min(waits)) if waits else None

    def view(self, key: str) -> dict[str, Any]:
        """`GET /v2/flowControl/{key}` (field names from the openapi `FlowControl` schema)."""
        view: dict[str, Any] = {"flowControlKey": key, "waitListSize": 0}
        gate = self._gates.get(key)
        if gate is None:
            return view
        view.update(
            waitListSize=len(gate.waiting),
            parallelismMax=gate.config.parallelism,
            parallelismCount=gate.in_flight,
            rateMax=gate.config.rate,
            rateCount=gate.window_count,
            ratePeriod=gate.config.period_s,
        )
        return {name: value for name, value in view.items() if value is not None}

    def _has_room(self, gate: _Gate, now: float) -> bool:
        return self._parallelism_allows(gate) and self._rate_allows(gate, now)

    def _parallelism_allows(self, gate: _Gate) -> bool:
        return gate.config.parallelism is None or gate.in_flight < gate.config.parallelism

    def _rate_allows(self, gate: _Gate, now: float) -> bool:
        if gate.config.rate is None:
            return True
        if now >= gate.window_start + self._period(gate):
            gate.window_start, gate.window_count = now, 0
        return gate.window_count < gate.config.rate

    def _period(self, gate: _Gate) -> float:
        return gate.config.period_s * self._time_scale
