"""Honest numbers for small samples: proportions with Wilson's score interval, and medians.

A rate from 40 calls is not a rate from 4,000. Each proportion carries its 95 % interval
(Wilson's score interval, which stays inside 0..1 and behaves with few calls or a rate near 0
or 1), and the difference between two versions' rates carries Newcombe's interval built from
the two (his "method 10"): when it holds 0, the data cannot tell the versions apart.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Z95 = 1.959963984540054
"""The normal quantile of a two-sided 95 % interval."""


def wilson(hits: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of ``hits`` out of ``total`` (``(0, 1)`` for no data)."""
    if total <= 0:
        return 0.0, 1.0
    rate = hits / total
    denominator = 1 + z * z / total
    centre = (rate + z * z / (2 * total)) / denominator
    spread = z * math.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


@dataclass(frozen=True)
class Proportion:
    """``hits`` out of ``total``, with its 95 % Wilson interval."""

    hits: int
    total: int

    @property
    def rate(self) -> float:
        """The share (0 with no data)."""
        return self.hits / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % interval of the rate."""
        return wilson(self.hits, self.total)

    def as_json(self) -> dict[str, Any]:
        """The proportion for tools: counts, rate and interval."""
        low, high = self.interval
        return {
            "count": self.hits,
            "of": self.total,
            "rate": round(self.rate, 4),
            "low": round(low, 4),
            "high": round(high, 4),
        }


Verdict = Literal["higher", "lower", "no clear difference"]


@dataclass(frozen=True)
class Difference:
    """The difference of two rates (``a - b``) with its 95 % interval (Newcombe)."""

    a: Proportion
    b: Proportion

    @property
    def value(self) -> float:
        """``a``'s rate minus ``b``'s."""
        return self.a.rate - self.b.rate

    @property
    def interval(self) -> tuple[float, float]:
        """Newcombe's hybrid score interval of the difference."""
        l1, u1 = self.a.interval
        l2, u2 = self.b.interval
        p1, p2 = self.a.rate, self.b.rate
        d = p1 - p2
        low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
        return max(-1.0, low), min(1.0, high)

    @property
    def verdict(self) -> Verdict:
        """Whether ``a``'s rate is clearly higher, clearly lower, or cannot be told apart."""
        if not self.a.total or not self.b.total:
            return "no clear difference"
        low, high = self.interval
        if low > 0:
            return "higher"
        if high < 0:
            return "lower"
        return "no clear difference"

    def as_json(self) -> dict[str, Any]:
        """The difference for tools."""
        low, high = self.interval
        return {
            "difference": round(self.value, 4),
            "low": round(low, 4),
            "high": round(high, 4),
            "verdict": self.verdict,
        }


def median(values: Iterable[float]) -> float | None:
    """The median (``None`` for no values)."""
    found = list(values)
    return statistics.median(found) if found else None
