"""The bridge benchmark runs end to end (figures are printed, never asserted: timing lives in benchmarks)."""

from __future__ import annotations

import pytest

from llmedge.bench import bridge


def test_bridge_benchmark_prints_every_client_beside_the_direct_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge.run(samples=5, warmup=1)
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split("  ")[0] for row in rows] == [
        "redis-py, direct TCP",
        "httpx keep-alive POST → bridge",
        "upstash_redis sync → bridge",
        "upstash_redis asyncio → bridge",
    ]
    assert all(row.endswith("x") for row in rows)
