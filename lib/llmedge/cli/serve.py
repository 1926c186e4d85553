"""`llmedge serve`: the three functions and the page, against whatever the environment names."""

from __future__ import annotations

import argparse

from llmedge.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the three functions and public/ against the Upstash, QStash and model API in the environment",
        description=(
            "Serve /api/generate, /api/callback, /api/result and the static page with uvicorn, using the "
            "UPSTASH_*, QSTASH_*, OPENAI_* and LLMEDGE_* variables of the environment (no stand-ins). "
            "Several instances may share one stack, as serverless instances do."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from llmedge.errors import ConfigurationError
    from llmedge.settings import Settings

    try:
        Settings.from_environ()  # fail here, in one line, rather than in every worker
    except ConfigurationError as error:
        raise CommandError(error.message) from None
    from llmedge.cli.ports import ensure_port_free

    ensure_port_free(args.host, args.port)
    uvicorn.run(
        "llmedge.deploy:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0
