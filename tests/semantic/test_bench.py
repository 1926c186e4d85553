"""`llmedge.bench.semantic` runs end to end on both workloads and reports what it claims."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmedge.bench import semantic

GROUP = {
    "id": "b1",
    "seed": "python check if key exists in dict",
    "paraphrases": [
        "pyton - check if a key is present in a dictionary",
        "python: check whether a key exists in a dict",
    ],
    "hard_negatives": ["python check if value exists in dict"],
    "hard_negative_types": ["entity"],
    "unrelated": "how to write a unit test with pytest",
}


def test_bench_reads_large_scopes_through_buckets_in_one_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "dev.jsonl"
    data.write_text(json.dumps(GROUP) + "\n", encoding="utf-8")
    semantic.run(entries=(1200,), queries=8, data=data)  # above the 1000-entry exact-scan limit
    out = capsys.readouterr().out
    assert "real text: 1 seeds" in out
    measured = re.findall(
        r"(LSH buckets|exact scan|3000/15k) +lookup.*\n.*round trips ([\d.]+) .*candidates scored ([\d,]+)",
        out,
    )
    # Random vectors through the buckets, then the same scope scanned whole; real text through the
    # buckets with the default budget, then with the wide one.
    assert [(path, trips) for path, trips, _ in measured] == [
        ("LSH buckets", "1.00"),
        ("exact scan", "1.00"),
        ("LSH buckets", "1.00"),
        ("3000/15k", "1.00"),
    ]
    scored = [int(count.replace(",", "")) for _, _, count in measured]
    assert scored[0] <= 300 and scored[1] == 1200 and scored[2] <= 300 and scored[3] >= scored[2]
    assert re.search(r"cos 0\.95: 1\.000 of 2", out)  # a vector planted at 0.95 from its source is found
    assert "would-be hits found" in out
