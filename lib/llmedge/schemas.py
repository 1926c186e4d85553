"""Pydantic models for every body that crosses HTTP (the OpenAPI document is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
CacheMode = Literal["default", "no-cache", "no-store", "refresh"]

# Parameters that cannot work through an offloaded call, or that llmedge sets itself.
_FORBIDDEN_PARAMS = {
    "stream": "streaming is not possible through an offloaded call; poll /api/result instead",
    "model": "give the model in the top-level `model` field",
    "messages": "give messages in the top-level `messages` field",
    "prompt": "give the prompt in the top-level `prompt` field",
}


class ChatMessage(BaseModel):
    """An OpenAI chat message; unknown fields (tool_calls, name, …) pass through and count in the key."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None


class CacheOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: CacheMode = "default"
    ttl: int | None = Field(default=None, ge=1, description="Seconds; capped by LLMEDGE_MAX_CACHE_TTL.")
    semantic: bool = True
    threshold: float | None = Field(
        default=None, gt=0, le=1, description="May only tighten the server's similarity threshold."
    )
    namespace: str = Field(default="default", pattern=r"^[A-Za-z0-9._:-]{1,64}$")


class DebounceOptions(BaseModel):
    """A newer request with the same key inside the window replaces the older, still-waiting one."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=128)
    # Whole seconds: QStash delays are given in s/m/h/d, so finer windows could not be honoured.
    window: int = Field(default=1, ge=1, le=60)


class SamplingParams(BaseModel):
    """OpenAI request parameters, passed through; the well-known ones are range-checked here."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=16)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    size: str | None = Field(default=None, pattern=r"^\d{2,5}x\d{2,5}$")

    @model_validator(mode="after")
    def _no_forbidden(self) -> SamplingParams:
        for name, why in _FORBIDDEN_PARAMS.items():
            if name in (self.model_extra or {}):
                raise ValueError(f"`{name}` is not allowed in params: {why}")
        return self


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200, pattern=r"^[^\s]+$")
    kind: Literal["chat", "image"] = "chat"
    messages: list[ChatMessage] | None = Field(default=None, min_length=1, max_length=1000)
    prompt: str | None = Field(default=None, min_length=1)
    params: SamplingParams = Field(default_factory=SamplingParams)
    cache: CacheOptions = Field(default_factory=CacheOptions)
    debounce: DebounceOptions | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> GenerateRequest:
        if self.kind == "image":
            if not self.prompt:
                raise ValueError("an image request needs `prompt`")
            if self.messages is not None:
                raise ValueError("an image request takes `prompt`, not `messages`")
        elif (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of `messages` or `prompt`")
        return self

    def chat_messages(self) -> list[dict[str, Any]]:
        """The conversation as OpenAI expects it (`prompt` is shorthand for one user message)."""
        if self.messages is not None:
            return [message.model_dump(exclude_none=True) for message in self.messages]
        return [{"role": "user", "content": self.prompt}]

    def passed_params(self) -> dict[str, Any]:
        return self.params.model_dump(exclude_none=True)


# The response models document the API (the OpenAPI document); the handlers build responses directly.
# defer_build: their validators are compiled when the document is first made, not at every cold start.
_DOCUMENTATION_ONLY = ConfigDict(defer_build=True)


class CacheInfo(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    status: Literal["HIT", "SEMANTIC-HIT"]
    age: int = Field(description="Seconds since the answer was stored.")
    similarity: float | None = None


class DoneResponse(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    status: Literal["done"] = "done"
    job_id: str
    result: dict[str, Any] = Field(description="The model API's JSON answer, unchanged.")
    cache: CacheInfo | None = None


class PendingResponse(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    status: Literal["pending", "retrying"] = "pending"
    job_id: str
    result_url: str
    attempts: int = 0


class JobError(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    code: str
    message: str
    upstream_status: int | None = None


class FailedResponse(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    status: Literal["failed"] = "failed"
    job_id: str
    error: JobError


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    error: ErrorDetail
