"""Exact text → vector memo in front of an embedder, so no text is embedded twice by one instance.

In process, not in Redis: a warm serverless instance sees the same prompts again (a lookup, then the
store after the callback, retries, popular questions), and a Redis read would cost the round trip the
lookup budget cannot spare. For a remote embedder this also saves the paid API call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llmedge.semantic.embedders import Embedder

if TYPE_CHECKING:
    from llmedge.semantic.embedders import Vectors


class CachedEmbedder:
    """An `Embedder` that remembers the last `max_entries` texts it embedded (least recently used out)."""

    def __init__(self, inner: Embedder, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.inner = inner
        self._max_entries = max_entries
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self.misses = 0  # texts sent to the inner embedder, for tests and benchmarks

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    async def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        missing = list(dict.fromkeys(text for text in texts if text not in self._vectors))
        if missing:
            self.misses += len(missing)
            for text, vector in zip(missing, await self.inner.embed(missing), strict=True):
                self._vectors[text] = vector
        rows = []
        for text in texts:
            self._vectors.move_to_end(text)
            rows.append(self._vectors[text])
        while len(self._vectors) > self._max_entries:
            self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, self.dimensions), dtype=np.float32)
