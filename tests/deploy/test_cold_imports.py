"""Cold start: what each deployed function must NOT import before its first request.

The heavy parts are loaded on first use only: the QStash SDK (and PyJWT) when a job is published or a
callback verified, numpy and the embedder on the first semantic lookup, Mangum on the first Lambda
invocation; pydantic never (request bodies are msgspec Structs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.conftest import BASE_ENV

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "qstash", "jwt", "numpy", "wordllama", "mangum", "uvicorn")
_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("entry", {path!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("function", ["generate", "callback", "result", "stats", "report", "openapi"])
def test_entry_imports_nothing_heavy_it_does_not_need(function: str) -> None:
    script = _PROBE.format(path=str(REPO / "api" / f"{function}.py"), heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", **BASE_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    imported = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not imported, f"api/{function}.py imports {sorted(imported)} at cold start"
