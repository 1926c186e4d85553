"""The bodies that cross HTTP, as msgspec Structs: requests are checked and the OpenAPI document is made
from them.

msgspec rather than pydantic: importing pydantic and building these models cost ~95 ms of every cold start
of /api/generate and /api/callback here (`llmedge bench gateway`), over a third of the 250 ms budget;
msgspec costs ~13 ms and reports a failure with the path of the field (`$.params.temperature`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

from llmedge.errors import ValidationFailed
from llmedge.validation import convert, described_pattern

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
CacheMode = Literal["default", "no-cache", "no-store", "refresh"]
NonEmpty = Annotated[str, Meta(min_length=1)]

# Patterns are written so that Python's `re` (msgspec's check) and ECMA-262 (what JSON Schema validators
# and generated clients use) read them alike: no `\d` or `\s`, whose Unicode meaning differs between the
# two. A model name: no whitespace and no control characters, spelled out.
_MODEL_NAME = described_pattern(
    r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$",
    "a model name: no spaces or control characters",
)
_NAMESPACE = described_pattern(r"^[A-Za-z0-9._:-]{1,64}$", "1 to 64 of A-Z a-z 0-9 . _ : -")
_IMAGE_SIZE = described_pattern(r"^[0-9]{2,5}x[0-9]{2,5}$", "WIDTHxHEIGHT, such as 1024x1024")
_ENTRY_ID = described_pattern(r"^[0-9]{1,20}\.[0-9a-f]{64}$", "a `cache.entry_id` from a SEMANTIC-HIT answer")

# Parameters that cannot work through an offloaded call, or that llmedge sets itself.
_FORBIDDEN_PARAMS = {
    "stream": "streaming is not possible through an offloaded call; poll /api/result instead",
    "model": "give the model in the top-level `model` field",
    "messages": "give messages in the top-level `messages` field",
    "prompt": "give the prompt in the top-level `prompt` field",
}


class ChatMessage(Struct):
    """An OpenAI chat message; other fields (tool_calls, name, …) pass through and count in the key."""

    role: Role
    content: str | list[dict[str, Any]] | None = None


class CacheOptions(Struct, kw_only=True, forbid_unknown_fields=True):
    mode: CacheMode = "default"
    ttl: Annotated[int, Meta(ge=1, description="Seconds; capped by LLMEDGE_MAX_CACHE_TTL.")] | None = None
    semantic: bool = True
    threshold: (
        Annotated[float, Meta(gt=0, le=1, description="May only tighten the server's similarity threshold.")]
        | None
    ) = None
    namespace: Annotated[str, Meta(pattern=_NAMESPACE)] = "default"


class DebounceOptions(Struct, kw_only=True, forbid_unknown_fields=True):
    """A newer request with the same key inside the window replaces the older, still-waiting one."""

    key: Annotated[str, Meta(min_length=1, max_length=128)]
    # Whole seconds: QStash delays are given in s/m/h/d, so finer windows could not be honoured.
    window: Annotated[int, Meta(ge=1, le=60)] = 1


class SamplingParams(Struct, kw_only=True):
    """OpenAI request parameters, passed through; the well-known ones are range-checked here."""

    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    n: Annotated[int, Meta(ge=1, le=16)] | None = None
    seed: int | None = None
    presence_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    frequency_penalty: Annotated[float, Meta(ge=-2, le=2)] | None = None
    size: Annotated[str, Meta(pattern=_IMAGE_SIZE)] | None = None


class _GenerateFields(Struct, kw_only=True, forbid_unknown_fields=True):
    """What the documented body and the request the gateway works with have in common."""

    model: Annotated[str, Meta(min_length=1, max_length=200, pattern=_MODEL_NAME)]
    kind: Literal["chat", "image"] = "chat"
    prompt: NonEmpty | None = None
    cache: CacheOptions = field(default_factory=CacheOptions)
    debounce: DebounceOptions | None = None


class GenerateRequest(_GenerateFields, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /api/generate, as documented and checked."""

    messages: Annotated[list[ChatMessage], Meta(min_length=1, max_length=1000)] | None = None
    params: SamplingParams = field(default_factory=SamplingParams)


class Generation(_GenerateFields, kw_only=True, forbid_unknown_fields=True):
    """A checked generate body with its messages and parameters exactly as sent: the fields llmedge does
    not know pass through to the model API and count in the request key."""

    messages: list[dict[str, Any]] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, document: dict[str, Any]) -> Generation:
        """The request in `document`, or ValidationFailed naming the first field that is wrong."""
        checked = convert(document, GenerateRequest)
        if checked.kind == "image":
            if not checked.prompt:
                raise ValidationFailed("body: an image request needs `prompt`", field="body")
            if checked.messages is not None:
                raise ValidationFailed("body: an image request takes `prompt`, not `messages`", field="body")
        elif (checked.messages is None) == (checked.prompt is None):
            raise ValidationFailed("body: give exactly one of `messages` or `prompt`", field="body")
        generation = convert(document, cls)
        for name, why in _FORBIDDEN_PARAMS.items():
            if name in generation.params:
                raise ValidationFailed(f"params: `{name}` is not allowed in params: {why}", field="params")
        return generation

    def chat_messages(self) -> list[dict[str, Any]]:
        """The conversation as OpenAI expects it (`prompt` is shorthand for one user message)."""
        if self.messages is not None:
            return [_without_nulls(message) for message in self.messages]
        return [{"role": "user", "content": self.prompt}]

    def passed_params(self) -> dict[str, Any]:
        return _without_nulls(self.params)

    def max_tokens(self) -> int | None:
        limit = self.params.get("max_tokens") or self.params.get("max_completion_tokens")
        return limit if isinstance(limit, int) else None


def _without_nulls(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


class FalseHitReport(Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /api/report."""

    entry_id: Annotated[str, Meta(pattern=_ENTRY_ID, description="`cache.entry_id` of the hit")]
    reason: Annotated[str, Meta(max_length=500)] | None = None


class CallbackBody(Struct, kw_only=True):
    """The fields of QStash's callback body that llmedge reads (PROTOCOLS §3.9); others are ignored."""

    status: Annotated[int, Meta(ge=0, le=999)]
    body: str = ""
    retried: Annotated[int, Meta(ge=0)] = 0
    max_retries: Annotated[int, Meta(ge=0)] = field(default=0, name="maxRetries")
    source_message_id: str | None = field(default=None, name="sourceMessageId")


# The response models document the API (the OpenAPI document); the handlers build responses directly.


class CacheInfo(Struct, kw_only=True):
    status: Literal["HIT", "SEMANTIC-HIT"]
    age: Annotated[int, Meta(description="Seconds since the answer was stored.")]
    similarity: float | None = None


class DoneResponse(Struct, kw_only=True):
    job_id: str
    result: Annotated[dict[str, Any], Meta(description="The model API's JSON answer, unchanged.")]
    status: Literal["done"] = "done"
    cache: CacheInfo | None = None


class PendingResponse(Struct, kw_only=True):
    job_id: str
    result_url: str
    status: Literal["pending", "retrying"] = "pending"
    attempts: int = 0


class JobError(Struct, kw_only=True):
    code: str
    message: str
    upstream_status: int | None = None


class FailedResponse(Struct, kw_only=True):
    job_id: str
    error: JobError
    status: Literal["failed"] = "failed"


class ErrorDetail(Struct, kw_only=True):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(Struct, kw_only=True):
    error: ErrorDetail
