from __future__ import annotations

from llmedge.limits.blockcache import BlockCache


def test_blocks_until_the_time_then_forgets() -> None:
    cache = BlockCache()
    cache.block("ip:1.2.3.4", until_ms=2_000, now_ms=1_000)
    assert cache.blocked_until("ip:1.2.3.4", 1_999) == 2_000
    assert cache.blocked_until("ip:5.6.7.8", 1_500) is None
    assert cache.blocked_until("ip:1.2.3.4", 2_000) is None
    assert len(cache) == 0


def test_a_time_already_past_is_not_stored() -> None:
    cache = BlockCache()
    cache.block("a", until_ms=1_000, now_ms=1_000)
    assert len(cache) == 0


def test_bounded_evicting_expired_then_soonest() -> None:
    cache = BlockCache(max_entries=10)
    for index in range(10):
        cache.block(f"c{index}", until_ms=10_000 + index, now_ms=0)
    cache.block("late", until_ms=99_000, now_ms=0)
    assert len(cache) <= 10
    assert cache.blocked_until("late", 1) == 99_000
    assert cache.blocked_until("c9", 1) == 10_009  # the entries blocked longest are kept
    assert cache.blocked_until("c0", 1) is None  # the soonest to expire went first
    for index in range(3):
        cache.block(f"short{index}", until_ms=5, now_ms=0)
    for index in range(20):
        cache.block(f"new{index}", until_ms=50_000, now_ms=10)  # the expired "short" ones go first
    assert len(cache) <= 10
    assert cache.blocked_until("late", 11) == 99_000
