"""`llmedge stats`: what the cache saved and the model cost, from a running gateway's GET /api/stats."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import UTC, datetime
from typing import Any

from llmedge.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    from llmedge.cli.client import add_gateway_arguments

    parser = subparsers.add_parser(
        "stats",
        help="hit rates, tokens and dollars saved vs billed, refusals, latency percentiles",
        description="Read GET /api/stats from a running gateway and print it as tables.",
    )
    add_gateway_arguments(parser, key=False)
    parser.add_argument(
        "--admin-key",
        default=os.environ.get("LLMEDGE_ADMIN_KEY"),
        help="the gateway's LLMEDGE_ADMIN_KEY (default: $LLMEDGE_ADMIN_KEY)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.admin_key:
        raise CommandError("an admin key is needed: pass --admin-key or set LLMEDGE_ADMIN_KEY")
    report = asyncio.run(_fetch(args.url, args.admin_key))
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


async def _fetch(url: str, admin_key: str) -> dict[str, Any]:
    from llmedge.cli.client import GatewayClient, error_from

    async with GatewayClient(url, key=admin_key) as client:
        response = await client.request("GET", "/api/stats")
    if response.status_code == 401:
        raise CommandError("the admin key was refused (--admin-key / LLMEDGE_ADMIN_KEY)")
    if response.status_code == 404:
        raise CommandError(f"{url} has no stats endpoint enabled (set LLMEDGE_ADMIN_KEY on the gateway)")
    if response.status_code != 200:
        raise error_from(response)
    return dict(response.json())


def render(report: dict[str, Any]) -> str:
    since = report.get("since")
    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC") if since else "nothing yet"
    lines = [f"llmedge stats since {started}", ""]
    lines += _table(
        [
            "",
            "requests",
            "exact",
            "semantic",
            "hit rate",
            "tokens saved",
            "$ saved",
            "tokens billed",
            "$ billed",
        ],
        [_row("all", report, report["dollars"])]
        + [_row(name, section, section.get("dollars")) for name, section in report["models"].items()],
    )
    refused = report["refused"]
    by_limit = ", ".join(f"{name} {n}" for name, n in refused["by_limit"].items()) or "none"
    by_tier = ", ".join(f"{name} {n}" for name, n in refused["by_tier"].items()) or "none"
    jobs = report["jobs"]
    lines += [
        "",
        f"model calls: {jobs['done']} done, {jobs['failed']} failed",
        f"refused: {refused['total']}  (by limit: {by_limit}; by tier: {by_tier})",
        "",
    ]
    latency = report["latency_ms"]
    if latency:
        lines.append("latency, ms (upper bound of the bucket holding the percentile)")
        lines += _table(
            ["", "count", "p50", "p95", "p99"],
            [
                [outcome, str(row["count"]), *(_number(row[q]) for q in ("p50", "p95", "p99"))]
                for outcome, row in latency.items()
            ],
        )
    return "\n".join(lines).rstrip()


def _row(name: str, section: dict[str, Any], dollars: dict[str, float] | None) -> list[str]:
    requests, tokens = section["requests"], section["tokens"]
    rate = section["hit_rate"]["total"]
    return [
        name,
        str(requests["total"]),
        str(requests["exact_hit"]),
        str(requests["semantic_hit"]),
        "-" if rate is None else f"{rate:.1%}",
        str(tokens["saved"]["total"]),
        "-" if dollars is None else f"${dollars['saved']:.6f}",
        str(tokens["billed"]["total"]),
        "-" if dollars is None else f"${dollars['billed']:.6f}",
    ]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    # First column left-aligned (names), the numbers right-aligned so their digits line up.
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
