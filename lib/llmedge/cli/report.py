"""`llmedge report ENTRY_ID`: tell the gateway a semantic hit was wrong, so it evicts that entry."""

from __future__ import annotations

import argparse
import asyncio


def register(subparsers: argparse._SubParsersAction) -> None:
    from llmedge.cli.client import add_gateway_arguments

    parser = subparsers.add_parser(
        "report",
        help="report a wrong semantic hit (evicts that cache entry)",
        description="POST /api/report with the `cache.entry_id` of a SEMANTIC-HIT answer that did not "
        "answer the question; the gateway evicts that entry so it is never served again.",
    )
    parser.add_argument("entry_id", help="the cache.entry_id from the SEMANTIC-HIT response")
    parser.add_argument("--reason", help="why the answer was wrong (kept in the gateway's log)")
    add_gateway_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    evicted = asyncio.run(_report(args.url, args.key, args.entry_id, args.reason))
    print("evicted" if evicted else "nothing to evict: the entry is unknown or already gone")
    return 0


async def _report(url: str, key: str | None, entry_id: str, reason: str | None) -> bool:
    from llmedge.cli.client import GatewayClient, error_from

    body = {"entry_id": entry_id, **({"reason": reason} if reason else {})}
    async with GatewayClient(url, key=key) as client:
        response = await client.request("POST", "/api/report", json=body)
    if response.status_code != 200:
        raise error_from(response)
    return bool(response.json()["evicted"])
