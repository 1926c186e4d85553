"""Issue 4: a token budget cannot be overspent by concurrent requests, and after the callbacks it holds
the real usage (the simulator's `usage.total_tokens`), so the refund is spendable at once."""

from __future__ import annotations

import json
from collections import Counter

import httpx
from upstash_redis.asyncio import Redis

from llmedge.limits import estimate_tokens, read_stats
from llmedge.limits.admission import LimitKeys
from tests.e2e_limits.calls import ADMITTED, burst, chat, describe, final_jobs, marker
from tests.e2e_limits.tiers import TOKEN_BUDGET, TOKENS
from tests.waiting import wait_for

MAX_TOKENS = 200
# No refund may land while a burst is still being admitted, or one more request would fit: each call
# takes longer than a burst takes to admit. The model has no flow control, so the calls run side by side.
LATENCY_S = 2
UNGATED_MODEL = "gpt-4o"
FIRST_BURST = 20
SECOND_BURST = 10
POLICY = f'{TOKEN_BUDGET};w=86400;comment="tokens"'


def _bodies(tag: str, count: int) -> list[dict[str, object]]:
    # Equal lengths, so every request is estimated at the same cost.
    return [
        chat(
            f"{tag} budget {i:03d} [sim:latency={LATENCY_S}]",
            model=UNGATED_MODEL,
            params={"max_tokens": MAX_TOKENS},
        )
        for i in range(count)
    ]


def _cost(body: dict[str, object]) -> int:
    """The up-front charge: prompt estimate plus max_tokens (what /api/generate passes to the limiter)."""
    return estimate_tokens(json.dumps(body["messages"], ensure_ascii=False), MAX_TOKENS)


async def _bucket_tokens(upstash: Redis) -> int:
    state = await upstash.hgetall(LimitKeys("llmedge").tokens(TOKENS.caller_id))
    return int(state["tokens"]) if state else TOKEN_BUDGET  # a missing bucket is a full one


async def _settled(upstash: Redis) -> dict[str, int]:
    stats = await read_stats(upstash)
    return {
        kind: stats.get(kind, {}).get(TOKENS.tier, {}).get("all", 0) for kind in ("settled", "tokens_used")
    }


async def _spend(
    clients: list[httpx.AsyncClient], upstash: Redis, count: int, available: int, already_settled: int
) -> int:
    """Send `count` requests at once with `available` tokens left; check that exactly those that fit are
    admitted, run them to the end, wait for their settlements; the tokens they really used."""
    tag = marker("tokens")
    bodies = _bodies(tag, count)
    cost = _cost(bodies[0])
    fits = min(count, available // cost)
    results = [response for _, response in await burst(clients, TOKENS, bodies)]

    admitted = [r for r in results if r.status_code in ADMITTED]
    refused = [r for r in results if r.status_code == 429]
    assert (len(admitted), len(refused)) == (fits, count - fits), Counter(r.status_code for r in results)
    # Charged up front, one after another: the remaining budget after each admission, whatever the order.
    remaining = sorted((int(r.headers["ratelimit-remaining"]) for r in admitted), reverse=True)
    assert remaining == [available - cost * (k + 1) for k in range(fits)], (cost, remaining)
    for response in refused:
        assert response.headers["ratelimit-limit"] == str(TOKEN_BUDGET)
        assert response.headers["ratelimit-remaining"] == "0"
        assert response.headers["ratelimit-policy"] == POLICY
        assert int(response.headers["retry-after"]) > 0
        error = response.json()["error"]
        assert (error["code"], error["limit"]) == ("rate_limited", "tokens"), describe([response])
        assert "token budget exhausted" in error["message"]

    jobs = await final_jobs(clients[0], TOKENS, [r.json()["job_id"] for r in admitted])
    assert [job["status"] for job in jobs] == ["done"] * fits, jobs
    used = sum(int(job["result"]["usage"]["total_tokens"]) for job in jobs)
    assert used < fits * cost  # the simulator answers shortly: there is something to give back

    async def settled() -> dict[str, int]:
        return await _settled(upstash)

    await wait_for(settled, until=lambda s: s["settled"] == already_settled + fits, timeout=15)
    return used


async def test_concurrent_requests_cannot_overspend_and_callbacks_refund_to_real_usage(
    clients: list[httpx.AsyncClient], upstash: Redis
) -> None:
    cost = _cost(_bodies(marker("tokens"), 1)[0])
    assert TOKEN_BUDGET // cost >= 2, "the budget must admit several requests for the test to mean anything"

    used = await _spend(clients, upstash, FIRST_BURST, TOKEN_BUDGET, already_settled=0)
    assert await _bucket_tokens(upstash) == TOKEN_BUDGET - used
    first_round = TOKEN_BUDGET // cost

    # The refunds are real: the next burst gets exactly what the real usage left, and settles likewise.
    left = TOKEN_BUDGET - used
    assert left // cost > 0
    used_again = await _spend(clients, upstash, SECOND_BURST, left, already_settled=first_round)
    assert await _bucket_tokens(upstash) == left - used_again
    assert (await _settled(upstash))["tokens_used"] == used + used_again
