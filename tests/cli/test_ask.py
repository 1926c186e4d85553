"""`llmedge ask` against the running stack: answer, progress, cache, --json, --no-cache and one-line errors."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from tests.cli.conftest import Cli, assert_one_line_error, nothing_listening, run_subprocess
from tests.e2e.flow import unique
from tests.stack_fixture import TINY_TIER_KEYS
from tests.waiting import wait_for_room_in_window


def simulator_calls(base_url: str, contains: str) -> int:
    response = httpx.get(f"{base_url}/openai/_sim/calls", params={"contains": contains})
    return int(response.json()["count"])


def test_ask_prints_the_answer_with_progress_then_answers_from_the_cache(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    prompt = unique("What is the capital of Italy?")
    first = cli("ask", prompt, "--url", stack.base_url)
    assert first.code == 0, first.err
    assert first.out.strip().startswith(f"Simulated answer to: {prompt}")
    progress = first.err.splitlines()
    assert progress[0].startswith("sending · ")
    assert any(line.startswith("pending · ") for line in progress)  # one line per change off a terminal
    assert progress[-1].startswith("done in ") and "from the model" in progress[-1]
    assert "tokens in" in progress[-1]

    again = cli("ask", prompt, "--url", stack.base_url)
    assert again.code == 0
    assert again.out == first.out
    assert "from the cache" in again.err.splitlines()[-1]
    assert simulator_calls(stack.base_url, prompt) == 1


def test_json_output_and_no_cache(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    prompt = unique("Name a colour")
    assert cli("ask", prompt, "--url", stack.base_url).code == 0
    ran = cli("ask", prompt, "--url", stack.base_url, "--json", "--no-cache")
    assert ran.code == 0
    body = json.loads(ran.out)
    assert body["status"] == "done"
    assert prompt in body["result"]["choices"][0]["message"]["content"]
    assert "cache" not in body  # not a hit: --no-cache skipped the lookup
    assert simulator_calls(stack.base_url, prompt) == 2


def test_prompt_from_stdin(stack, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    prompt = unique("Read me from stdin")
    monkeypatch.setattr("sys.stdin", io.StringIO(prompt))
    ran = cli("ask", "-", "--url", stack.base_url)
    assert ran.code == 0
    assert prompt in ran.out


def test_a_failed_model_call_is_one_line(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    ran = cli("ask", unique("bad upstream [sim:status=400]"), "--url", stack.base_url)
    assert_one_line_error(ran, "ask", "the model call failed", "the model API answered 400")


def test_a_failed_model_call_with_json_prints_it_and_exits_1(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    ran = cli("ask", unique("bad upstream [sim:status=400]"), "--url", stack.base_url, "--json")
    assert ran.code == 1
    assert json.loads(ran.out)["error"]["upstream_status"] == 400


def test_stack_not_running_is_one_line_not_a_traceback() -> None:
    ran = run_subprocess("ask", "hello", "--url", nothing_listening())
    assert_one_line_error(ran, "ask", "cannot reach the gateway", "is `llmedge dev` running?")


def test_bad_key_is_one_line(stack) -> None:  # type: ignore[no-untyped-def]
    ran = run_subprocess("ask", "hello", "--url", stack.base_url, "--key", "not-a-key")
    assert_one_line_error(ran, "ask", "HTTP 401", "unknown or revoked API key", "LLMEDGE_API_KEY")


def test_rate_limited_is_one_line_with_the_wait(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    key = TINY_TIER_KEYS["ask"]
    wait_for_room_in_window()
    for number in (1, 2):
        assert cli("ask", unique(f"allowed {number}"), "--url", stack.base_url, "--key", key).code == 0
    ran = cli("ask", unique("refused"), "--url", stack.base_url, "--key", key)
    assert_one_line_error(ran, "ask", "HTTP 429 rate_limited", "request limit reached", "retry in ")


def test_empty_prompt_is_refused_before_sending(cli: Cli) -> None:
    ran = cli("ask", "   ", "--url", nothing_listening())
    assert_one_line_error(ran, "ask", "the prompt is empty")
