"""The stats report's arithmetic: hit rates, refusals from the limits' counters, latency percentiles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from llmedge.stats import LATENCY_BUCKETS_MS, Usage, dollars, latency_bucket, percentile, price_label
from llmedge.stats_report import summarize


def test_empty_stats_have_no_rates_rather_than_zero() -> None:
    report = summarize({}, {}, {})
    assert report["hit_rate"] == {"exact": None, "semantic": None, "total": None}
    assert report["requests"]["total"] == 0
    assert report["dollars"] == {"saved": 0.0, "billed": 0.0}
    assert report["refused"] == {"total": 0, "by_limit": {}, "by_tier": {}, "source": "gateway"}


def test_hit_rates_count_lookups_only_not_bypass_or_refusals() -> None:
    raw = {
        "count:exact_hit:m": "3",
        "count:semantic_hit:m": "1",
        "count:miss:m": "4",
        "count:joined:m": "2",
        "count:bypass:m": "7",
        "count:refused:m": "9",
    }
    report = summarize(raw, {}, {})
    assert report["hit_rate"] == {"exact": 0.3, "semantic": 0.1, "total": 0.4}
    assert report["requests"]["total"] == 26


def test_refusals_come_from_the_limits_counters_when_present() -> None:
    raw = {"refused:requests:free": "1"}
    limits = {
        "denied": {"free": {"requests": 5, "all": 6, "tokens": 1}, "pro": {"in_flight": 2, "all": 2}},
        "admitted": {"free": {"all": 100}},
    }
    refused = summarize(raw, limits, {})["refused"]
    assert refused == {
        "total": 8,
        "by_limit": {"in_flight": 2, "requests": 5, "tokens": 1},
        "by_tier": {"free": 6, "pro": 2},
        "source": "limits",
    }


def test_refusals_fall_back_to_the_gateways_events() -> None:
    raw = {"refused:requests:free": "2", "refused:tokens:pro": "1"}
    refused = summarize(raw, {}, {})["refused"]
    assert refused == {
        "total": 3,
        "by_limit": {"requests": 2, "tokens": 1},
        "by_tier": {"free": 2, "pro": 1},
        "source": "gateway",
    }


def test_a_model_label_with_colons_is_kept_whole() -> None:
    report = summarize({"count:miss:org:model:v2": "1"}, {}, {})
    assert list(report["models"]) == ["org:model:v2"]


def test_percentiles_are_the_upper_bound_of_the_bucket_holding_the_quantile() -> None:
    histogram = {1.0: 50, 5.0: 45, 100.0: 4, 900_000.0: 1}
    assert percentile(histogram, 0.50) == 1.0
    assert percentile(histogram, 0.51) == 5.0
    assert percentile(histogram, 0.95) == 5.0
    assert percentile(histogram, 0.99) == 100.0
    assert percentile({}, 0.5) is None


def test_latency_report_per_outcome() -> None:
    raw = {"latency:exact_hit:1": "98", "latency:exact_hit:3": "1", "latency:exact_hit:50": "1"}
    latency = summarize(raw, {}, {})["latency_ms"]["exact_hit"]
    assert latency == {"count": 100, "p50": 1.0, "p95": 1.0, "p99": 3.0}


@pytest.mark.parametrize(
    ("latency_ms", "bucket"), [(0.1, 0.5), (1.0, 1.0), (1.01, 1.5), (42, 50), (10**9, LATENCY_BUCKETS_MS[-1])]
)
def test_latency_buckets(latency_ms: float, bucket: float) -> None:
    assert latency_bucket(latency_ms) == bucket


def test_dollars_are_exact_decimal_arithmetic() -> None:
    # In floats 3 × 0.1 is 0.30000000000000004; the report must say 0.3.
    assert dollars(Usage(3_000_000, 0), {"input": 0.1, "output": 0}) == Decimal("0.3")
    assert str(dollars(Usage(1, 1), {"input": 0.15, "output": 0.6})) == "7.5E-7"


def test_price_labels() -> None:
    prices = {"gpt-4o": {"input": 1.0}, "gpt-4o-mini": {"input": 1.0}}
    assert price_label("gpt-4o-mini", prices) == "gpt-4o-mini"
    assert price_label("gpt-4o-2024-08-06", prices) == "gpt-4o"
    assert price_label("gpt-4o-audio-preview", prices) == "other"  # not a dated snapshot: not guessed
