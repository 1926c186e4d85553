"""Printing benchmark timings: p50, p99 and each p50 as a multiple of a baseline's, one row a probe."""

from __future__ import annotations

import statistics


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_timings(
    title: str, timings: dict[str, list[float]], *, baseline: str, column: str = "probe"
) -> None:
    """`timings` in ms by probe name; ratios are against the p50 of `baseline`."""
    base_p50 = statistics.median(timings[baseline])
    width = max(len(column), *(len(name) for name in timings)) + 2
    print(title)
    print(f"{column:<{width}}{'p50 ms':>9}{'p99 ms':>9}{'p50 / ' + baseline[:12]:>22}")
    for name, values in timings.items():
        p50 = statistics.median(values)
        print(f"{name:<{width}}{p50:>9.3f}{percentile(values, 0.99):>9.3f}{p50 / base_p50:>21.2f}x")
