"""`llmedge ask "prompt"`: submit to a running gateway, show progress while it works, print the answer."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from llmedge.cli.client import Answer, Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    from llmedge.cli.client import add_gateway_arguments

    parser = subparsers.add_parser(
        "ask",
        help="ask a model through a running gateway and print the answer",
        description="Submit a prompt to /api/generate, poll /api/result with a progress line on stderr, "
        "and print the answer on stdout.",
    )
    parser.add_argument("prompt", help='the prompt ("-" reads it from stdin)')
    parser.add_argument("--model", default="gpt-4o-mini", help="model name (default: gpt-4o-mini)")
    parser.add_argument("--kind", choices=("chat", "image"), default="chat", help="chat (default) or image")
    add_gateway_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the gateway's final JSON instead of text")
    parser.add_argument(
        "--no-cache", action="store_true", help="do not answer from the cache (still fill it)"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for the answer (default: 600)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise CommandError("the prompt is empty")
    body: dict[str, Any] = {"model": args.model, "kind": args.kind, "prompt": prompt}
    if args.no_cache:
        body["cache"] = {"mode": "no-cache"}
    answer = asyncio.run(_ask(args, body))
    if args.json:
        print(json.dumps(answer.body, ensure_ascii=False, indent=2))
        return 0 if answer.done else 1
    if not answer.done:
        error = answer.body.get("error") or {}
        upstream = (
            f" (the model API answered {error['upstream_status']})" if error.get("upstream_status") else ""
        )
        raise CommandError(f"the model call failed: {error.get('message') or 'no reason given'}{upstream}")
    print(answer_text(answer.body.get("result") or {}, args.kind))
    print(summary(answer), file=sys.stderr)
    return 0


async def _ask(args: argparse.Namespace, body: dict[str, Any]) -> Answer:
    from llmedge.cli.client import GatewayClient
    from llmedge.cli.progress import StatusLine

    line = StatusLine()
    latest: list[Progress] = []

    def draw(progress: Progress) -> None:
        latest[:] = [progress]
        retry = f" · attempt {progress.attempts + 1}" if progress.status == "retrying" else ""
        text = f"{progress.status} · {progress.elapsed:.1f} s · polls {progress.polls}{retry}"
        line.show(text, key=f"{progress.status}{retry}")

    async def tick() -> None:  # keeps the elapsed time moving between polls on a terminal
        while True:
            await asyncio.sleep(0.1)
            if latest:
                draw(latest[0])

    ticker = asyncio.create_task(tick()) if line.live else None
    try:
        async with GatewayClient(args.url, key=args.key) as client:
            return await client.generate(body, give_up_after=args.timeout, on_progress=draw)
    finally:
        if ticker:
            ticker.cancel()
        line.clear()


def answer_text(result: dict[str, Any], kind: str) -> str:
    if kind == "image":
        item = (result.get("data") or [{}])[0]
        if item.get("url"):
            return str(item["url"])
        return f"data:image/png;base64,{item.get('b64_json', '')}"
    message = ((result.get("choices") or [{}])[0]).get("message") or {}
    return str(message.get("content") or message.get("refusal") or "")


def summary(answer: Answer) -> str:
    cache = answer.body.get("cache") or {}
    source = {"HIT": "from the cache", "SEMANTIC-HIT": "from the cache (similar prompt)"}.get(
        answer.x_cache, "from the model"
    )
    if cache.get("similarity") is not None:
        source += f", similarity {cache['similarity']:.2f}"
    usage = (answer.body.get("result") or {}).get("usage") or {}
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens"))
    tokens = f" · {tokens_in} tokens in, {tokens_out} out" if tokens_in is not None else ""
    return f"done in {answer.elapsed:.1f} s {source}{tokens}"
