"""`llmedge dev`: Redis, the Upstash REST bridge, the QStash broker, the model simulator and the gateway on
one port, with no account and no network. `llmedge dev --print-env` prints only the `export` lines, for
`eval "$(llmedge dev --print-env)"` in another shell; it starts nothing.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from llmedge.devstack.stack import LocalStack


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the whole local stack (Redis, Upstash REST, QStash, model simulator, gateway) on one port",
        description=__doc__,
    )
    parser.add_argument("--port", type=port_number, default=3000, help="port to serve on (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".llmedge"),
        help="where Redis keeps its data (default .llmedge)",
    )
    parser.add_argument(
        "--upstream-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds the model simulator takes per call (default 0)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        metavar="F",
        help="multiply the broker's delays and backoffs by F (default LLMEDGE_DEV_TIME_SCALE or 1.0)",
    )
    parser.add_argument(
        "--print-env", action="store_true", help="print the export lines only, without starting anything"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `llmedge --help` stays fast; these modules load Starlette, pydantic and numpy.
    from llmedge.devstack.redis_server import RedisServerError
    from llmedge.devstack.stack import LocalStack, StackError
    from llmedge.errors import ConfigurationError

    try:
        stack = LocalStack(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            upstream_latency=args.upstream_latency,
            time_scale=args.time_scale,
        )
        if args.print_env:
            print(export_lines(stack.environment()))
            return 0
        stack.run(on_ready=lambda: print(banner(stack), flush=True))
    except (StackError, RedisServerError, ConfigurationError) as error:
        raise CommandError(str(error)) from None
    return 0


def export_lines(environment: Mapping[str, str]) -> str:
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in environment.items())


def banner(stack: LocalStack) -> str:
    urls = stack.urls()
    env = stack.environment()
    model_api = urls["simulator"]
    if env["OPENAI_BASE_URL"] != model_api:
        model_api = f"{env['OPENAI_BASE_URL']} (from the environment; simulator still at {model_api})"
    return "\n".join(
        [
            "llmedge dev: the local stack is up",
            f"  page           {urls['page']}",
            f"  API            {urls['api']}  (then GET /api/result?id=…)",
            f"  Upstash Redis  {urls['bridge']}",
            f"  QStash         {urls['broker']}  (time scale {stack.time_scale:g})",
            f"  model API      {model_api}",
            f"  data           {stack.data_dir}",
            'Point the official SDKs and the functions at it (or: eval "$(llmedge dev --print-env)"):',
            export_lines(env),
            "Ctrl-C stops everything.",
        ]
    )


def port_number(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (1-65535)")
    return port
