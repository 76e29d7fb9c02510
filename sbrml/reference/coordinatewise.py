"""Mean and coordinate-wise robust rules (spec/09-coordinatewise.md).

Coordinate-wise rules look at each coordinate separately, so they are not invariant under
rotations and cannot run from distances alone (the secure round rejects them, C9.6).
The mean is the exception: its weights 1/n do not depend on the data at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sbrml.reference.distances import check_matrix, finite_double, sq_distances
from sbrml.reference.rules import (
    NeedsMajority,
    check_distance_matrix,
    check_f,
    choose_lowest,
    fsum_mean,
    is_float_matrix,
    krum_scores,
    need_workers,
)


def columns(x: Sequence[Sequence[float]]) -> list[list[float]]:
    """The coordinates of x: columns[k][i] = x[i][k]."""
    return [list(col) for col in zip(*x, strict=True)]


def half_sum(a: float, b: float) -> float:
    """(a + b) / 2, or a/2 + b/2 when a + b overflows (C9.7): the same double otherwise. Two
    ints (each a double's range, D6.1) may sum beyond it: finite_double, not math.isfinite,
    which would raise OverflowError on that int."""
    total = a + b
    return total / 2 if finite_double(total) else a / 2 + b / 2


def median(values: Sequence[float]) -> float:
    """Implements D9.2: the middle value, or the mean of the two middle values (n even)."""
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else half_sum(s[mid - 1], s[mid])


def gaps_to(values: Sequence[float], centre: float) -> list[float]:
    """|v - centre| for each value, compared in D9.4 and D9.5; when one of them overflows,
    all are taken halved, |v/2 - centre/2|, which orders them the same way (C9.7)."""
    gaps = [abs(v - centre) for v in values]
    if all(finite_double(g) for g in gaps):  # an int gap may exceed the float range
        return gaps
    return [abs(v / 2 - centre / 2) for v in values]


def mean_nearest(values: Sequence[float], keep: int) -> float:
    """The mean of the ``keep`` values closest to their median, ties to the lower position
    (C9.2); the sum correctly rounded and free of overflow (C9.7)."""
    gaps = gaps_to(values, median(values))
    nearest = sorted(range(len(values)), key=lambda i: (gaps[i], i))[:keep]
    return fsum_mean([values[i] for i in nearest], keep)


class Mean:
    """The arithmetic mean, (1/n) sum_i x_i: no robustness at all. Implements D9.1.

    Its weights are 1/n whatever D is, so it is a distance rule (the non-robust baseline of
    the secure round). ``f`` is accepted for a uniform interface and must be 0 <= f < n.
    """

    name = "mean"
    scale_invariant = True

    def __init__(self, f: int = 0):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "mean") -> None:
        """Implements D9.1: n >= 1 and f < n."""
        need_workers(self.name, function, n, self.f, "n > f", n > self.f, "D9.1")

    def weights(self, d: Sequence[Sequence[Any]], *, unit: int = 1, rng: Any = None) -> list[float]:
        """Implements D9.1 on distances: p_i = 1/n."""
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        return [1.0 / n] * n

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        """Implements D9.1: the coordinate-wise mean, each sum correctly rounded."""
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        return [fsum_mean(col, n) for col in columns(x)]


class CoordinateMedian(NeedsMajority):
    """Coordinate-wise median (Yin et al., ICML 2018). Implements D9.2. Requires n > 2f."""

    name = "median"
    clause = "C9.1"

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        # float(): the middle of an odd count of int entries is that int, and every rule
        # returns floats, as the optimized tree's float64 vector holds.
        return [float(median(col)) for col in columns(x)]


class TrimmedMean(NeedsMajority):
    """Coordinate-wise trimmed mean (Yin et al., ICML 2018). Implements D9.3.

    Per coordinate, drop the f largest and the f smallest values and average the rest.
    Requires n > 2f (C9.1).
    """

    name = "trimmed-mean"
    clause = "C9.1"

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        kept = n - 2 * self.f
        return [fsum_mean(sorted(col)[self.f : n - self.f], kept) for col in columns(x)]


class Meamed(NeedsMajority):
    """Mean around the median (Xie et al., 2018). Implements D9.4.

    Per coordinate, the mean of the n - f values closest to the coordinate median (ties: the
    lower worker index first, C9.2). Requires n > 2f (C9.1).
    """

    name = "meamed"
    clause = "C9.1"

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        return [mean_nearest(col, n - self.f) for col in columns(x)]


class Bulyan:
    """Bulyan (El Mhamdi, Guerraoui, Rouault, ICML 2018). Implements D9.5. Requires n >= 4f + 3.

    1. Select theta = n - 2f inputs by repeated Krum: on the remaining set R, score each
       input by the sum of its max(1, |R| - f - 2) smallest distances to the others in R,
       take the lowest score (ties: lowest index) and remove it from R (C9.3).
    2. Per coordinate, average the beta = theta - 2f selected values closest to the median of
       the selected values (ties: the earlier-selected value first).
    """

    name = "bulyan"

    def __init__(self, f: int = 0):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "bulyan") -> None:
        """Implements C9.4: n >= 4f + 3."""
        need_workers(self.name, function, n, self.f, "n >= 4f + 3", n >= 4 * self.f + 3, "C9.4")

    def select(self, d: Sequence[Sequence[Any]]) -> list[int]:
        """Step 1 (D9.5): the theta indices chosen by repeated Krum, in selection order."""
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        floats = is_float_matrix(d)
        remaining = list(range(n))
        chosen: list[int] = []
        for _ in range(n - 2 * self.f):
            # Krum's scores on the remaining set (D6.3 with max(1, |R| - f - 2) neighbours).
            sub = [[d[i][j] for j in remaining] for i in remaining]
            keep = max(1, len(remaining) - self.f - 2)
            scores = krum_scores(sub, len(remaining) - 1 - keep, 1) if len(sub) > 1 else [0]
            # remaining stays in increasing order, so its lowest position is the lowest index.
            best = remaining[choose_lowest(scores, 1, floats)[0]]
            chosen.append(best)
            remaining.remove(best)
        return chosen

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        check_matrix(self.name, "x", x)
        chosen = self.select(sq_distances(x))
        beta = len(chosen) - 2 * self.f
        return [mean_nearest([x[i][k] for i in chosen], beta) for k in range(len(x[0]))]
