"""`llmedge.bench.limits` runs end to end and reports what it claims (figures are not asserted)."""

from __future__ import annotations

import re

import pytest

from llmedge.bench import limits


def test_bench_reports_round_trips_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    limits.run(samples=3, warmup=1)
    out = capsys.readouterr().out
    round_trips = {
        match[1].strip(): int(match[2])
        for match in re.finditer(r"^(.{36}) +(\d+) +[\d.]+ +[\d.]+ +[\d.]+x$", out, re.M)
    }
    assert round_trips == {
        "GET cache key (the floor)": 1,
        "admit: hit (script)": 1,
        "admit: miss, 4 limits (script)": 1,
        "admit: caller in block cache": 0,
        "upstash-ratelimit hit, sequential": 2,
        "upstash-ratelimit hit, gathered": 2,
        "upstash-ratelimit miss, sequential": 5,
        "upstash-ratelimit miss, gathered": 5,
    }
    assert "limits add to a cache hit" in out and "upstash-ratelimit sequential / script" in out
