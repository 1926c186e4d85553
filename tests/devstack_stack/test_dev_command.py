"""`llmedge dev`: the printed environment, one-line errors, and a clean stop on SIGTERM and Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from llmedge.cli import main
from llmedge.devstack.redis_server import RedisServer
from tests.stack_fixture import child_environment, exported_variables, free_port, start_stack, stop_stack
from tests.waiting import wait_for_sync

DEV_QSTASH_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="


def print_env(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    assert main(["dev", "--print-env", *args]) == 0
    output = capsys.readouterr().out
    assert all(line.startswith("export ") for line in output.splitlines())
    return exported_variables(output)


def test_print_env_defaults_point_everything_at_one_port(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    port = free_port()
    env = print_env(capsys, "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    assert env == {
        "UPSTASH_REDIS_REST_URL": f"{base}/redis",
        "UPSTASH_REDIS_REST_TOKEN": "llmedge-local-redis-token",
        "QSTASH_URL": f"{base}/qstash",
        "QSTASH_TOKEN": DEV_QSTASH_TOKEN,
        "QSTASH_CURRENT_SIGNING_KEY": "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        "QSTASH_NEXT_SIGNING_KEY": "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
        "OPENAI_BASE_URL": f"{base}/openai/v1",
        "OPENAI_API_KEY": "sk-llmedge-local",
        "LLMEDGE_PUBLIC_URL": base,
    }
    # It started nothing: no data folder, and the port is still free.
    assert not (tmp_path / ".llmedge").exists()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_print_env_keeps_credentials_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTASH_REDIS_REST_TOKEN", "redis token with 'quotes' and spaces")
    monkeypatch.setenv("QSTASH_TOKEN", "qstash-token")
    monkeypatch.setenv("QSTASH_CURRENT_SIGNING_KEY", "sig_current")
    monkeypatch.setenv("QSTASH_NEXT_SIGNING_KEY", "sig_next")
    env = print_env(capsys, "--host", "0.0.0.0", "--port", "4100")
    assert env["UPSTASH_REDIS_REST_TOKEN"] == "redis token with 'quotes' and spaces"
    assert (env["QSTASH_TOKEN"], env["QSTASH_CURRENT_SIGNING_KEY"]) == ("qstash-token", "sig_current")
    assert env["QSTASH_NEXT_SIGNING_KEY"] == "sig_next"
    # Bound to every interface, but the URLs name one that clients can reach.
    assert env["QSTASH_URL"] == "http://127.0.0.1:4100/qstash"


@pytest.mark.parametrize(
    ("variables", "base_url", "key"),
    [
        ({"OPENAI_API_KEY": "sk-real"}, "https://api.openai.com/v1", "sk-real"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, "http://127.0.0.1:11434/v1", "sk-llmedge-local"),
    ],
)
def test_a_model_api_in_the_environment_replaces_the_simulator(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    base_url: str,
    key: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    env = print_env(capsys)
    assert (env["OPENAI_BASE_URL"], env["OPENAI_API_KEY"]) == (base_url, key)


def test_bad_time_scale_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMEDGE_DEV_TIME_SCALE", "fast")
    assert main(["dev", "--print-env"]) == 1
    error = capsys.readouterr().err
    assert error.splitlines() == [
        "llmedge dev: the time scale must be a positive number (got 'fast'; LLMEDGE_DEV_TIME_SCALE)"
    ]


def test_port_in_use_is_a_one_line_error_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # A subprocess: were the check broken, an in-process call would serve forever.
        finished = subprocess.run(
            [sys.executable, "-m", "llmedge", "dev", "--port", str(port), "--data-dir", str(tmp_path)],
            env=child_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        f"llmedge dev: port {port} on 127.0.0.1 is already in use; pick another with --port"
    ]
    assert not (tmp_path / "redis").exists()


def test_the_fixture_fails_loudly_with_the_output_of_a_stack_that_did_not_start(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="did not start") as failure:
        start_stack(tmp_path, environ={"LLMEDGE_DEV_TIME_SCALE": "-1"})
    assert "llmedge dev: the time scale must be a positive number (got '-1'" in str(failure.value)


def redis_children(pid: int) -> list[int]:
    """Pids of the redis-server processes whose parent is `pid` (read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name == "redis-server" and int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left to collect


@pytest.mark.parametrize(("sig", "exit_code"), [(signal.SIGTERM, 128 + 15), (signal.SIGINT, 130)])
def test_signal_stops_everything_it_started(tmp_path: Path, sig: signal.Signals, exit_code: int) -> None:
    stack = start_stack(tmp_path)
    [redis_pid] = redis_children(stack.process.pid)
    assert running(redis_pid)
    assert stop_stack(stack, sig) == exit_code, stack.log()
    wait_for_sync(lambda: running(redis_pid), until=lambda alive: not alive, timeout=10)
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", int(stack.base_url.rsplit(":", 1)[1])))
    assert "Application shutdown complete" in stack.log()


def test_redis_url_and_dials_from_the_command_line(tmp_path: Path) -> None:
    with RedisServer(data_dir=tmp_path / "external") as external:
        stack = start_stack(
            tmp_path,
            args=["--upstream-latency", "0.5"],
            environ={"REDIS_URL": external.url, "LLMEDGE_DEV_TIME_SCALE": "0.25"},
        )
        try:
            assert redis_children(stack.process.pid) == []  # it uses the given Redis, starts none
            token = {"Authorization": f"Bearer {stack.env['UPSTASH_REDIS_REST_TOKEN']}"}
            written = httpx.post(
                stack.env["UPSTASH_REDIS_REST_URL"], json=["SET", "via-bridge", "1"], headers=token
            )
            assert written.json() == {"result": "OK"}
            with redis.Redis.from_url(external.url) as direct:
                assert direct.get("via-bridge") == b"1"
            assert httpx.get(f"{stack.base_url}/openai/_sim/config").json()["latency"] == 0.5
            assert "(time scale 0.25)" in stack.log()
        finally:
            assert stop_stack(stack) == 128 + 15, stack.log()
        with redis.Redis.from_url(external.url) as direct:  # stopping the stack left the given Redis alone
            assert direct.ping()
