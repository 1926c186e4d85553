"""Test stacks of real processes: one `llmedge dev` stack and N `llmedge serve` instances sharing it.

The serve instances play the function instances of one deployment: same variables, one Redis, one QStash.
QStash calls back the dev stack's own gateway (`LLMEDGE_PUBLIC_URL` names it), which therefore gets the
same limits configuration.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from llmedge.devstack.process import StackProcess, child_environment, free_port, start, start_dev_stack
from tests.e2e_limits.tiers import LIMITS_ENV


@dataclass
class Cluster:
    stack: StackProcess  # `llmedge dev`: Redis, bridge, broker, simulator and the callback's gateway
    instances: list[StackProcess]  # `llmedge serve` processes

    @property
    def env(self) -> dict[str, str]:
        """The variables `llmedge dev` printed (UPSTASH_*, QSTASH_*, OPENAI_*, LLMEDGE_PUBLIC_URL)."""
        return self.stack.env


def start_serve(stack: StackProcess, data_dir: Path, name: str, extra: Mapping[str, str]) -> StackProcess:
    """`llmedge serve` on a free port against `stack`, with the limits variables and `extra`."""
    port = free_port()
    return start(
        ["serve", "--port", str(port)],
        port=port,
        log_path=data_dir / f"serve-{name}.log",
        cwd=data_dir,
        env=child_environment({**stack.env, **LIMITS_ENV, **extra}),
        ready_path="/",  # the static page: served only once the app (settings, limits) is built
    )


@contextmanager
def cluster(
    data_dir: Path,
    *,
    instances: Mapping[str, Mapping[str, str]],
    time_scale: float = 0.001,
    stack_env: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """A dev stack plus one serve instance per entry of `instances` (name → extra variables), started
    in parallel; everything is stopped on exit, also when a start fails half-way."""
    with ExitStack() as running:
        stack = start_dev_stack(
            data_dir, args=["--time-scale", str(time_scale)], env={**LIMITS_ENV, **(stack_env or {})}
        )
        running.callback(stack.stop)
        with ThreadPoolExecutor(max_workers=max(1, len(instances))) as pool:
            futures = [
                pool.submit(start_serve, stack, data_dir, name, extra) for name, extra in instances.items()
            ]
        # The pool has waited for every start: stop those that came up even if another one failed.
        started = [future.result() for future in futures if future.exception() is None]
        for instance in started:
            running.callback(instance.stop)
        failures = [error for future in futures if (error := future.exception()) is not None]
        if failures:
            raise failures[0]
        yield Cluster(stack, started)
