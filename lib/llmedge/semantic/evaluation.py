"""Measure the semantic cache on a labelled set (format: `shared/data/README.md`), through the real cache.

Two protocols from that README:

- **per-group**: each group gets its own scope and namespace; only its seed is stored (with its own
  answer), then its 3 paraphrases (should hit the seed), 3 hard negatives and 1 unrelated prompt (any
  hit is wrong) are looked up.
- **full-cache**: every seed is stored in one scope; every other prompt is looked up; a paraphrase is
  right only when it gets its own group's seed.

Each lookup asks the cache for its most similar candidates down to a low floor with the guards' verdict
on each (`SemanticCache.judge`), so one pass yields the decision at every threshold: the first candidate
at or above the threshold that no guard vetoes, exactly what `lookup` returns at that threshold.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmedge.semantic.cache import SemanticCache

Kind = Literal["paraphrase", "hard_negative", "unrelated"]
_FIELDS = ("id", "seed", "paraphrases", "hard_negatives", "hard_negative_types", "unrelated")


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    seed: str
    paraphrases: tuple[str, ...]
    hard_negatives: tuple[str, ...]
    hard_negative_types: tuple[str, ...]
    unrelated: str
    domain: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    group: str
    kind: Kind
    label: str  # "paraphrase", "unrelated" or the hard negative's type
    text: str
    expected: str | None  # the entry a paraphrase should get
    candidates: tuple[tuple[str, float, str | None], ...]  # (entry id, similarity, veto), best first

    def decision(self, threshold: float) -> str | None:
        """The entry `lookup` would answer with at `threshold`, or None."""
        for entry_id, similarity, veto in self.candidates:
            if similarity >= threshold and veto is None:
                return entry_id
        return None


@dataclass
class Tally:
    total: int = 0
    hits: int = 0
    correct: int = 0

    def add(self, hit: bool, correct: bool) -> None:
        self.total += 1
        self.hits += hit
        self.correct += correct


@dataclass
class Metrics:
    threshold: float
    by_label: dict[str, Tally] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        kinds = {kind: Tally() for kind in ("paraphrase", "hard_negative", "unrelated")}
        for label, tally in self.by_label.items():
            kind = kinds[label if label in ("paraphrase", "unrelated") else "hard_negative"]
            kind.total += tally.total
            kind.hits += tally.hits
            kind.correct += tally.correct
        paraphrase, hard, unrelated = kinds["paraphrase"], kinds["hard_negative"], kinds["unrelated"]
        hits = paraphrase.hits + hard.hits + unrelated.hits
        return {
            "threshold": self.threshold,
            "precision": _ratio(paraphrase.correct, hits, empty=1.0),
            "hit_rate": _ratio(paraphrase.correct, paraphrase.total),
            "wrong_paraphrase_hits": paraphrase.hits - paraphrase.correct,
            "hard_negative_false_hit_rate": _ratio(hard.hits, hard.total),
            "unrelated_false_hit_rate": _ratio(unrelated.hits, unrelated.total),
            "hits": hits,
            "by_type": {
                label: {"total": t.total, "hits": t.hits, "correct": t.correct}
                for label, t in sorted(self.by_label.items())
            },
        }


def _ratio(part: int, whole: int, empty: float = 0.0) -> float:
    return round(part / whole, 4) if whole else empty


def load_groups(path: Path) -> list[Group]:
    """Read a JSONL data file; ValueError naming the line for anything malformed."""
    groups = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            missing = [name for name in _FIELDS if name not in record]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            if len(record["hard_negatives"]) != len(record["hard_negative_types"]):
                raise ValueError("hard_negatives and hard_negative_types differ in length")
            groups.append(
                Group(
                    id=str(record["id"]),
                    seed=str(record["seed"]),
                    paraphrases=tuple(map(str, record["paraphrases"])),
                    hard_negatives=tuple(map(str, record["hard_negatives"])),
                    hard_negative_types=tuple(map(str, record["hard_negative_types"])),
                    unrelated=str(record["unrelated"]),
                    domain=str(record.get("domain", "")),
                )
            )
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}:{number}: {error}") from None
    if not groups:
        raise ValueError(f"{path}: no groups")
    return groups


def _queries(group: Group) -> list[tuple[Kind, str, str]]:
    return [
        *(("paraphrase", "paraphrase", text) for text in group.paraphrases),
        *(
            ("hard_negative", label, text)
            for text, label in zip(group.hard_negatives, group.hard_negative_types, strict=True)
        ),
        ("unrelated", "unrelated", group.unrelated),
    ]


async def _observe(
    cache: SemanticCache, scope: str, group: Group, seed_entry: str, floor: float
) -> list[Observation]:
    observations = []
    for kind, label, text in _queries(group):
        judged = await cache.judge(scope, text, floor=floor)
        candidates = tuple((j.candidate.entry_id, j.candidate.similarity, j.veto) for j in judged)
        expected = seed_entry if kind == "paraphrase" else None
        observations.append(Observation(group.id, kind, label, text, expected, candidates))
    return observations


async def per_group(cache: SemanticCache, groups: list[Group], *, floor: float) -> list[Observation]:
    """Each group alone in its own scope and namespace; the namespaces are purged afterwards."""
    run = secrets.token_hex(4)
    observations: list[Observation] = []
    for group in groups:
        scope = namespace = f"eval-{run}-{group.id}"
        seed_entry = await cache.store(
            scope, group.seed, f"answer to {group.id}", ttl=3600, namespace=namespace, model="eval"
        )
        observations += await _observe(cache, scope, group, seed_entry, floor)
        await cache.purge(namespace=namespace)
    return observations


async def full_cache(cache: SemanticCache, groups: list[Group], *, floor: float) -> list[Observation]:
    """Every seed in one scope; every other prompt looked up against all of them."""
    run = secrets.token_hex(4)
    scope = namespace = f"eval-{run}-all"
    seeds = {
        group.id: await cache.store(
            scope, group.seed, f"answer to {group.id}", ttl=3600, namespace=namespace, model="eval"
        )
        for group in groups
    }
    observations: list[Observation] = []
    for group in groups:
        observations += await _observe(cache, scope, group, seeds[group.id], floor)
    await cache.purge(namespace=namespace)
    return observations


def measure(observations: list[Observation], threshold: float) -> Metrics:
    metrics = Metrics(threshold)
    for observation in observations:
        decision = observation.decision(threshold)
        tally = metrics.by_label.setdefault(observation.label, Tally())
        tally.add(decision is not None, decision is not None and decision == observation.expected)
    return metrics


def curve(observations: list[Observation], thresholds: list[float]) -> list[dict[str, Any]]:
    rows = []
    for threshold in thresholds:
        summary = measure(observations, threshold).as_dict()
        rows.append(
            {
                key: summary[key]
                for key in (
                    "threshold",
                    "precision",
                    "hit_rate",
                    "hits",
                    "hard_negative_false_hit_rate",
                    "unrelated_false_hit_rate",
                )
            }
        )
    return rows


def veto_counts(observations: list[Observation], threshold: float) -> dict[str, dict[str, int]]:
    """Why candidates above the threshold were refused, by kind of query: which guards do the work."""
    counts: dict[str, Counter[str]] = {}
    for observation in observations:
        for _, similarity, veto in observation.candidates[:1]:
            if similarity >= threshold and veto is not None:
                counts.setdefault(observation.kind, Counter())[veto] += 1
    return {kind: dict(counter.most_common()) for kind, counter in sorted(counts.items())}
