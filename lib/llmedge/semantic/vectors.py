"""Compact vectors and their locality-sensitive hashes.

**Storage.** A unit vector is scaled so its largest coordinate is ±47, rounded, and each coordinate is
stored as one printable ASCII character (`chr(q + 79)`, 32…126): one byte per dimension, valid UTF-8,
so it passes through the REST API's JSON untouched (the SDK decodes every string reply as UTF-8, and
JSON strings cannot carry raw bytes). Cosine is scale-free, so the Lua scorer only needs the integer
dot product and the stored norm. At 64 dimensions the quantised cosine is within about 0.01 of
the float one.

**Hashing.** Random-hyperplane LSH (Charikar 2002): `tables` tables of `bits` sign bits each. Two
vectors at angle θ agree on one bit with probability 1 − θ/π, so near vectors share buckets. A lookup
also probes, per table, the buckets one bit-flip away, least certain bits first (multi-probe LSH, Lv et
al. 2007): recall of a much larger table count at a fraction of the memory. The hyperplanes come from
`numpy.random.RandomState(seed)`, whose stream NumPy keeps stable across releases, so every process
hashes alike.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_LEVELS = 47  # ±47 around 79 stays inside printable ASCII (32…126)
_ZERO = 79


def encode(vector: npt.NDArray[np.float32]) -> tuple[str, float]:
    """(one printable character per dimension, the norm of the quantised vector)."""
    import numpy as np

    peak = float(np.max(np.abs(vector))) or 1.0
    quantised = np.rint(vector * (_LEVELS / peak)).astype(np.int64)
    norm = round(float(np.sqrt(float(quantised @ quantised))), 4) or 1.0
    return (quantised + _ZERO).astype(np.uint8).tobytes().decode("ascii"), norm


def decode(text: str) -> npt.NDArray[np.float32]:
    """The quantised vector back as floats (unit length), for brute-force checks and benchmarks."""
    import numpy as np

    quantised = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.float32) - _ZERO
    return quantised / (np.linalg.norm(quantised) or 1.0)


class HyperplaneLSH:
    """Bucket names for a vector: `"<table>.<code>"`, the code in base 36."""

    def __init__(self, dimensions: int, tables: int = 32, bits: int = 13, seed: int = 20240611) -> None:
        if not 1 <= bits <= 30:
            raise ValueError("bits must be between 1 and 30")
        self.dimensions = dimensions
        self.tables = tables
        self.bits = bits
        self.seed = seed

    @cached_property
    def _planes(self) -> npt.NDArray[np.float64]:
        import numpy as np

        return np.random.RandomState(self.seed).standard_normal((self.tables * self.bits, self.dimensions))

    @property
    def tag(self) -> str:
        """Changes whenever bucket names would: part of the index's key prefix."""
        return f"lsh{self.tables}x{self.bits}s{self.seed}"

    def _projections(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        import numpy as np

        return (self._planes @ vector.astype(np.float64)).reshape(self.tables, self.bits)

    def buckets(self, vector: npt.NDArray[np.float32]) -> list[str]:
        """The one bucket per table that `vector` is stored in."""
        import numpy as np

        weights = 1 << np.arange(self.bits, dtype=np.int64)
        codes = (self._projections(vector) > 0).astype(np.int64) @ weights
        return [f"{table}.{_base36(int(code))}" for table, code in enumerate(codes)]

    def probes(self, vector: npt.NDArray[np.float32], flips: int) -> list[str]:
        """Buckets to read, in the order worth reading: every table's own bucket, then each table's
        bucket with its least certain bit flipped, then its second least certain, up to `flips`."""
        import numpy as np

        projections = self._projections(vector)
        weights = 1 << np.arange(self.bits, dtype=np.int64)
        codes = (projections > 0).astype(np.int64) @ weights
        doubt = np.argsort(np.abs(projections), axis=1)  # least certain bits first
        names = [f"{table}.{_base36(int(code))}" for table, code in enumerate(codes)]
        for rank in range(min(flips, self.bits)):
            for table in range(self.tables):
                flipped = int(codes[table]) ^ (1 << int(doubt[table, rank]))
                names.append(f"{table}.{_base36(flipped)}")
        return names


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
        if not number:
            return text
