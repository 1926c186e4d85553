"""Structured logs: one JSON object per line, carrying the request id the client got as `X-Request-Id`.

    {"ts": "2025-05-01T12:00:00.123Z", "level": "info", "logger": "llmedge.generate",
     "message": "job queued", "request_id": "req_…", "job_id": "job_…", "message_id": "msg_…"}

Every `extra={…}` field of a log call becomes a top-level key. The request id comes from the call's
`extra` when given, else from the context the HTTP layer binds for the request (`bind_request_id`), so
log lines written deep inside the library (or by a task the request started) still name their request.
Vercel and CloudWatch both keep each line of stderr as one log event, and both can query JSON fields.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

_request_id: ContextVar[str | None] = ContextVar("llmedge_request_id", default=None)
# What every LogRecord has; anything else on a record came from `extra` and is logged as a field.
_STANDARD_ATTRIBUTES = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"}
)
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@contextmanager
def bind_request_id(request_id: str) -> Iterator[None]:
    """Within this block (and tasks started in it), log lines carry `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id.get(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        # default=str: an extra that is not JSON (an exception, a path) must not lose the whole line.
        return json.dumps(document, ensure_ascii=False, default=str)


def configure_logging(
    level: str | None = None, *, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> logging.Handler:
    """JSON lines on stderr from the root logger, at `level` (else LLMEDGE_LOG_LEVEL, else INFO).

    Call it once from an entry point (`api/*.py`, `llmedge serve`), not from library code or tests. It
    replaces the root logger's handlers: Lambda's runtime installs its own plain-text one, which would
    print every line a second time.
    """
    environ = os.environ if environ is None else environ
    chosen = (level or environ.get("LLMEDGE_LOG_LEVEL") or "INFO").upper()
    if chosen not in _LEVELS:
        from llmedge.errors import ConfigurationError

        raise ConfigurationError(f"LLMEDGE_LOG_LEVEL must be one of {', '.join(_LEVELS)}; got {chosen!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(chosen)
    # httpx logs each request at INFO: a line per Redis call would outnumber the gateway's own lines.
    logging.getLogger("httpx").setLevel(chosen if chosen == "DEBUG" else "WARNING")
    return handler
