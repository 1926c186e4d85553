"""Flow control: end to end for parallelism, and the gate itself on a fake clock for rate and period."""

from __future__ import annotations

import asyncio

from llmedge.devstack.broker.flow_control import FlowGates
from llmedge.devstack.broker.records import FlowControlConfig
from tests.devstack_qstash.conftest import BrokerFactory
from tests.devstack_qstash.harness import Destination, serve


async def test_parallelism_two_never_has_more_than_two_deliveries_in_flight(
    broker_factory: BrokerFactory,
) -> None:
    pair_formed = asyncio.Event()

    async def hold(path: str, in_flight: int) -> None:
        # Keep each request open until a second one is in flight too (or a deadline passes), then a
        # little longer: a third concurrent delivery, if the broker allowed one, would show up meanwhile.
        if in_flight >= 2:
            pair_formed.set()
        try:
            async with asyncio.timeout(2):
                await pair_formed.wait()
        except TimeoutError:
            pass
        await asyncio.sleep(0.02)

    app = Destination(hold=hold)
    async with serve(app) as url, broker_factory() as running:
        for n in range(6):
            await running.client.message.publish(
                url=f"{url}/api/limited", body=str(n), flow_control={"key": "model-x", "parallelism": 2}
            )
        got = await app.arrivals("/api/limited", 6)

    assert sorted(request.body for request in got) == [str(n).encode() for n in range(6)]
    assert app.max_in_flight == 2


async def test_without_flow_control_the_same_messages_run_concurrently(broker_factory: BrokerFactory) -> None:
    everyone_in = asyncio.Event()

    async def hold(path: str, in_flight: int) -> None:
        if in_flight >= 6:
            everyone_in.set()
        async with asyncio.timeout(5):
            await everyone_in.wait()

    app = Destination(hold=hold)
    async with serve(app) as url, broker_factory() as running:
        for n in range(6):
            await running.client.message.publish(url=f"{url}/api/free", body=str(n))
        await app.arrivals("/api/free", 6)
    assert app.max_in_flight == 6


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_admits_that_many_per_period_then_waits_for_the_next_window() -> None:
    clock = FakeClock()
    gates = FlowGates(time_scale=1.0, clock=clock)
    config = FlowControlConfig(key="k", rate=2, period_s=10)
    for n in range(5):
        gates.offer(config, f"m{n}")

    assert [message for _, message in gates.admit()] == ["m0", "m1"]
    assert gates.admit() == []
    assert gates.seconds_until_rate_allows() == 10.0
    clock.now += 9.5
    assert gates.admit() == []
    assert gates.seconds_until_rate_allows() == 0.5
    clock.now += 0.5
    assert [message for _, message in gates.admit()] == ["m2", "m3"]
    assert gates.view("k") == {
        "flowControlKey": "k",
        "waitListSize": 1,
        "parallelismCount": 4,  # none released yet
        "rateMax": 2,
        "rateCount": 2,
        "ratePeriod": 10,
    }


def test_rate_window_survives_the_key_going_idle_and_the_period_is_time_scaled() -> None:
    clock = FakeClock()
    gates = FlowGates(time_scale=0.01, clock=clock)
    config = FlowControlConfig(key="k", rate=1, period_s=100)  # 100 s scaled: 1 s
    gates.offer(config, "first")
    ((key, _),) = gates.admit()
    gates.release(key)
    gates.offer(config, "second")
    assert gates.admit() == []  # the finished first one still counts in this window
    clock.now += 1.0
    assert gates.admit() == [("k", "second")]


def test_parallelism_frees_a_slot_on_release_in_order() -> None:
    gates = FlowGates(time_scale=1.0, clock=FakeClock())
    config = FlowControlConfig(key="k", parallelism=1)
    gates.offer(config, "a")
    gates.offer(config, "b")
    assert gates.admit() == [("k", "a")]
    assert gates.admit() == []
    assert gates.seconds_until_rate_allows() is None  # waiting on parallelism, not on time
    gates.release("k")
    assert gates.admit() == [("k", "b")]
