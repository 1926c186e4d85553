"""One validated settings object per cold start, read from the environment.

Upstash and OpenAI variables keep the names their SDKs read; everything of ours has the `LLMEDGE_` prefix.
A missing or malformed variable raises `ConfigurationError` naming the variable, at cold start rather than
on the first request that happens to need it.

Plain records rather than pydantic-settings: every function reads its settings at cold start, and pydantic
costs ~60 ms of import there (measured with `-X importtime`). Records on the cold path are msgspec Structs,
not dataclasses: defining a frozen dataclass costs ~0.8 ms here, a Struct ~0.02 ms, and a function defines
about twenty of them before its first request.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast

from msgspec import Struct, field

from llmedge.errors import ConfigurationError

_MiB = 1024 * 1024
_DURATION = re.compile(r"^\d+[smhd]$")
T = TypeVar("T")

CachePartition = Literal["tenant", "shared"]
Embedder = Literal["wordllama", "minilm", "openai"]
PriceKind = Literal["input", "output"]


class ModelFlowControl(Struct, frozen=True):
    """QStash flow control for one model: a burst waits in QStash instead of meeting the provider's 429."""

    parallelism: int | None = None
    rate: int | None = None
    period: str = "1s"


class Settings(Struct, frozen=True):
    # Upstash Redis REST (names as upstash_redis.Redis.from_env reads them).
    redis_url: str
    redis_token: str
    # QStash (names as the Upstash docs and the JS SDK use them; the Python SDK reads only QSTASH_URL).
    qstash_token: str
    qstash_current_signing_key: str
    qstash_next_signing_key: str
    # Where QStash calls back; callback signatures are checked against this exact URL.
    public_url: str
    qstash_url: str = "https://qstash.upstash.io"
    # The model API: any OpenAI-compatible server.
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: str | None = None

    cache_ttl: int = 86_400
    max_cache_ttl: int = 30 * 86_400
    job_ttl: int = 86_400
    max_body_bytes: int = _MiB
    cache_partition: CachePartition = "tenant"
    key_version: str = "1"
    qstash_retries: int = 3
    upstream_timeout: str = "15m"
    # How long identical requests keep sharing one in-flight job; past it a crashed job no longer blocks.
    lease_ttl: int = 900
    # Budget for one Redis round trip before the request degrades (X-Cache: BYPASS or 503).
    redis_timeout: float = 2.0
    # Redis unreachable: call the model directly for at most this long (0: answer 503 instead).
    bypass_timeout: float = 8.0
    flow_control: dict[str, ModelFlowControl] = field(default_factory=dict)
    semantic_cache: bool = True
    semantic_threshold: float | None = None
    # Judge borderline semantic hits with MiniLM as well (~40 ms each here; see README, Semantic cache).
    semantic_meaning_check: bool = False
    # Per lookup in a large scope: ids scored, bucket members read (recall against latency; README).
    semantic_candidates: int = 300
    semantic_gathered: int = 6000
    embedder: Embedder = "wordllama"
    embedding_model: str = "text-embedding-3-small"
    admin_key: str | None = None
    # Browser origins allowed to call the API from another site (CORS); empty: same origin only.
    cors_origins: tuple[str, ...] = ()
    # USD per million tokens, by model: {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}.
    prices: dict[str, dict[PriceKind, float]] = field(default_factory=dict)

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}/api/callback"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build and validate the settings; `ConfigurationError` names every bad variable."""
        reader = _Reader(os.environ if environ is None else environ)
        values: dict[str, Any] = {
            "redis_url": reader.required("UPSTASH_REDIS_REST_URL", _http_url),
            "redis_token": reader.required("UPSTASH_REDIS_REST_TOKEN", str),
            "qstash_token": reader.required("QSTASH_TOKEN", str),
            "qstash_current_signing_key": reader.required("QSTASH_CURRENT_SIGNING_KEY", str),
            "qstash_next_signing_key": reader.required("QSTASH_NEXT_SIGNING_KEY", str),
            "public_url": reader.required("LLMEDGE_PUBLIC_URL", _http_url),
            "qstash_url": reader.optional("QSTASH_URL", _http_url),
            "openai_base_url": reader.optional("OPENAI_BASE_URL", _http_url),
            "openai_api_key": reader.optional("OPENAI_API_KEY", str),
            "cache_ttl": reader.optional("LLMEDGE_CACHE_TTL", _integer(minimum=1)),
            "max_cache_ttl": reader.optional("LLMEDGE_MAX_CACHE_TTL", _integer(minimum=1)),
            "job_ttl": reader.optional("LLMEDGE_JOB_TTL", _integer(minimum=60)),
            "max_body_bytes": reader.optional("LLMEDGE_MAX_BODY_BYTES", _integer(minimum=1024)),
            "cache_partition": reader.optional("LLMEDGE_CACHE_PARTITION", _one_of("tenant", "shared")),
            "key_version": reader.optional("LLMEDGE_KEY_VERSION", _matching(r"^[A-Za-z0-9]{1,16}$")),
            "qstash_retries": reader.optional("LLMEDGE_QSTASH_RETRIES", _integer(minimum=0, maximum=20)),
            "upstream_timeout": reader.optional("LLMEDGE_UPSTREAM_TIMEOUT", _matching(r"^\d+[smh]$")),
            "lease_ttl": reader.optional("LLMEDGE_LEASE_TTL", _integer(minimum=5)),
            "redis_timeout": reader.optional("LLMEDGE_REDIS_TIMEOUT", _number(above=0)),
            "bypass_timeout": reader.optional("LLMEDGE_BYPASS_TIMEOUT", _number(minimum=0)),
            "flow_control": reader.optional("LLMEDGE_FLOW_CONTROL", _flow_control),
            "semantic_cache": reader.optional("LLMEDGE_SEMANTIC_CACHE", _boolean),
            "semantic_threshold": reader.optional("LLMEDGE_SEMANTIC_THRESHOLD", _number(above=0, maximum=1)),
            "semantic_meaning_check": reader.optional("LLMEDGE_SEMANTIC_MEANING_CHECK", _boolean),
            "semantic_candidates": reader.optional(
                "LLMEDGE_SEMANTIC_CANDIDATES", _integer(minimum=1, maximum=20_000)
            ),
            "semantic_gathered": reader.optional(
                "LLMEDGE_SEMANTIC_GATHERED", _integer(minimum=1, maximum=200_000)
            ),
            "embedder": reader.optional("LLMEDGE_EMBEDDER", _one_of("wordllama", "minilm", "openai")),
            "embedding_model": reader.optional("LLMEDGE_EMBEDDING_MODEL", str),
            "admin_key": reader.optional(
                "LLMEDGE_ADMIN_KEY", _matching(r"^.{16,}$", "at least 16 characters")
            ),
            "prices": reader.optional("LLMEDGE_PRICES", _prices),
            "cors_origins": reader.optional("LLMEDGE_CORS_ORIGINS", _origins),
        }
        if reader.problems:
            raise ConfigurationError("invalid configuration: " + "; ".join(reader.problems))
        return cls(**{name: value for name, value in values.items() if value is not None})


class _Reader:
    """Reads variables, collecting every problem so one error names all of them."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        # Deploy tools write `X=` for an optional variable left blank (serverless.yml `${env:X, ''}`).
        raw = self._environ.get(name, "")
        if raw == "":
            return None
        try:
            return parse(raw)
        except ValueError as error:
            self.problems.append(f"{name} {error}")
            return None

    def required(self, name: str, parse: Callable[[str], T]) -> T | None:
        if self._environ.get(name, "") == "":
            self.problems.append(f"{name} is required but not set")
            return None
        return self.optional(name, parse)


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    # A trailing slash would make the SDKs build `//pipeline` and our callback URL differ from the signed one.
    return raw.rstrip("/")


def _integer(*, minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be a whole number, not {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            raise ValueError(f"must be {bound}, not {value}")
        return value

    return parse


def _number(
    *, minimum: float | None = None, above: float | None = None, maximum: float | None = None
) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, not {raw!r}") from None
        if (minimum is not None and value < minimum) or (above is not None and value <= above):
            raise ValueError(
                f"must be {'at least' if minimum is not None else 'above'} {minimum if minimum is not None else above}"
            )
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}")
        return value

    return parse


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {raw!r}")
        return raw

    return parse


def _matching(pattern: str, meaning: str | None = None) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(raw: str) -> str:
        if not compiled.match(raw):
            raise ValueError(f"must be {meaning}" if meaning else f"must match {pattern}")
        return raw

    return parse


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _origins(raw: str) -> tuple[str, ...]:
    """`*`, or a comma-separated list of origins as browsers send them (`https://app.example.com`)."""
    origins = tuple(part.strip() for part in raw.split(",") if part.strip())
    if origins == ("*",):
        return origins
    for origin in origins:
        if not _ORIGIN.match(origin):
            raise ValueError(f"must be * or origins like https://app.example.com (no path), not {origin!r}")
    return origins


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, not {raw!r}")


def _json_object(raw: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"must be a JSON object ({error.msg})") from None
    if not isinstance(document, dict):
        raise ValueError("must be a JSON object")
    return document


def _positive_int_or_none(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} must be a whole number of at least 1")
    return value


def _flow_control(raw: str) -> dict[str, ModelFlowControl]:
    flows: dict[str, ModelFlowControl] = {}
    for model, config in _json_object(raw).items():
        where = f"[{model!r}]"
        if not isinstance(config, dict) or set(config) - {"parallelism", "rate", "period"}:
            raise ValueError(f"{where} must be an object with parallelism, rate and/or period")
        period = config.get("period", "1s")
        if not isinstance(period, str) or not _DURATION.match(period):
            raise ValueError(f"{where}['period'] must be a duration like 1s, 10m or 1h")
        flows[model] = ModelFlowControl(
            parallelism=_positive_int_or_none(config.get("parallelism"), f"{where}['parallelism']"),
            rate=_positive_int_or_none(config.get("rate"), f"{where}['rate']"),
            period=period,
        )
    return flows


def _prices(raw: str) -> dict[str, dict[PriceKind, float]]:
    prices: dict[str, dict[PriceKind, float]] = {}
    for model, entry in _json_object(raw).items():
        if not isinstance(entry, dict) or not set(entry) <= {"input", "output"}:
            raise ValueError(
                f"[{model!r}] must be an object with input and/or output (USD per million tokens)"
            )
        for kind, price in entry.items():
            if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                raise ValueError(f"[{model!r}][{kind!r}] must be a number of at least 0")
        prices[model] = {kind: float(price) for kind, price in cast(dict[PriceKind, float], entry).items()}
    return prices
