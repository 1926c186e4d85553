"""Job records on a real Redis behind the bridge: single flight, stale take-over, idempotent transitions."""

from __future__ import annotations

import uuid

from upstash_redis.asyncio import Redis

from llmedge.jobs import PUBLISH_GRACE_SECONDS, CacheFill, JobStore, new_job_id

NOW = 1_700_000_000_000


async def create(
    store: JobStore, lease: str, caller: str = "ip:1", now_ms: int = NOW, **kw: object
) -> tuple[str, bool]:
    return await store.create_or_join(
        job_id=new_job_id(),
        lease_key=lease,
        caller_id=caller,
        plan={"kind": "chat"},
        lease_ttl=60,
        job_ttl=600,
        now_ms=now_ms,
        **kw,  # type: ignore[arg-type]
    )


def lease_key() -> str:
    return f"test:lease:{uuid.uuid4().hex}"


async def test_identical_requests_join_and_every_caller_may_poll(redis: Redis) -> None:
    store = JobStore(redis)
    lease = lease_key()
    first, created = await create(store, lease, caller="ip:1")
    second, joined_created = await create(store, lease, caller="ip:2", now_ms=NOW + 1000)
    assert created and not joined_created and second == first
    job = await store.get(first)
    assert job is not None and job.callers == ["ip:1", "ip:2"]


async def test_an_unpublished_job_is_taken_over_after_the_grace_period(redis: Redis) -> None:
    store = JobStore(redis)
    lease = lease_key()
    lost, _ = await create(store, lease)
    later = NOW + (PUBLISH_GRACE_SECONDS + 1) * 1000
    taken, created = await create(store, lease, now_ms=later)
    assert created and taken != lost

    published, _ = await create(store, lease_key_published := lease_key())
    await store.mark_published(published, "msg_1")
    joined, created_again = await create(store, lease_key_published, now_ms=later)
    assert joined == published and not created_again


async def test_transitions_apply_once_and_final_states_stay_final(redis: Redis) -> None:
    store = JobStore(redis)
    job_id, _ = await create(store, lease := lease_key())
    cache_key = f"test:cache:{uuid.uuid4().hex}"
    fill = CacheFill(key=cache_key, value='{"answer":1}', ttl=60)

    assert (
        await store.transition(job_id, message_id="m1", status="retrying", attempts=2, now_ms=NOW)
        == "applied"
    )
    assert (
        await store.transition(job_id, message_id="m0", status="retrying", attempts=1, now_ms=NOW) == "stale"
    )
    done = await store.transition(
        job_id, message_id="m2", status="done", attempts=3, now_ms=NOW, result="{}", cache_fill=fill
    )
    assert done == "applied"
    assert (
        await store.transition(job_id, message_id="m2", status="done", attempts=3, now_ms=NOW) == "duplicate"
    )
    assert await store.transition(job_id, message_id="m3", status="failed", attempts=4, now_ms=NOW) == "final"
    job = await store.get(job_id)
    assert job is not None and job.status == "done" and job.attempts == 3
    assert await redis.get(cache_key) == '{"answer":1}'
    assert await redis.get(lease) is None  # the lease is released with the final state
    assert (
        await store.transition(new_job_id(), message_id="m", status="done", attempts=1, now_ms=NOW)
        == "missing"
    )
