"""`llmedge purge`: delete cached answers by namespace, by model, or all, after a confirmation.

Talks to Upstash Redis directly (UPSTASH_REDIS_REST_URL / _TOKEN). Exact-cache keys are named
`llmedge:v<version>:exact:<namespace>:<model slug>:<digest>` (`llmedge.requestkey`), so SCAN MATCH finds
them; every key version is purged, since an old version's entries are never read again anyway. Keys are
removed with UNLINK (freed in the background, Redis does not stall on large values) in batches.
Semantic-cache entries go through the semantic index's own purge, for every index found in Redis.
Jobs, leases, limits and stats are not touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from upstash_redis.asyncio import Redis

SCAN_COUNT = 500
# `<prefix>:<embedder name ending in -<dimensions>>:lsh<tables>x<bits>s<seed>:ids` (llmedge.semantic.index).
_SEMANTIC_IDS = re.compile(
    r"^(?P<prefix>.+):(?P<name>[^:]+-(?P<dims>\d+)):lsh(?P<t>\d+)x(?P<b>\d+)s(?P<seed>\d+):ids$"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "purge",
        help="delete cached answers (exact and semantic) by namespace, by model, or all",
        description="Delete cached answers from the Upstash Redis named by UPSTASH_REDIS_REST_URL/_TOKEN. "
        "Asks for confirmation unless --yes is given.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--namespace", help="every answer cached under this cache namespace")
    which.add_argument("--model", help="every answer cached for this model")
    which.add_argument("--all", action="store_true", help="every cached answer")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Selection:
    namespace: str | None = None
    model: str | None = None

    def describe(self) -> str:
        if self.namespace is not None:
            return f"every cached answer in namespace {self.namespace!r}"
        if self.model is not None:
            return f"every cached answer of model {self.model!r}"
        return "EVERY cached answer"

    def pattern(self) -> str:
        from llmedge.requestkey import model_slug

        # Namespaces and model slugs hold no glob characters (schemas.CacheOptions, requestkey.model_slug).
        if self.namespace is not None:
            return f"llmedge:v*:exact:{self.namespace}:*"
        if self.model is not None:
            return f"llmedge:v*:exact:*:{model_slug(self.model)}:*"
        return "llmedge:v*:exact:*"

    def matches(self, key: str) -> bool:
        """SCAN's glob is wider than the selection: namespace `a` must not take namespace `a:b`'s keys."""
        from llmedge.requestkey import model_slug

        parts = key.split(":")  # llmedge, v<n>, exact, <namespace, may hold ':'>, <slug>, <digest>
        if len(parts) < 6:
            return False
        if self.namespace is not None:
            return ":".join(parts[3:-2]) == self.namespace
        if self.model is not None:
            return parts[-2] == model_slug(self.model)
        return True


def run(args: argparse.Namespace) -> int:
    selection = Selection(namespace=args.namespace, model=args.model)
    if args.namespace is not None and not args.namespace.strip():
        raise CommandError("--namespace must not be empty")
    if args.model is not None and not args.model.strip():
        raise CommandError("--model must not be empty")
    if not args.yes:
        confirm(selection)
    exact, semantic = asyncio.run(_purge(selection))
    print(f"purged {exact} exact-cache entries and {semantic} semantic-cache entries")
    return 0


def confirm(selection: Selection) -> None:
    if not sys.stdin.isatty():
        raise CommandError("refusing to purge without confirmation from a terminal; pass --yes")
    answer = input(f"Delete {selection.describe()} from {os.environ.get('UPSTASH_REDIS_REST_URL')}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise CommandError("cancelled; nothing was deleted")


async def _purge(selection: Selection) -> tuple[int, int]:
    from llmedge.cli.upstash_env import redis_from_environment

    async with redis_from_environment() as redis:
        return await purge_exact(redis, selection), await purge_semantic(redis, selection)


async def purge_exact(redis: Redis, selection: Selection) -> int:
    removed = 0
    cursor = 0
    while True:
        cursor, keys = await redis.scan(cursor, match=selection.pattern(), count=SCAN_COUNT)
        chosen = [key for key in keys if selection.matches(key)]
        if chosen:
            removed += await redis.unlink(*chosen)
        if cursor == 0:
            return removed


async def purge_semantic(redis: Redis, selection: Selection) -> int:
    """Every semantic index in Redis (one per embedder and hash family) purges its own entries."""
    from llmedge.semantic.index import SemanticIndex
    from llmedge.semantic.vectors import HyperplaneLSH

    removed = 0
    cursor = 0
    while True:
        cursor, keys = await redis.scan(cursor, match="llmedge:sem:*:ids", count=SCAN_COUNT)
        for key in keys:
            found = _SEMANTIC_IDS.match(key)
            if found is None:
                continue
            dims = int(found["dims"])
            lsh = HyperplaneLSH(dims, tables=int(found["t"]), bits=int(found["b"]), seed=int(found["seed"]))
            index = SemanticIndex(
                redis, embedder_name=found["name"], dimensions=dims, prefix=found["prefix"], lsh=lsh
            )
            removed += await index.purge(selection.namespace, selection.model)
        if cursor == 0:
            return removed
