"""`llmedge stats`: the report as tables (or JSON), and one-line errors for a missing or wrong admin key."""

from __future__ import annotations

import json

from llmedge.cli.stats import render
from llmedge.stats_report import summarize
from tests.cli.conftest import Cli, assert_one_line_error, nothing_listening
from tests.stack_fixture import TEST_ADMIN_KEY

RAW = {
    "since": "1700000000",
    "count:exact_hit:gpt-4o-mini": "60",
    "count:miss:gpt-4o-mini": "40",
    "count:done:gpt-4o-mini": "40",
    "tokens_in:exact_hit:gpt-4o-mini": "1200",
    "tokens_out:exact_hit:gpt-4o-mini": "3000",
    "tokens_in:done:gpt-4o-mini": "800",
    "tokens_out:done:gpt-4o-mini": "2000",
    "count:miss:other": "5",
    "latency:exact_hit:1.5": "60",
    "latency:miss:20": "40",
}
LIMITS = {"denied": {"free": {"requests": 3, "all": 3}}}
PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}


def test_render_shows_rates_money_refusals_and_latency() -> None:
    text = render(summarize(RAW, LIMITS, PRICES))
    lines = text.splitlines()
    assert lines[0] == "llmedge stats since 2023-11-14 22:13 UTC"
    header, total, model, other = lines[2:6]
    assert header.split() == ["requests", "exact", "semantic", "hit", "rate", "tokens", "saved", "$", "saved",
                              "tokens", "billed", "$", "billed"]  # fmt: skip
    # 60 hits of 105 lookups overall; $ saved = (1200 × 0.15 + 3000 × 0.6) / 1e6.
    assert total.split() == ["all", "105", "60", "0", "57.1%", "4200", "$0.001980", "2800", "$0.001320"]
    assert model.split() == [
        "gpt-4o-mini",
        "100",
        "60",
        "0",
        "60.0%",
        "4200",
        "$0.001980",
        "2800",
        "$0.001320",
    ]
    assert other.split() == ["other", "5", "0", "0", "0.0%", "0", "-", "0", "-"]
    assert "model calls: 40 done, 0 failed" in text
    assert "refused: 3  (by limit: requests 3; by tier: free 3)" in text
    assert [line.split() for line in lines if line.startswith(("exact_hit", "miss "))] == [
        ["exact_hit", "60", "1.5", "1.5", "1.5"],
        ["miss", "40", "20", "20", "20"],
    ]


def test_render_of_an_empty_report() -> None:
    text = render(summarize({}, {}, {}))
    assert text.splitlines()[0] == "llmedge stats since nothing yet"
    assert "refused: 0" in text


def test_stats_from_the_stack(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    table = cli("stats", "--url", stack.base_url, "--admin-key", TEST_ADMIN_KEY)
    assert table.code == 0, table.err
    assert "hit rate" in table.out and "refused:" in table.out
    as_json = cli("stats", "--url", stack.base_url, "--admin-key", TEST_ADMIN_KEY, "--json")
    assert {"hit_rate", "dollars", "models", "latency_ms"} <= set(json.loads(as_json.out))


def test_wrong_admin_key_is_one_line(stack, cli: Cli) -> None:  # type: ignore[no-untyped-def]
    ran = cli("stats", "--url", stack.base_url, "--admin-key", "wrong-admin-key-000000")
    assert_one_line_error(ran, "stats", "the admin key was refused")


def test_missing_admin_key_and_unreachable_gateway_are_one_line(cli: Cli) -> None:
    assert_one_line_error(cli("stats", "--url", nothing_listening()), "stats", "--admin-key")
    ran = cli("stats", "--url", nothing_listening(), "--admin-key", "k" * 20)
    assert_one_line_error(ran, "stats", "cannot reach the gateway")
