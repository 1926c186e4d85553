"""Running `llmedge dev` (or `llmedge serve`) as a child process: for benchmarks and tests.

A child process has its own event loop and GIL, as a real function instance would, so figures measured
from the parent are not bent by the client sharing the server's interpreter.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Only what a Python process needs: a developer's UPSTASH_/QSTASH_/OPENAI_/REDIS_URL must not leak in.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")


class StackProcessError(RuntimeError):
    """The child did not start; the message carries its output."""


@dataclass
class StackProcess:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the child and wait for it (killing it after `timeout`); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The basics of this environment, no credentials, plus `extra`."""
    inherited = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return {**inherited, "PYTHONUNBUFFERED": "1", **(extra or {})}


def exported_variables(output: str) -> dict[str, str]:
    """The `export NAME=value` lines `llmedge dev` printed, as a dict."""
    exported = {}
    for line in output.splitlines():
        if line.startswith("export "):
            name, _, value = shlex.split(line)[1].partition("=")
            exported[name] = value
    return exported


def start(
    command: Sequence[str],
    *,
    port: int,
    log_path: Path,
    cwd: Path,
    env: Mapping[str, str],
    ready_path: str,
    timeout: float = 60.0,
) -> StackProcess:
    """Start `python -m llmedge <command>` and wait until `ready_path` answers 200."""
    argv = [sys.executable, "-m", "llmedge", *command]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    running = StackProcess(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout
    while not _answers(running.base_url + ready_path):
        if process.poll() is not None or time.monotonic() > deadline:
            running.stop()
            raise StackProcessError(f"`{shlex.join(argv)}` did not start within {timeout}s:\n{running.log()}")
        time.sleep(0.1)
    running.env = exported_variables(running.log())
    return running


def start_dev_stack(
    data_dir: Path, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None, timeout: float = 60.0
) -> StackProcess:
    """`llmedge dev` on a free port, started in `data_dir` as a user would start it in a project folder:
    with the default data folder, so its state is in `data_dir/.llmedge`."""
    port = free_port()
    command = ["dev", "--port", str(port), *args]
    return start(
        command,
        port=port,
        log_path=data_dir / "llmedge-dev.log",
        cwd=data_dir,
        env=child_environment(env),
        # The stack answers only once its lifespan has started every part, so any answer means ready.
        ready_path="/openai/_sim/stats",
        timeout=timeout,
    )


@contextmanager
def dev_stack(data_dir: Path, **kwargs: object) -> Iterator[StackProcess]:
    running = start_dev_stack(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        running.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False
