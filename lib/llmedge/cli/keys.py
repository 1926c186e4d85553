"""`llmedge keys create|list|revoke`: API keys in Upstash Redis (UPSTASH_REDIS_REST_URL / _TOKEN).

The secret is printed once, at creation; Redis only ever holds its SHA-256. A revoked key stops working
at once on new instances and within `LLMEDGE_API_KEY_CACHE_TTL` seconds (default 30) on warm ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from llmedge.limits.apikeys import ApiKeyStore

T = TypeVar("T")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="create, list and revoke API keys (stored hashed in Upstash Redis)",
        description="Manage API keys in the Upstash Redis named by UPSTASH_REDIS_REST_URL/_TOKEN.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print its secret once")
    create.add_argument(
        "--tenant", required=True, help="who the key belongs to; limits are counted per tenant"
    )
    create.add_argument("--tier", default="free", help="a tier of LLMEDGE_TIERS (default: free)")
    create.add_argument("--json", action="store_true", help="print the new key as JSON")
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print the keys as JSON")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", help="the key id, as `llmedge keys list` shows it (key_…)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llmedge.errors import ConfigurationError
    from llmedge.limits.config import LimitsConfig

    try:
        config = LimitsConfig.from_environ(os.environ)
    except ConfigurationError as error:
        raise CommandError(error.message) from None
    if args.action == "create" and args.tier not in config.tiers:
        raise CommandError(f"unknown tier {args.tier!r}; configured tiers: {', '.join(sorted(config.tiers))}")
    actions: dict[str, Callable[[ApiKeyStore, argparse.Namespace], Awaitable[int]]] = {
        "create": _create,
        "list": _list,
        "revoke": _revoke,
    }
    return asyncio.run(_with_store(config.prefix, lambda store: actions[args.action](store, args)))


async def _with_store(prefix: str, action: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    from llmedge.cli.upstash_env import redis_from_environment
    from llmedge.limits.apikeys import ApiKeyStore

    async with redis_from_environment() as redis:
        return await action(ApiKeyStore(redis, prefix))


async def _create(store: ApiKeyStore, args: argparse.Namespace) -> int:
    created = await store.create(tenant=args.tenant, tier=args.tier)
    record = created.record
    if args.json:
        print(
            json.dumps(
                {"id": record.id, "tenant": record.tenant, "tier": record.tier, "secret": created.secret}
            )
        )
        return 0
    print(f"created {record.id} for tenant {record.tenant!r}, tier {record.tier!r}")
    print("secret (shown only now; Redis keeps only its SHA-256):")
    print(created.secret)
    return 0


async def _list(store: ApiKeyStore, args: argparse.Namespace) -> int:
    records = await store.list_keys()
    if args.json:
        print(json.dumps([record.__dict__ for record in records]))
        return 0
    if not records:
        print("no API keys")
        return 0
    print(f"{'ID':<18} {'TENANT':<24} {'TIER':<12} CREATED (UTC)")
    for record in records:
        created = datetime.fromtimestamp(record.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{record.id:<18} {record.tenant:<24} {record.tier:<12} {created}")
    return 0


async def _revoke(store: ApiKeyStore, args: argparse.Namespace) -> int:
    if not await store.revoke(args.id):
        raise CommandError(f"no API key with id {args.id!r} (see llmedge keys list)")
    print(f"revoked {args.id} (warm instances may accept it for up to their key cache TTL, 30 s by default)")
    return 0
