"""RedisServer: the owned redis-server keeps data across restarts and never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from llmedge.devstack.redis_server import RedisServer, RedisServerError
from tests.waiting import wait_for_sync


def server_pid(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("server")["process_id"])


def alive(pid: int) -> bool:
    """Running, and not a zombie (an orphan may wait a while for a container's PID 1 to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_data_survives_a_restart_and_stop_leaves_no_process(tmp_path: Path) -> None:
    with RedisServer(data_dir=tmp_path) as server:
        pid = server_pid(server.url)
        with redis.Redis.from_url(server.url) as client:
            client.set("kept", "across restarts")
    assert not alive(pid)
    assert (tmp_path / "redis" / "appendonly.aof").exists()
    with RedisServer(data_dir=tmp_path) as server, redis.Redis.from_url(server.url) as client:
        assert client.get("kept") == b"across restarts"


def test_a_relative_data_folder_is_taken_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `llmedge dev` defaults to `.llmedge`: the folder is the caller's, not one inside itself.
    monkeypatch.chdir(tmp_path)
    with RedisServer(data_dir=".llmedge") as server, redis.Redis.from_url(server.url) as client:
        client.set("where", "here")
    assert (tmp_path / ".llmedge" / "redis" / "appendonly.aof").exists()


def test_one_data_folder_serves_one_server_at_a_time(tmp_path: Path) -> None:
    with (
        RedisServer(data_dir=tmp_path),
        pytest.raises(RedisServerError, match="is in use by another running stack"),
    ):
        RedisServer(data_dir=tmp_path).start()


def test_a_url_is_wrapped_without_starting_anything(redis_url: str) -> None:
    wrapped = RedisServer(data_dir="/nonexistent", url=redis_url)
    with wrapped:
        assert (wrapped.url, wrapped.owned) == (redis_url, False)
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping() is True  # stop() left the server it did not start alone


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:6379", "REDIS_URL is not usable: not a redis:// or rediss:// URL"),
        ("redis://127.0.0.1:1/0", "Redis at 127.0.0.1:1 not ready after 0.3s: Connection refused"),
    ],
)
def test_an_unusable_url_is_a_one_line_error(url: str, error: str) -> None:
    with pytest.raises(RedisServerError, match=error):
        RedisServer(url=url, startup_timeout=0.3).start()


def test_a_binary_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(RedisServerError, match=r"^cannot run redis-server at .*/missing: No such file"):
        RedisServer(binary=tmp_path / "missing").start()
    failing = tmp_path / "failing-redis"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    with pytest.raises(RedisServerError, match=r"^redis-server exited at startup"):
        RedisServer(data_dir=tmp_path, binary=failing).start()
    RedisServer(data_dir=tmp_path).start().stop()  # the failed attempts released the data folder


PARENT = """
import sys, time
from llmedge.devstack.redis_server import RedisServer
server = RedisServer(data_dir=sys.argv[1]).start()
print(server.url, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("parent_signal", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_redis_dies_with_its_parent(tmp_path: Path, parent_signal: signal.Signals) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    with parent.stdout:
        pid = server_pid(parent.stdout.readline().strip())
    os.kill(parent.pid, parent_signal)
    parent.wait(timeout=10)
    wait_for_sync(lambda: alive(pid), until=lambda running: not running)
