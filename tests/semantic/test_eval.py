"""`llmedge eval semantic` end to end on a slice of the development set, on its own local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmedge.cli import main

DEV_SET = Path(__file__).resolve().parents[3] / "shared" / "data" / "semantic_dev.jsonl"


@pytest.fixture
def dev_slice(tmp_path: Path) -> Path:
    if not DEV_SET.exists():
        pytest.skip(f"development set not found at {DEV_SET}")
    path = tmp_path / "slice.jsonl"
    # Every tenth group: all ten domains, one group each.
    lines = DEV_SET.read_text(encoding="utf-8").splitlines()[::10]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_reports_precision_and_hit_rate_through_the_real_cache(
    dev_slice: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "semantic", "--data", str(dev_slice), "--json", "--curve"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["groups"] == 10
    for key in (
        "precision",
        "hit_rate",
        "hard_negative_false_hit_rate",
        "unrelated_false_hit_rate",
        "threshold",
    ):
        assert key in report
    # Sane floors, not the headline figures (those come from the whole file, in the README).
    assert report["precision"] >= 0.9
    assert report["hit_rate"] >= 0.05
    assert report["unrelated_false_hit_rate"] == 0.0
    per_group, full = report["per_group"], report["full_cache"]
    assert per_group["by_type"]["paraphrase"]["total"] == 30
    assert sum(t["total"] for label, t in full["by_type"].items() if label != "paraphrase") == 40
    thresholds = [row["threshold"] for row in per_group["curve"]]
    hit_rates = [row["hit_rate"] for row in per_group["curve"]]
    assert thresholds == sorted(thresholds) and hit_rates == sorted(hit_rates, reverse=True)


def test_eval_text_output_has_the_curve_table(dev_slice: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "semantic", "--data", str(dev_slice), "--curve", "--protocol", "per-group"]) == 0
    out = capsys.readouterr().out
    assert "per-group: precision" in out and "| threshold | precision | hit rate |" in out
    assert "full-cache" not in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "x1", "seed": "s"}\n', "slice.jsonl:1: missing paraphrases"),
        ("not json\n", "slice.jsonl:1:"),
        ("", "no groups"),
    ],
)
def test_eval_rejects_bad_data_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "slice.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["eval", "semantic", "--data", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_eval_rejects_a_missing_file_and_a_bad_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "semantic", "--data", str(tmp_path / "absent.jsonl")]) == 1
    assert "absent.jsonl" in capsys.readouterr().err
    assert main(["eval", "semantic", "--data", str(tmp_path / "absent.jsonl"), "--threshold", "2"]) == 1
    assert "--threshold must be between 0 and 1" in capsys.readouterr().err
