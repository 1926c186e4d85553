"""Every command's --help is clear: what it does, its options, the environment it reads."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli, run_subprocess

COMMANDS = {
    "ask": ["prompt", "--model", "--kind", "--url", "--key", "--json", "--no-cache", "LLMEDGE_URL"],
    "stats": ["--admin-key", "LLMEDGE_ADMIN_KEY", "--json", "--url"],
    "warm": ["FILE", "--concurrency", "--retries", "JSON", "--url", "--key"],
    "purge": ["--namespace", "--model", "--all", "--yes", "UPSTASH_REDIS_REST_URL"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_names_every_option(cli: Cli, command: str) -> None:
    ran = cli(command, "--help")
    assert ran.code == 0
    assert ran.out.startswith(f"usage: llmedge {command}")
    for word in COMMANDS[command]:
        assert word in ran.out, f"{word} missing from `llmedge {command} --help`"


def test_top_level_help_lists_the_commands() -> None:
    ran = run_subprocess("--help")
    assert ran.code == 0
    for command in COMMANDS:
        assert f"    {command} " in ran.out


def test_purge_needs_exactly_one_selection(cli: Cli) -> None:
    assert cli("purge", "--yes").code == 2
    assert cli("purge", "--all", "--model", "m", "--yes").code == 2
