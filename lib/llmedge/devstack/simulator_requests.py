"""Request bodies the simulator accepts, validated as strictly as OpenAI validates them.

Unknown fields are allowed (OpenAI accepts many we do not model); known ones are type-checked strictly, so
`"max_tokens": "5"` is rejected as it is upstream. A failure becomes an OpenAI-style 400 naming the field.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmedge.devstack.simulator_errors import SimulatedError

_Open = ConfigDict(extra="allow")


class ContentPart(BaseModel):
    model_config = _Open
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = _Open
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(part.text for part in self.content if part.text)
        return self.content or ""


class ModelRequest(BaseModel):
    """What every model endpoint's body has: a model, and the text its directives are read from."""

    model_config = _Open
    model: str = Field(min_length=1)

    def prompt_text(self) -> str:
        raise NotImplementedError


class ChatRequest(ModelRequest):
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int = Field(default=1, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stream: Literal[False] | None = None  # the simulator answers in one piece, never as server-sent events

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def prompt_text(self) -> str:
        return "\n".join(message.text() for message in self.messages)


ImageSize = Literal["256x256", "512x512", "1024x1024", "1536x1024", "1024x1536", "1792x1024", "1024x1792"]
IMAGE_SIZES: frozenset[str] = frozenset(get_args(ImageSize))


class ImageRequest(ModelRequest):
    prompt: str = Field(min_length=1)
    model: str = Field(default="dall-e-2", min_length=1)
    n: int = Field(default=1, ge=1, le=10)
    size: ImageSize = "1024x1024"
    response_format: Literal["url", "b64_json"] = "url"

    def prompt_text(self) -> str:
        return self.prompt


class EmbeddingRequest(ModelRequest):
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(default=None, ge=1, le=3072)
    encoding_format: Literal["float", "base64"] = "float"

    @field_validator("input")
    @classmethod
    def _not_empty(cls, value: str | list[Any]) -> str | list[Any]:
        # OpenAI rejects empty inputs ("'$.input' is invalid"), and at most 2048 inputs per request.
        items = [value] if isinstance(value, str) else value
        if not items or any(len(item) == 0 for item in items if isinstance(item, str | list)):
            raise ValueError("input must be a non-empty string or a non-empty array of non-empty inputs")
        if len(items) > 2048:
            raise ValueError("at most 2048 inputs per request")
        return value

    def texts(self) -> list[str]:
        """Each input as text; token-id inputs become their ids separated by spaces."""
        if isinstance(self.input, str):
            return [self.input]
        items: list[Any] = list(self.input)
        if all(isinstance(item, int) for item in items):
            return [" ".join(map(str, items))]
        return [item if isinstance(item, str) else " ".join(map(str, item)) for item in items]

    def prompt_text(self) -> str:
        return "\n".join(self.texts())


Request = TypeVar("Request", bound=BaseModel)


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        message = f"We could not parse the JSON body of your request ({error}). The API expects JSON."
        raise SimulatedError(400, message) from None


def validate(schema: type[Request], payload: Any) -> Request:
    """`payload` as `schema`, or the first problem as an OpenAI-style 400 naming the parameter."""
    try:
        return schema.model_validate(payload, strict=True)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        param = _param_name(problem["loc"])
        if problem["type"] == "missing":
            raise SimulatedError(
                400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
            ) from None
        if not param:
            message = "The request body must be a JSON object."
            raise SimulatedError(400, message, code="invalid_type") from None
        code = "invalid_type" if problem["type"].endswith("_type") else "invalid_value"
        reason = problem["msg"].removeprefix("Value error, ")
        message = f"Invalid value for '{param}': {reason}."
        raise SimulatedError(400, message, param=param, code=code) from None


_UNION_MEMBER_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def _param_name(location: tuple[int | str, ...]) -> str:
    """Pydantic's error location as OpenAI writes it: `messages[0].role`."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not name:
            name = part
        elif part.isidentifier() and part.islower() and part not in _UNION_MEMBER_TAGS:
            name += f".{part}"
        # Other parts ("list[int]", "str", "ContentPart") name the union member that failed: skip them.
    return name
