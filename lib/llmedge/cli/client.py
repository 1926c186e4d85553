"""Talking to a running gateway from the command line: submit, poll, and one-line errors.

Shared by `llmedge ask`, `warm` and `stats`. Every failure a user can meet (stack not running, bad key,
rate limited, a job that failed) becomes `GatewayError`, a `CommandError` printed as one line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmedge.cli import CommandError

if TYPE_CHECKING:  # httpx is imported when a client is built, so `llmedge --help` stays fast
    import httpx

DEFAULT_URL = "http://127.0.0.1:3000"
MAX_POLL_DELAY_S = 10.0


def add_gateway_arguments(parser: argparse.ArgumentParser, *, key: bool = True) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("LLMEDGE_URL", DEFAULT_URL),
        help=f"the gateway's base URL (default: $LLMEDGE_URL or {DEFAULT_URL})",
    )
    if key:
        parser.add_argument(
            "--key",
            default=os.environ.get("LLMEDGE_API_KEY"),
            help="API key, sent as a Bearer token (default: $LLMEDGE_API_KEY; none: ask anonymously)",
        )


class GatewayError(CommandError):
    """The gateway refused or failed; `status` is the HTTP status (0: it could not be reached)."""

    def __init__(self, message: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class Progress:
    """What a caller may show while a job runs."""

    status: str  # sending | pending | retrying | done | failed
    started: float = field(default_factory=time.monotonic)
    polls: int = 0
    attempts: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]  # the gateway's final JSON: status done (with result) or failed (with error)
    x_cache: str  # of the submit: HIT | SEMANTIC-HIT | MISS | BYPASS | REFRESH
    elapsed: float
    polls: int

    @property
    def done(self) -> bool:
        return self.body.get("status") == "done"


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def error_from(response: httpx.Response) -> GatewayError:
    """One line from the gateway's `{"error": {"code", "message", "field"?}}` body."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or response.reason_phrase or "no details")
    code = error.get("code") or "error"
    text = f"HTTP {response.status_code} {code}: {message}"
    wait = retry_after(response)
    if response.status_code == 429 and wait is not None:
        text += f"; retry in {wait:g} s"
    if response.status_code == 401:
        text += " (check --key / LLMEDGE_API_KEY)"
    return GatewayError(text, status=response.status_code, retry_after=wait)


class GatewayClient:
    def __init__(self, url: str, *, key: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        import httpx

        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            reason = str(error) or type(error).__name__
            raise GatewayError(
                f"cannot reach the gateway at {self.url} ({reason}); is `llmedge dev` running? (--url)"
            ) from None

    async def generate(
        self,
        body: dict[str, Any],
        *,
        give_up_after: float = 600.0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Answer:
        """Submit `body` and poll until the job is done or failed, following Retry-After."""
        progress = Progress("sending")
        notify = on_progress or (lambda _: None)
        notify(progress)
        submitted = await self.request("POST", "/api/generate", json=body)
        x_cache = submitted.headers.get("x-cache", "")
        if submitted.status_code == 200:
            return self._answer(submitted, x_cache, progress, notify)
        if submitted.status_code != 202:
            raise error_from(submitted)
        job_id = submitted.json()["job_id"]
        delay = retry_after(submitted) or 1.0
        progress.status = "pending"
        while True:
            notify(progress)
            if progress.elapsed + delay > give_up_after:
                raise GatewayError(
                    f"job {job_id} is still running after {give_up_after:g} s; stopped waiting"
                )
            await asyncio.sleep(delay)
            polled = await self.request("GET", "/api/result", params={"id": job_id})
            progress.polls += 1
            if polled.status_code == 200:
                return self._answer(polled, x_cache, progress, notify)
            if polled.status_code != 202:
                raise error_from(polled)
            state = polled.json()
            progress.status = str(state.get("status", "pending"))
            progress.attempts = int(state.get("attempts", 0))
            # Follow the server's pace; without a hint, back off gently.
            delay = min(MAX_POLL_DELAY_S, retry_after(polled) or delay * 1.5)

    @staticmethod
    def _answer(
        response: httpx.Response, x_cache: str, progress: Progress, notify: Callable[[Progress], None]
    ) -> Answer:
        body = response.json()
        progress.status = str(body.get("status", "done"))
        notify(progress)
        return Answer(body=body, x_cache=x_cache, elapsed=progress.elapsed, polls=progress.polls)
