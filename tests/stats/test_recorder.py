"""StatsRecorder against a real Redis behind the Upstash REST bridge: off the critical path, coalesced, exact."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest
from upstash_redis.asyncio import Redis

from llmedge.stats import StatsRecorder, effective_prices, stats_key
from llmedge.stats_report import snapshot
from tests.upstash_fixture import upstash_client

PRICES = effective_prices({"test-model": {"input": 0.15, "output": 0.6}})


def answer(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    return {"choices": [{"message": {"content": "x"}}], "usage": usage}


@pytest.fixture
def prefix() -> str:
    return f"test-stats-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pipelines(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per pipeline the recorder opens on `redis`."""
    opened: list[int] = []
    original = redis.pipeline

    def counting_pipeline() -> Any:
        opened.append(1)
        return original()

    monkeypatch.setattr(redis, "pipeline", counting_pipeline)
    return opened


async def test_record_returns_before_any_io_and_flush_sends_it(
    redis: Redis, prefix: str, pipelines: list[int]
) -> None:
    recorder = StatsRecorder(redis, PRICES, prefix=prefix)
    recorder.record("miss", model="test-model", latency_ms=3)
    # record() is synchronous and only schedules the send: the response is never held up by Redis.
    assert pipelines == []
    await recorder.flush()
    assert pipelines == [1]
    stored = await redis.hgetall(stats_key(prefix))
    assert stored["count:miss:test-model"] == "1"
    assert stored["latency:miss:3"] == "1"
    assert "since" in stored


async def test_events_recorded_together_share_one_pipeline(
    redis: Redis, prefix: str, pipelines: list[int]
) -> None:
    recorder = StatsRecorder(redis, PRICES, prefix=prefix)
    for _ in range(50):
        recorder.record("exact_hit", model="test-model", result=answer(10, 20), latency_ms=1.2)
    await recorder.flush()
    assert len(pipelines) == 1
    stored = await redis.hgetall(stats_key(prefix))
    assert stored["count:exact_hit:test-model"] == "50"
    assert stored["tokens_in:exact_hit:test-model"] == "500"
    assert stored["tokens_out:exact_hit:test-model"] == "1000"
    assert stored["latency:exact_hit:1.5"] == "50"


async def test_a_workload_of_40_misses_and_60_repeats_reports_0_60_and_exact_savings(
    redis: Redis, prefix: str
) -> None:
    recorder = StatsRecorder(redis, PRICES, prefix=prefix)
    usages = [(11 + i, 7 + 2 * i) for i in range(40)]
    for prompt_tokens, completion_tokens in usages:
        recorder.record("miss", model="test-model", latency_ms=4)
        recorder.record("done", model="test-model", result=answer(prompt_tokens, completion_tokens))
    await recorder.flush()
    repeats = [usages[i % 40] for i in range(60)]
    for prompt_tokens, completion_tokens in repeats:
        recorder.record("exact_hit", model="test-model", result=answer(prompt_tokens, completion_tokens))
    await recorder.flush()

    report = await snapshot(redis, PRICES, prefix=prefix)
    model = report["models"]["test-model"]
    assert model["hit_rate"] == {"exact": 0.6, "semantic": 0.0, "total": 0.6}
    saved_in = sum(p for p, _ in repeats)
    saved_out = sum(c for _, c in repeats)
    assert model["tokens"]["saved"] == {"input": saved_in, "output": saved_out, "total": saved_in + saved_out}
    expected_saved = (Decimal(saved_in) * Decimal("0.15") + Decimal(saved_out) * Decimal("0.6")) / 10**6
    assert model["dollars"]["saved"] == float(expected_saved)
    billed_in, billed_out = sum(p for p, _ in usages), sum(c for _, c in usages)
    expected_billed = (Decimal(billed_in) * Decimal("0.15") + Decimal(billed_out) * Decimal("0.6")) / 10**6
    assert model["dollars"]["billed"] == float(expected_billed)
    assert report["dollars"] == {"saved": float(expected_saved), "billed": float(expected_billed)}
    assert report["requests"]["total"] == 100
    assert report["jobs"] == {"done": 40, "failed": 0}


async def test_unpriced_models_are_counted_together_and_dated_snapshots_as_their_base(
    redis: Redis, prefix: str
) -> None:
    recorder = StatsRecorder(redis, PRICES, prefix=prefix)
    recorder.record("miss", model="my-local-llama")
    recorder.record("miss", model="another-one")
    recorder.record("miss", model="gpt-4o-mini-2024-07-18")
    await recorder.flush()
    report = await snapshot(redis, PRICES, prefix=prefix)
    assert report["models"]["other"]["requests"]["miss"] == 2
    assert report["models"]["other"]["price"] is None
    assert "dollars" not in report["models"]["other"]
    assert report["models"]["gpt-4o-mini"]["requests"]["miss"] == 1


async def test_redis_down_never_raises_into_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    async with upstash_client("http://127.0.0.1:9") as unreachable:  # port 9: discard, nothing listens
        recorder = StatsRecorder(unreachable, PRICES)
        recorder.record("exact_hit", model="test-model", result=answer(1, 1))
        with caplog.at_level(logging.WARNING, logger="llmedge.stats"):
            await recorder.flush()
    assert "could not send" in caplog.text


def test_record_without_an_event_loop_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    recorder = StatsRecorder(upstash_client("http://127.0.0.1:9"), PRICES)
    with caplog.at_level(logging.ERROR, logger="llmedge.stats"):
        recorder.record("miss", model="test-model")
    assert "could not record" in caplog.text
