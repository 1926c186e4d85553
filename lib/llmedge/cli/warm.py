"""`llmedge warm FILE.jsonl`: fill the cache ahead of traffic, a bounded number of requests at a time.

Each non-blank line of the file is one /api/generate body. Every line is checked before anything is
sent, so a typo on line 900 does not leave a half-warmed cache. A rate-limited request waits for its
Retry-After and tries again (`--retries`), since warming is exactly the burst limits exist to slow down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from llmedge.cli.client import GatewayClient
    from llmedge.cli.progress import StatusLine

MAX_RETRY_WAIT_S = 120.0


def register(subparsers: argparse._SubParsersAction) -> None:
    from llmedge.cli.client import add_gateway_arguments

    parser = subparsers.add_parser(
        "warm",
        help="send every request of a JSONL file through the gateway so their answers are cached",
        description="Each line of FILE is a JSON /api/generate body. Requests are sent CONCURRENCY at a "
        "time, each polled to completion; a progress bar shows on stderr and a summary at the end.",
    )
    parser.add_argument("file", type=Path, help="a .jsonl file, one /api/generate body per line")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once (default: 4, at most 64)"
    )
    parser.add_argument(
        "--retries", type=int, default=3, help="times to retry a rate-limited request (default: 3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for each answer (default: 600)"
    )
    add_gateway_arguments(parser)
    parser.set_defaults(func=run)


@dataclass
class Tally:
    total: int
    cached: int = 0  # already in the cache (HIT / SEMANTIC-HIT)
    fresh: int = 0  # answered by the model now, so cached from now on
    failed: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.cached + self.fresh + len(self.failed)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.concurrency <= 64:
        raise CommandError("--concurrency must be between 1 and 64")
    if args.retries < 0:
        raise CommandError("--retries must be 0 or more")
    bodies = read_requests(args.file)
    tally = asyncio.run(_warm(args, bodies))
    elapsed = time.monotonic() - tally.started
    print(
        f"warmed {tally.total} requests in {elapsed:.1f} s: {tally.fresh} newly cached, "
        f"{tally.cached} already cached, {len(tally.failed)} failed",
        file=sys.stderr,
    )
    for failure in tally.failed:
        print(f"  {failure}", file=sys.stderr)
    return 1 if tally.failed else 0


def read_requests(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, body) for every non-blank line; the first bad line is a one-line error."""
    from llmedge.errors import ValidationFailed
    from llmedge.schemas import Generation

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path}: {error}") from None
    bodies = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
            Generation.parse(body)
        except json.JSONDecodeError as error:
            raise CommandError(f"{path}:{number}: not JSON ({error.msg})") from None
        except ValidationFailed as error:
            raise CommandError(f"{path}:{number}: {error.message}") from None
        bodies.append((number, body))
    if not bodies:
        raise CommandError(f"{path} has no requests")
    return bodies


async def _warm(args: argparse.Namespace, bodies: list[tuple[int, dict[str, Any]]]) -> Tally:
    from llmedge.cli.client import GatewayClient
    from llmedge.cli.progress import StatusLine

    tally = Tally(total=len(bodies))
    line = StatusLine()
    gate = asyncio.Semaphore(args.concurrency)
    draw(line, tally)
    async with GatewayClient(args.url, key=args.key) as client:

        async def one(number: int, body: dict[str, Any]) -> None:
            async with gate:
                await _send(client, number, body, args, tally)
            draw(line, tally)

        await asyncio.gather(*(one(number, body) for number, body in bodies))
    line.clear()
    return tally


async def _send(
    client: GatewayClient, number: int, body: dict[str, Any], args: argparse.Namespace, tally: Tally
) -> None:
    from llmedge.cli.client import GatewayError

    for attempt in range(args.retries + 1):
        try:
            answer = await client.generate(body, give_up_after=args.timeout)
        except GatewayError as error:
            if error.status == 0:
                raise  # the gateway is unreachable: stop everything, one line
            if error.status == 429 and attempt < args.retries:
                await asyncio.sleep(min(MAX_RETRY_WAIT_S, error.retry_after or 1.0))
                continue
            tally.failed.append(f"line {number}: {error}")
            return
        if not answer.done:
            message = (answer.body.get("error") or {}).get("message") or "the model call failed"
            tally.failed.append(f"line {number}: {message}")
        elif answer.x_cache in ("HIT", "SEMANTIC-HIT"):
            tally.cached += 1
        else:
            tally.fresh += 1
        return


def draw(line: StatusLine, tally: Tally) -> None:
    from llmedge.cli.progress import bar

    elapsed = time.monotonic() - tally.started
    text = (
        f"{bar(tally.finished, tally.total)} {tally.finished}/{tally.total} · {tally.fresh} new · "
        f"{tally.cached} cached · {len(tally.failed)} failed · {elapsed:.1f} s"
    )
    # Off a terminal: a line at every tenth of the work, not one per request.
    line.show(text, key=str(10 * tally.finished // tally.total))
