"""Embedders: WordLlama from the wheel with downloads off; the OpenAI-compatible client over MockTransport."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import numpy as np
import pytest

from llmedge.semantic.embedders import EmbeddingUnavailable, OpenAIEmbedder, WordLlamaEmbedder, _wordllama
from llmedge.semantic.embedding_cache import CachedEmbedder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: the model must load from the wheel."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    _wordllama.cache_clear()  # load for real inside the test, not from an earlier test's memo


@pytest.mark.parametrize("dim", [64, 256])
async def test_wordllama_loads_offline_and_ranks_paraphrases_first(no_network: None, dim: int) -> None:
    embedder = WordLlamaEmbedder(dim)
    vectors = await embedder.embed(
        ["how do I reverse a list in python", "python: reverse a list?", "what is the capital of Peru"]
    )
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.name == f"wordllama-l2_supercat-{dim}"


def test_wordllama_rejects_dimensions_it_does_not_ship() -> None:
    with pytest.raises(ValueError, match="64, 128 or 256"):
        WordLlamaEmbedder(100)


def _openai(handler: Any, **options: Any) -> tuple[OpenAIEmbedder, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    embedder = OpenAIEmbedder(client, base_url="https://api.example/v1/", api_key="sk-test", **options)
    return embedder, client


async def test_openai_embedder_sends_model_input_and_dimensions() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # Answer out of order: the client must put rows back by "index".
        data = [
            {"index": 1, "embedding": [0.0, 2.0, 0.0, 0.0]},
            {"index": 0, "embedding": [3.0, 0.0, 0.0, 4.0]},
        ]
        return httpx.Response(200, json={"data": data, "model": "m"})

    embedder, client = _openai(handler, model="text-embedding-3-small", dimensions=4)
    async with client:
        vectors = await embedder.embed(["first", "second"])
    request = seen[0]
    assert str(request.url) == "https://api.example/v1/embeddings"
    assert request.headers["Authorization"] == "Bearer sk-test"
    assert json.loads(request.content) == {
        "model": "text-embedding-3-small",
        "input": ["first", "second"],
        "dimensions": 4,
    }
    assert np.allclose(vectors, [[0.6, 0, 0, 0.8], [0, 1, 0, 0]])
    assert embedder.name == "openai-text-embedding-3-small-4"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {"error": "boom"}, "answered 500"),
        (200, {"unexpected": True}, "unexpected body"),
        (200, {"data": [{"index": 0, "embedding": [1.0, 0.0]}]}, "vectors of 4 dimensions"),
    ],
)
async def test_openai_embedder_failures_are_service_errors(status: int, body: Any, message: str) -> None:
    embedder, client = _openai(lambda request: httpx.Response(status, json=body), dimensions=4)
    async with client:
        with pytest.raises(EmbeddingUnavailable, match=message) as raised:
            await embedder.embed(["text"])
    assert raised.value.status == 503


async def test_openai_embedder_unreachable_is_a_service_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    embedder, client = _openai(handler, dimensions=4)
    async with client:
        with pytest.raises(EmbeddingUnavailable, match="unreachable"):
            await embedder.embed(["text"])


async def test_cached_embedder_embeds_each_text_once() -> None:
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        calls.append(texts)
        data = [{"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(texts)]
        return httpx.Response(200, json={"data": data})

    embedder, client = _openai(handler, dimensions=2)
    cached = CachedEmbedder(embedder, max_entries=2)
    async with client:
        first = await cached.embed(["aa", "b", "aa"])
        again = await cached.embed(["b", "aa"])
        await cached.embed(["ccc"])  # evicts the least recently used ("b")
        await cached.embed(["b"])
    assert calls == [["aa", "b"], ["ccc"], ["b"]]
    assert np.allclose(first[0], again[1]) and np.allclose(first[1], again[0])
    assert cached.misses == 4 and cached.name == embedder.name
