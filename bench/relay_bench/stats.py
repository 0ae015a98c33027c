"""Summaries of measured latencies."""

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencySummary:
    """Median, p99 and extremes of a series of latencies, in milliseconds."""

    count: int
    median_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> "LatencySummary":
        ordered = sorted(seconds)
        p99_index = min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))
        return cls(
            count=len(ordered),
            median_ms=statistics.median(ordered) * 1000,
            p99_ms=ordered[p99_index] * 1000,
            min_ms=ordered[0] * 1000,
            max_ms=ordered[-1] * 1000,
        )

    def row(self, name: str) -> str:
        return (f"| {name} | {self.count} | {self.median_ms:.1f} | {self.p99_ms:.1f} | "
                f"{self.min_ms:.1f} | {self.max_ms:.1f} |")
