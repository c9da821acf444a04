"""Benchmarks: scripts that print figures (see README.md). Shared here: `summary_ms`, which
both environments import (the handoff store helpers are in `benchmarks.store`)."""

from __future__ import annotations

import statistics


def summary_ms(seconds: list[float]) -> str:
    """min / median / p95 / p99 / max of durations, in milliseconds."""
    ms = sorted(value * 1000 for value in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return (
        f"min {ms[0]:7.2f}  median {statistics.median(ms):7.2f}"
        f"  p95 {cuts[94]:7.2f}  p99 {cuts[98]:7.2f}  max {ms[-1]:7.2f} ms"
    )
