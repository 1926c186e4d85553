"""One validated settings object per cold start, read from the environment.

Upstash and OpenAI variables keep the names their SDKs read; everything of ours has the `LLMEDGE_` prefix.
A missing or malformed variable raises `ConfigurationError` naming the variable, at cold start rather than
on the first request that happens to need it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from llmedge.errors import ConfigurationError

_MiB = 1024 * 1024


class ModelFlowControl(BaseModel):
    """QStash flow control for one model: a burst waits in QStash instead of meeting the provider's 429."""

    model_config = ConfigDict(extra="forbid")

    parallelism: int | None = Field(default=None, ge=1)
    rate: int | None = Field(default=None, ge=1)
    period: str = Field(default="1s", pattern=r"^\d+[smhd]$")


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # Upstash Redis REST (names as upstash_redis.Redis.from_env reads them).
    redis_url: str = Field(validation_alias="UPSTASH_REDIS_REST_URL")
    redis_token: str = Field(validation_alias="UPSTASH_REDIS_REST_TOKEN", min_length=1)
    # QStash (names as the Upstash docs and the JS SDK use them; the Python SDK reads only QSTASH_URL).
    qstash_url: str = Field(default="https://qstash.upstash.io", validation_alias="QSTASH_URL")
    qstash_token: str = Field(validation_alias="QSTASH_TOKEN", min_length=1)
    qstash_current_signing_key: str = Field(validation_alias="QSTASH_CURRENT_SIGNING_KEY", min_length=1)
    qstash_next_signing_key: str = Field(validation_alias="QSTASH_NEXT_SIGNING_KEY", min_length=1)
    # The model API: any OpenAI-compatible server.
    openai_base_url: str = Field(default="https://api.openai.com/v1", validation_alias="OPENAI_BASE_URL")
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    # Where QStash calls back; callback signatures are checked against this exact URL.
    public_url: str = Field(validation_alias="LLMEDGE_PUBLIC_URL")

    cache_ttl: int = Field(default=86_400, ge=1, validation_alias="LLMEDGE_CACHE_TTL")
    max_cache_ttl: int = Field(default=30 * 86_400, ge=1, validation_alias="LLMEDGE_MAX_CACHE_TTL")
    job_ttl: int = Field(default=86_400, ge=60, validation_alias="LLMEDGE_JOB_TTL")
    max_body_bytes: int = Field(default=_MiB, ge=1024, validation_alias="LLMEDGE_MAX_BODY_BYTES")
    cache_partition: Literal["tenant", "shared"] = Field(
        default="tenant", validation_alias="LLMEDGE_CACHE_PARTITION"
    )
    key_version: str = Field(
        default="1", pattern=r"^[A-Za-z0-9]{1,16}$", validation_alias="LLMEDGE_KEY_VERSION"
    )
    qstash_retries: int = Field(default=3, ge=0, le=20, validation_alias="LLMEDGE_QSTASH_RETRIES")
    upstream_timeout: str = Field(
        default="15m", pattern=r"^\d+[smh]$", validation_alias="LLMEDGE_UPSTREAM_TIMEOUT"
    )
    # How long identical requests keep sharing one in-flight job; past it a crashed job no longer blocks.
    lease_ttl: int = Field(default=900, ge=5, validation_alias="LLMEDGE_LEASE_TTL")
    # Budget for one Redis round trip before the request degrades (X-Cache: BYPASS or 503).
    redis_timeout: float = Field(default=2.0, gt=0, validation_alias="LLMEDGE_REDIS_TIMEOUT")
    # Redis unreachable: call the model directly for at most this long (0: answer 503 instead).
    bypass_timeout: float = Field(default=8.0, ge=0, validation_alias="LLMEDGE_BYPASS_TIMEOUT")
    flow_control: dict[str, ModelFlowControl] = Field(
        default_factory=dict, validation_alias="LLMEDGE_FLOW_CONTROL"
    )
    semantic_cache: bool = Field(default=True, validation_alias="LLMEDGE_SEMANTIC_CACHE")
    semantic_threshold: float | None = Field(
        default=None, gt=0, le=1, validation_alias="LLMEDGE_SEMANTIC_THRESHOLD"
    )
    embedder: Literal["wordllama", "minilm", "openai"] = Field(
        default="wordllama", validation_alias="LLMEDGE_EMBEDDER"
    )
    embedding_model: str = Field(default="text-embedding-3-small", validation_alias="LLMEDGE_EMBEDDING_MODEL")
    admin_key: str | None = Field(default=None, min_length=16, validation_alias="LLMEDGE_ADMIN_KEY")
    # USD per million tokens, by model: {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}.
    prices: dict[str, dict[Literal["input", "output"], float]] = Field(
        default_factory=dict, validation_alias="LLMEDGE_PRICES"
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_means_unset(cls, values: Any) -> Any:
        # Deploy tools write `X=` for an optional variable left blank (serverless.yml `${env:X, ''}`).
        if isinstance(values, dict):
            return {key: value for key, value in values.items() if value != ""}
        return values

    @field_validator("redis_url", "qstash_url", "openai_base_url", "public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        # A trailing slash would make the SDKs build `//pipeline` and our callback URL differ from the signed one.
        return value.rstrip("/")

    @field_validator("flow_control", "prices", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as error:
                raise ValueError(f"must be a JSON object ({error.msg})") from None
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build and validate the settings; `ConfigurationError` names every bad variable."""
        environ = os.environ if environ is None else environ
        try:
            return cls.model_validate(dict(environ))
        except ValidationError as error:
            problems = []
            for item in error.errors():
                variable = _variable_name(cls, item["loc"])
                reason = "is required but not set" if item["type"] == "missing" else item["msg"]
                problems.append(f"{variable} {reason}")
            raise ConfigurationError("invalid configuration: " + "; ".join(problems)) from None

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}/api/callback"


def _variable_name(model: type[BaseModel], location: tuple[int | str, ...]) -> str:
    """Map a pydantic error location back to the environment variable the user has to fix."""
    head = location[0] if location else ""
    for name, field in model.model_fields.items():
        alias = field.validation_alias
        aliases = alias.choices if isinstance(alias, AliasChoices) else [alias]
        if head in (name, *aliases):
            first = aliases[0]
            suffix = "".join(f"[{part!r}]" for part in location[1:])
            return f"{first}{suffix}"
    return str(head)
