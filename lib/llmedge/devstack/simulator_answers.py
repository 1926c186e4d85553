"""What the simulated model answers: pure functions of the request.

The same request always gets the same content and a different request a different one (the `[#digest]`
tag covers every field, so a changed temperature or seed changes the answer), which is what the gateway's
caches and tests need from an upstream. Ids and `created` vary per call, as they do at OpenAI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from llmedge.devstack.simulator_errors import SimulatedError
from llmedge.devstack.simulator_requests import ChatMessage, ChatRequest, EmbeddingRequest, ImageRequest

_PER_MESSAGE_TOKENS = 3  # OpenAI's chat format adds about 3 tokens around every message, 3 to prime the reply
_DEFAULT_DIMENSIONS = {"text-embedding-3-large": 3072}  # others (3-small, ada-002): 1536
_FIXED_DIMENSION_MODELS = {"text-embedding-ada-002"}  # "This model does not support specifying dimensions."
_WORD = re.compile(r"\w+")


def request_digest(payload: Any) -> str:
    """A stable hash of a JSON payload, independent of key order and whitespace."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def count_tokens(text: str) -> int:
    """About 4 tokens per 3 words: the usual rule of thumb for English with OpenAI's tokenizers."""
    return round(len(text.split()) * 4 / 3)


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    finish_reason: Literal["stop", "length"]


def complete(answer: str, token_limit: int | None) -> Completion:
    """`answer`, cut to fit `token_limit` as a model stops at max_tokens (reporting exactly the limit)."""
    tokens = count_tokens(answer)
    if token_limit is None or tokens <= token_limit:
        return Completion(answer, tokens, "stop")
    # The most words k with round(4k/3) <= limit: k < (limit + 1/2) * 3/4, never an integer here.
    kept = (2 * token_limit + 1) * 3 // 8
    return Completion(" ".join(answer.split()[:kept]), token_limit, "length")


def _question(messages: list[ChatMessage]) -> str:
    users = [message for message in messages if message.role == "user"]
    return (users or messages)[-1].text()


def chat_completion(request: ChatRequest, digest: str) -> dict[str, Any]:
    question = _question(request.messages)
    prompt_tokens = sum(count_tokens(m.text()) + _PER_MESSAGE_TOKENS for m in request.messages)
    prompt_tokens += _PER_MESSAGE_TOKENS
    choices, completion_tokens = [], 0
    for index in range(request.n):
        tag = digest if index == 0 else request_digest([digest, index])
        completion = complete(f"Simulated answer to: {question} [#{tag[:8]}]", request.token_limit())
        completion_tokens += completion.tokens
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": completion.text, "refusal": None},
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        )
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_llmedge_sim",
    }


def image_png(digest: str, size: str) -> bytes:
    """A solid-colour PNG of `size` ("WxH"), its colour taken from `digest` (hex)."""
    width, height = (int(side) for side in size.split("x"))
    raw = (b"\x00" + bytes.fromhex(digest[:6]) * width) * height  # filter byte 0, then RGB pixels, per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_generation(request: ImageRequest, digest: str, url_for: Callable[[str], str]) -> dict[str, Any]:
    """`url_for(file name)` is where the simulator serves an image it generated (see `image_png`)."""
    data = []
    for index in range(request.n):
        image_digest = request_digest([digest, index])[:16]
        if request.response_format == "b64_json":
            item = {"b64_json": base64.b64encode(image_png(image_digest, request.size)).decode()}
        else:
            item = {"url": url_for(f"{image_digest}-{request.size}.png")}
        data.append({**item, "revised_prompt": request.prompt})
    input_tokens = count_tokens(request.prompt)
    output_tokens = 272 * request.n  # gpt-image-1 bills a low-quality square image as 272 output tokens
    return {
        "created": int(time.time()),
        "data": data,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    }


def embedding_dimensions(request: EmbeddingRequest) -> int:
    if request.dimensions is None:
        return _DEFAULT_DIMENSIONS.get(request.model, 1536)
    if request.model in _FIXED_DIMENSION_MODELS:
        message = "This model does not support specifying dimensions."
        raise SimulatedError(400, message, param="dimensions", code="invalid_value")
    return request.dimensions


def embed(text: str, dimensions: int) -> np.ndarray:
    """A unit vector: the sum of one fixed random vector per word (feature hashing).

    Texts sharing most of their words get close vectors, so a semantic cache sees "What is the capital of
    France?" and "what is the capital of france" as near neighbours, as it would with a real embedder.
    """
    vector = np.zeros(dimensions)
    for word in _WORD.findall(text.lower()) or [text]:
        seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vector += np.random.default_rng(seed).standard_normal(dimensions)
    return vector / np.linalg.norm(vector)


def embeddings(request: EmbeddingRequest) -> dict[str, Any]:
    dimensions = embedding_dimensions(request)
    data = []
    for index, text in enumerate(request.texts()):
        vector = embed(text, dimensions)
        encoded: list[float] | str = (
            base64.b64encode(vector.astype("<f4").tobytes()).decode()
            if request.encoding_format == "base64"  # little-endian float32, as the openai SDK decodes it
            else vector.tolist()
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count_tokens(text) for text in request.texts())
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
