"""Guard time per candidate, lexical rules alone and with the meaning check, side by side:
`python -m llmedge.semantic.guard_bench [--data FILE.jsonl]`.

Every prompt of the data file (paraphrases, hard negatives, unrelated) is judged against its group's seed
by both guards, interleaved per pair so that machine noise hits both alike, with the prompt analysis
cache cleared before each call (a lookup's query is always new text). Prints p50/p90/p99 per candidate
for all pairs and for the pairs the meaning check actually judged, and how many those were.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llmedge.bench.report import percentile
from llmedge.semantic.embedders import WordLlamaEmbedder
from llmedge.semantic.evaluation import load_groups
from llmedge.semantic.guards import NearMissGuard
from llmedge.semantic.meaning import MeaningCheck
from llmedge.semantic.text import analyse

if TYPE_CHECKING:
    from llmedge.semantic.embedders import Vectors

DEFAULT_DATA = Path(__file__).resolve().parents[4] / "shared" / "data" / "semantic_dev.jsonl"


def _pairs(path: Path) -> list[tuple[str, str]]:
    return [
        (group.seed, query)
        for group in load_groups(path)
        for query in (*group.paraphrases, *group.hard_negatives, group.unrelated)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    from llmedge.semantic.minilm import MiniLMEmbedder

    encoder = MiniLMEmbedder()
    encodings = 0

    def encode(texts: Sequence[str]) -> Vectors:  # one call per judgement
        nonlocal encodings
        encodings += 1
        return encoder.embed_now(texts)

    word_similarity = WordLlamaEmbedder().word_similarity
    guards = {"lexical": NearMissGuard(word_similarity=word_similarity)}
    guards["with meaning check"] = NearMissGuard(
        word_similarity=word_similarity, meaning=MeaningCheck(encode)
    )
    start = time.perf_counter()
    guards["lexical"].veto("warm up the word vectors", "once")
    encode(["and the encoder"])
    warm_up = (time.perf_counter() - start) * 1000

    times: dict[str, list[float]] = {name: [] for name in guards}
    judged: dict[str, list[float]] = {name: [] for name in guards}
    for stored, query in _pairs(args.data):
        before = encodings
        for name, guard in guards.items():
            analyse.cache_clear()
            start = time.perf_counter()
            guard.veto(stored, query)
            times[name].append((time.perf_counter() - start) * 1000)
        if encodings > before:
            for name in guards:
                judged[name].append(times[name][-1])

    print(f"{len(times['lexical'])} (stored, query) pairs; warm-up (word vectors, MiniLM) {warm_up:.0f} ms")
    print(f"the meaning check judged {len(judged['lexical'])} of them")
    print("| guard | pairs | p50 ms | p90 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for subset, label in ((times, "all"), (judged, "judged")):
        for name, values in subset.items():
            if values:
                print(
                    f"| {name} | {label} | {percentile(values, 0.5):.2f} | {percentile(values, 0.9):.2f} "
                    f"| {percentile(values, 0.99):.2f} |"
                )


if __name__ == "__main__":
    main()
