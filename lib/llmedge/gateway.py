"""Everything one function instance holds between requests: settings, clients, stores."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
from starlette.requests import Request
from upstash_redis.errors import UpstashError

from llmedge.clients import Clients
from llmedge.errors import StoreUnavailable
from llmedge.jobs import JobStore
from llmedge.limits import Caller, CallerResolver, Limiter, LimitsConfig
from llmedge.settings import Settings

if TYPE_CHECKING:
    from llmedge.semantic.cache import SemanticCache
from llmedge.stats import StatsRecorder, effective_prices

Clock = Callable[[], float]


class Gateway:
    """What one function instance shares between its requests: settings, clients, the stores on them."""

    def __init__(
        self, settings: Settings, limits: LimitsConfig, clients: Clients, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.clients = clients
        self.clock = clock
        self._semantic: SemanticCache | None = None
        redis = clients.redis
        self.jobs = JobStore(redis)
        self.callers = CallerResolver(redis, self.limits, clock=self.clock)
        self.limiter = Limiter(redis, self.limits, clock=self.clock)
        prices = effective_prices(self.settings.prices)
        self.stats = StatsRecorder(redis, prices, prefix=self.limits.prefix, clock=self.clock)

    @classmethod
    def build(
        cls,
        settings: Settings,
        limits: LimitsConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Gateway:
        return cls(settings=settings, limits=limits, clients=Clients(settings, transport=transport))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Gateway:
        return cls.build(Settings.from_environ(environ), LimitsConfig.from_environ(environ))

    def semantic(self) -> SemanticCache:
        """The instance's semantic cache, built (and its embedder loaded) on first use."""
        if self._semantic is None:
            self._semantic = _build_semantic_cache(self.settings, self.clients)
        return self._semantic

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def identify(self, request: Request) -> Caller:
        """Who is calling: an API key, else the client IP the platform vouches for (llmedge.limits)."""
        with store_errors():
            return await self.callers.resolve(
                request.headers, request.client.host if request.client else None
            )


def _build_semantic_cache(settings: Settings, clients: Clients) -> SemanticCache:
    from llmedge.semantic.cache import DEFAULT_THRESHOLD, SemanticCache
    from llmedge.semantic.embedders import OpenAIEmbedder
    from llmedge.semantic.embedding_cache import CachedEmbedder
    from llmedge.semantic.index import SearchBudget

    budget = SearchBudget(settings.semantic_candidates, settings.semantic_gathered)
    if settings.embedder != "openai":
        return SemanticCache.local(
            clients.redis,
            threshold=settings.semantic_threshold,
            embedder=settings.embedder,
            meaning_check=settings.semantic_meaning_check,
            budget=budget,
        )
    embedder = OpenAIEmbedder(
        clients.upstream,
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        model=settings.embedding_model,
    )
    # Not calibrated on the dev set: set LLMEDGE_SEMANTIC_THRESHOLD for the model you use.
    return SemanticCache(
        clients.redis,
        CachedEmbedder(embedder),
        threshold=settings.semantic_threshold or DEFAULT_THRESHOLD,
        meaning_check=settings.semantic_meaning_check,
        budget=budget,
    )


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn any failure to talk to Upstash Redis into one error the HTTP layer answers with 503."""
    try:
        yield
    except (httpx.HTTPError, UpstashError, ValueError) as error:
        # ValueError: a non-JSON answer (a proxy's error page) that the SDK failed to decode.
        raise StoreUnavailable("the data store cannot be reached; retry shortly") from error
