"""The simulator's record of the calls it served: counters for benchmarks, a searchable log for tests.

Tests share one simulator and run concurrently, so they find their own calls by a marker in the prompt
(`find(contains=…)`) rather than by global counts. The log is bounded; counters are not.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class CallRecord:
    endpoint: str
    started: float  # unix seconds
    model: str = ""
    prompt: str = ""
    delivery: int = 0  # how many times this exact body had been received, this one included
    status: int | None = None  # None while in flight
    ended: float | None = None


class CallLog:
    def __init__(self, capacity: int = 10_000) -> None:
        self._records: deque[CallRecord] = deque(maxlen=capacity)
        self._by_endpoint: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def begin(self, endpoint: str) -> CallRecord:
        record = CallRecord(endpoint=endpoint, started=time.time())
        self._records.append(record)
        self._by_endpoint[endpoint] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return record

    def end(self, record: CallRecord, status: int) -> None:
        record.status, record.ended = status, time.time()
        self.in_flight -= 1

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self._by_endpoint.total(),
            "by_endpoint": dict(self._by_endpoint),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    def find(self, contains: str = "") -> list[dict[str, Any]]:
        return [asdict(record) for record in self._records if contains in record.prompt]

    def reset(self) -> None:
        """Forget past calls; calls still in flight keep counting toward `in_flight` until they end."""
        self._records.clear()
        self._by_endpoint.clear()
        self.max_in_flight = self.in_flight
