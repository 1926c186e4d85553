"""`llmedge warm FILE`: fills the cache with bounded concurrency, checks the file first, reports a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.cli.conftest import Cli, assert_one_line_error, nothing_listening
from tests.e2e.flow import chat, unique
from tests.stack_fixture import TINY_TIER_KEYS
from tests.waiting import wait_for_room_in_window


def write_jsonl(path: Path, bodies: list[Any], blank_lines: bool = False) -> Path:
    lines = [json.dumps(body) for body in bodies]
    path.write_text(("\n\n" if blank_lines else "\n").join(lines) + "\n")
    return path


def simulator_calls(base_url: str, contains: str) -> int:
    return int(httpx.get(f"{base_url}/openai/_sim/calls", params={"contains": contains}).json()["count"])


def test_warm_fills_the_cache_then_finds_it_warm(stack, cli: Cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = unique("warm")
    bodies = [chat(f"{marker} question {i}") for i in range(5)]
    path = write_jsonl(tmp_path / "warm.jsonl", bodies, blank_lines=True)

    first = cli("warm", str(path), "--url", stack.base_url, "--concurrency", "2")
    assert first.code == 0, first.err
    summary = first.err.strip().splitlines()[-1]
    assert summary.startswith("warmed 5 requests in ")
    assert summary.endswith(": 5 newly cached, 0 already cached, 0 failed")
    assert "[" + "#" * 24 + "] 5/5" in first.err  # the progress bar reached the end
    assert simulator_calls(stack.base_url, marker) == 5

    again = cli("warm", str(path), "--url", stack.base_url)
    assert again.err.strip().endswith(": 0 newly cached, 5 already cached, 0 failed")
    assert simulator_calls(stack.base_url, marker) == 5


def test_a_bad_line_stops_everything_before_anything_is_sent(stack, cli: Cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = unique("never sent")
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(chat(marker)) + '\n{"model": "m", "kind": "video", "prompt": "x"}\n')
    ran = cli("warm", str(path), "--url", stack.base_url)
    assert_one_line_error(ran, "warm", f"{path}:2: kind:")
    path.write_text(json.dumps(chat(marker)) + "\nnot json\n")
    assert_one_line_error(cli("warm", str(path), "--url", stack.base_url), "warm", f"{path}:2: not JSON")
    assert simulator_calls(stack.base_url, marker) == 0


def test_rate_limited_lines_are_counted_as_failed_when_retries_run_out(
    stack, cli: Cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    marker = unique("tiny warm")
    path = write_jsonl(tmp_path / "tiny.jsonl", [chat(f"{marker} {i}") for i in range(3)])
    wait_for_room_in_window()
    ran = cli(
        "warm", str(path), "--url", stack.base_url, "--key", TINY_TIER_KEYS["warm"], "--retries", "0",
        "--concurrency", "1",
    )  # fmt: skip
    assert ran.code == 1
    lines = ran.err.strip().splitlines()
    assert lines[-2].endswith(": 2 newly cached, 0 already cached, 1 failed")
    assert lines[-1].startswith("  line 3: HTTP 429 rate_limited: request limit reached")


def test_missing_file_and_unreachable_gateway_are_one_line(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("warm", str(tmp_path / "nope.jsonl")), "warm", "cannot read")
    path = write_jsonl(tmp_path / "one.jsonl", [chat("hello")])
    ran = cli("warm", str(path), "--url", nothing_listening())
    assert_one_line_error(ran, "warm", "cannot reach the gateway")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    assert_one_line_error(cli("warm", str(tmp_path / "empty.jsonl")), "warm", "has no requests")
    assert_one_line_error(cli("warm", str(path), "--concurrency", "0"), "warm", "--concurrency")
