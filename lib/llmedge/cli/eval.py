"""`llmedge eval semantic --data FILE.jsonl [--json] [--threshold X] [--curve] [--protocol P]`.

Stores each seed through the real `SemanticCache` (official upstash-redis client) on the local stack
(or the Upstash named by UPSTASH_REDIS_REST_URL/TOKEN) and looks up the other prompts; prints
precision, hit rate and false-hit rates per protocol, by hard-negative type, and (with --curve) the
threshold-versus-precision-and-hit-rate table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmedge.cli import CommandError

if TYPE_CHECKING:
    from llmedge.semantic.embedders import LocalEmbedderName
    from llmedge.semantic.evaluation import Group

CURVE = [round(0.30 + 0.05 * step, 2) for step in range(14)]  # 0.30 … 0.95


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="measure the semantic cache on a labelled data set")
    kinds = parser.add_subparsers(dest="eval_kind", metavar="KIND", required=True)
    semantic = kinds.add_parser("semantic", help="precision and hit rate of the semantic cache")
    semantic.add_argument("--data", type=Path, required=True, help="JSONL groups (shared/data format)")
    semantic.add_argument("--json", action="store_true", help="print one JSON object")
    semantic.add_argument(
        "--threshold", type=float, help="similarity threshold (default: the calibrated one)"
    )
    semantic.add_argument(
        "--curve", action="store_true", help="also print threshold vs precision and hit rate"
    )
    semantic.add_argument(
        "--protocol", choices=("per-group", "full-cache", "both"), default="both", help="default: both"
    )
    semantic.add_argument(
        "--embedder", choices=("minilm", "wordllama"), default="wordllama", help="default: wordllama"
    )
    semantic.add_argument("--dim", type=int, choices=(64, 128, 256), help="WordLlama dimensions (default 64)")
    semantic.add_argument(
        "--meaning-check",
        action="store_true",
        help="also judge borderline hits with MiniLM (LLMEDGE_SEMANTIC_MEANING_CHECK)",
    )
    semantic.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llmedge.semantic.cache import DEFAULT_THRESHOLDS
    from llmedge.semantic.evaluation import load_groups

    if args.dim is not None and args.embedder != "wordllama":
        raise CommandError("--dim applies to --embedder wordllama only")
    threshold = DEFAULT_THRESHOLDS[args.embedder] if args.threshold is None else args.threshold
    if not 0.0 <= threshold <= 1.0:
        raise CommandError("--threshold must be between 0 and 1")
    try:
        groups = load_groups(args.data)
    except (OSError, ValueError) as error:
        raise CommandError(str(error)) from None
    report = asyncio.run(
        _evaluate(groups, threshold, args.protocol, args.embedder, args.dim, args.curve, args.meaning_check)
    )
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return 0


async def _evaluate(
    groups: list[Group],
    threshold: float,
    protocol: str,
    embedder: LocalEmbedderName,
    dim: int | None,
    with_curve: bool,
    meaning_check: bool,
) -> dict[str, Any]:
    from upstash_redis.asyncio import Redis

    from llmedge.semantic.cache import SemanticCache
    from llmedge.semantic.evaluation import curve, full_cache, measure, per_group, veto_counts
    from llmedge.semantic.local_stack import upstash_endpoint

    floor = min([threshold, *CURVE]) if with_curve else threshold
    report: dict[str, Any] = {"groups": len(groups), "threshold": threshold}
    with upstash_endpoint() as endpoint:
        async with Redis(endpoint.url, endpoint.token, rest_retries=0) as redis:
            cache = SemanticCache.local(
                redis, threshold=threshold, embedder=embedder, dim=dim, meaning_check=meaning_check
            )
            report["embedder"] = cache.embedder.name
            report["meaning_check"] = meaning_check
            runs = {"per_group": per_group, "full_cache": full_cache}
            for name, protocol_run in runs.items():
                if protocol not in ("both", name.replace("_", "-")):
                    continue
                observations = await protocol_run(cache, groups, floor=floor)
                section = measure(observations, threshold).as_dict()
                section["vetoes"] = veto_counts(observations, threshold)
                if with_curve:
                    section["curve"] = curve(observations, CURVE)
                report[name] = section
    # The headline figures are the per-group protocol's (the full-cache ones sit under "full_cache").
    headline = report.get("per_group") or report["full_cache"]
    for key in (
        "precision",
        "hit_rate",
        "hard_negative_false_hit_rate",
        "unrelated_false_hit_rate",
        "by_type",
    ):
        report[key] = headline[key]
    return report


def _text(report: dict[str, Any]) -> str:
    lines = [f"{report['groups']} groups, embedder {report['embedder']}, threshold {report['threshold']}"]
    for name in ("per_group", "full_cache"):
        section = report.get(name)
        if not section:
            continue
        lines += [
            "",
            f"{name.replace('_', '-')}: precision {section['precision']:.4f}  hit rate {section['hit_rate']:.4f}  "
            f"hard-negative false hits {section['hard_negative_false_hit_rate']:.4f}  "
            f"unrelated false hits {section['unrelated_false_hit_rate']:.4f}  "
            f"(wrong-seed paraphrase hits {section['wrong_paraphrase_hits']})",
            "  by type: "
            + ", ".join(f"{label} {t['hits']}/{t['total']}" for label, t in section["by_type"].items()),
            "  vetoes of the best candidate: " + json.dumps(section["vetoes"]),
        ]
        if "curve" in section:
            lines += [
                "",
                "  | threshold | precision | hit rate | hits | hard-neg FH | unrelated FH |",
                "  |---|---|---|---|---|---|",
            ]
            lines += [
                f"  | {row['threshold']:.2f} | {row['precision']:.4f} | {row['hit_rate']:.4f} | {row['hits']} "
                f"| {row['hard_negative_false_hit_rate']:.4f} | {row['unrelated_false_hit_rate']:.4f} |"
                for row in section["curve"]
            ]
    return "\n".join(lines)
