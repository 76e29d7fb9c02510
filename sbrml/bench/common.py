"""What every benchmark table shares: the one timing helper, the synthetic updates, and f.

Every timed figure of ``make bench`` is ``median_time``'s: one warm-up call, then the median
wall time of ``repeat`` calls in this process. Nothing here asserts a speed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["bench_f", "elapsed", "median_time", "updates"]


def median_time(fn: Callable[[], Any], repeat: int, *, warm_up: int = 1) -> tuple[float, Any]:
    """Median wall time in seconds of ``repeat`` calls after ``warm_up`` untimed calls, and the
    last call's result.

    The first calls at a new size fault in fresh memory, which is slow on the project machine
    (transparent huge pages); the tables compare the warm cost and show the cold one apart.
    """
    result = None
    for _ in range(warm_up):
        result = fn()
    times = []
    for _ in range(repeat):
        seconds, result = elapsed(fn)
        times.append(seconds)
    return statistics.median(times), result


def elapsed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time in seconds of one call, without warm-up (key generation, cold runs), and its
    result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def updates(n: int, d: int, seed: int = 0) -> NDArray[np.float64]:
    """Synthetic updates (public benchmark data): N(0, 0.01^2) per coordinate."""
    return 0.01 * np.random.default_rng(seed).standard_normal((n, d))


def bench_f(n: int) -> int:
    """f = 2 at n = 9 as in the issue's example; the largest valid f below that otherwise."""
    return min(2, (n - 3) // 2)
