"""With semantic caching off the gateway's cold start must not change: no numpy, no model at import."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "wordllama", "tokenizers", "safetensors")


def test_importing_the_semantic_cache_loads_no_numpy_and_no_model() -> None:
    probe = (
        "import sys, llmedge.semantic.cache, llmedge.semantic.evaluation;"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
