"""Embedding time per query, local embedders side by side: `python -m llmedge.semantic.embedding_bench`.

Embeds each prompt of a data file (default: the development set's first paraphrases) alone, as a lookup
does, after one warm-up call; prints load time, p50/p90/p99 per query and the batch time per text, and
each embedder's p50 as a multiple of WordLlama's. Interleaved per prompt so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from llmedge.bench.report import percentile
from llmedge.semantic.embedders import LOCAL_EMBEDDERS, Embedder, local_embedder

DEFAULT_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "semantic_dev.jsonl"


def _prompts(path: Path) -> list[str]:
    return [
        json.loads(line)["paraphrases"][0] for line in path.read_text(encoding="utf-8").splitlines() if line
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    prompts = _prompts(args.data)
    embedders: dict[str, Embedder] = {name: local_embedder(name) for name in LOCAL_EMBEDDERS}
    loads: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in embedders}

    async def run() -> dict[str, float]:
        batches: dict[str, float] = {}
        for name, embedder in embedders.items():
            start = time.perf_counter()
            await embedder.embed(["warm up"])
            loads[name] = (time.perf_counter() - start) * 1000
        for prompt in prompts:
            for name, embedder in embedders.items():
                start = time.perf_counter()
                await embedder.embed([prompt])
                times[name].append((time.perf_counter() - start) * 1000)
        for name, embedder in embedders.items():
            start = time.perf_counter()
            await embedder.embed(prompts)
            batches[name] = (time.perf_counter() - start) * 1000 / len(prompts)
        return batches

    batches = asyncio.run(run())
    floor = percentile(times["wordllama"], 0.5)
    print(f"{len(prompts)} prompts, one per call")
    print("| embedder | load + first call ms | p50 ms | p90 ms | p99 ms | batch ms/text | p50 × wordllama |")
    print("|---|---|---|---|---|---|---|")
    for name, embedder in embedders.items():
        p50 = percentile(times[name], 0.5)
        print(
            f"| {embedder.name} | {loads[name]:.0f} | {p50:.2f} | {percentile(times[name], 0.9):.2f} "
            f"| {percentile(times[name], 0.99):.2f} | {batches[name]:.2f} | {p50 / floor:.0f} |"
        )


if __name__ == "__main__":
    main()
