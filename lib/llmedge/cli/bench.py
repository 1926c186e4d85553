"""`llmedge bench`: print the benchmarks' figures and ratios, measured side by side in one run."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

# name → what it measures; each is `llmedge.bench.<name>.run(...)`.
BENCHMARKS = {
    "gateway": "cache-hit latency vs one bridge round trip and vs the tutorial baseline; commands per request; cold starts",
    "bridge": "the Upstash REST bridge's round trip vs a direct redis-py call",
    "broker": "the QStash broker's publish-to-delivery latency vs a direct POST",
    "limits": "round trips and milliseconds the rate limits add; the one-script admission vs upstash-ratelimit",
    "semantic": "semantic lookup at 10k and 100k entries: latency, round trips, bytes, recall vs brute force",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark and print its figures",
        description="Benchmarks run their own local stack on free loopback ports; nothing leaves the machine.\n"
        + "\n".join(f"  {name:<9} {what}" for name, what in BENCHMARKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=[*BENCHMARKS, "all"], help="which benchmark (or all of them)")
    parser.add_argument(
        "--data",
        type=Path,
        help="semantic: also fill the index with real text, this development set's seeds among"
        " sentences of Python's sources, and query it with the set's paraphrases",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    for name in names:
        print(f"\n=== llmedge bench {name}: {BENCHMARKS[name]}", flush=True)
        options = {"data": args.data} if name == "semantic" and args.data else {}
        importlib.import_module(f"llmedge.bench.{name}").run(**options)
    return 0
