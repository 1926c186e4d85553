"""`llmedge` command line: one module per sub-command.

Each module named in `SUBCOMMAND_MODULES` exposes `register(subparsers)`, which adds its parser and sets
`func` (a callable taking the parsed arguments and returning an exit code). Modules keep heavy imports
inside their functions, so `llmedge --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from llmedge import __version__

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "dev",
    "keys",
    "eval",
    "bench",
    "ask",
    "stats",
    "warm",
    "purge",
    "report",
)


class CommandError(Exception):
    """A failure the user can act on; printed as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmedge",
        description="An AI gateway for HTTP-only serverless: cache, rate limits and QStash offload.",
    )
    parser.add_argument("--version", action="version", version=f"llmedge {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"llmedge.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CommandError as error:
        print(f"llmedge {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
