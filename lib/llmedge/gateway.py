"""Everything one function instance holds between requests: settings, clients, stores."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
from starlette.requests import Request
from upstash_redis.errors import UpstashError

from llmedge.clients import Clients, build_clients
from llmedge.errors import StoreUnavailable
from llmedge.jobs import JobStore
from llmedge.settings import Settings

Clock = Callable[[], float]


@dataclass
class Gateway:
    settings: Settings
    clients: Clients
    clock: Clock = time.time
    jobs: JobStore = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobStore(self.clients.redis)

    @classmethod
    def build(cls, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> Gateway:
        return cls(settings=settings, clients=build_clients(settings, transport=transport))

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def identify(self, request: Request) -> Caller:
        client = request.client.host if request.client else "unknown"
        return Caller(id=f"ip:{client}", tenant=f"ip:{client}")


@dataclass(frozen=True)
class Caller:
    id: str
    tenant: str


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn any failure to talk to Upstash Redis into one error the HTTP layer answers with 503."""
    try:
        yield
    except (httpx.HTTPError, UpstashError, ValueError) as error:
        # ValueError: a non-JSON answer (a proxy's error page) that the SDK failed to decode.
        raise StoreUnavailable("the data store cannot be reached; retry shortly") from error
