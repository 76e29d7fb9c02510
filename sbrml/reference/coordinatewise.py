"""Mean and coordinate-wise robust rules (spec/09-coordinatewise.md).

Coordinate-wise rules look at each coordinate separately, so they are not invariant under
rotations and cannot run from distances alone (the secure round rejects them, C9.6).
The mean is the exception: its weights 1/n do not depend on the data at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sbrml.reference.distances import check_matrix, sq_distances
from sbrml.reference.rules import NeedsMajority, check_distance_matrix, check_f, need_workers


def columns(x: Sequence[Sequence[float]]) -> list[list[float]]:
    """The coordinates of x: columns[k][i] = x[i][k]."""
    return [list(col) for col in zip(*x, strict=True)]


def median(values: Sequence[float]) -> float:
    """Implements D9.2: the middle value, or the mean of the two middle values (n even)."""
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


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
        return [math.fsum(col) / n for col in columns(x)]


class CoordinateMedian(NeedsMajority):
    """Coordinate-wise median (Yin et al., ICML 2018). Implements D9.2. Requires n > 2f."""

    name = "median"
    clause = "C9.1"

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        return [median(col) for col in columns(x)]


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
        return [math.fsum(sorted(col)[self.f : n - self.f]) / kept for col in columns(x)]


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
        out = []
        for col in columns(x):
            med = median(col)
            nearest = sorted(range(n), key=lambda i: (abs(col[i] - med), i))[: n - self.f]
            out.append(math.fsum(col[i] for i in nearest) / (n - self.f))
        return out


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
        remaining = list(range(n))
        chosen: list[int] = []
        for _ in range(n - 2 * self.f):
            keep = max(1, len(remaining) - self.f - 2)
            scores = {
                i: sum(sorted(d[i][j] for j in remaining if j != i)[:keep], start=0)
                for i in remaining
            }
            best = min(remaining, key=lambda i: (scores[i], i))
            chosen.append(best)
            remaining.remove(best)
        return chosen

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        check_matrix(self.name, "x", x)
        chosen = self.select(sq_distances(x))
        beta = len(chosen) - 2 * self.f
        out = []
        for k in range(len(x[0])):
            col = [x[i][k] for i in chosen]
            med = median(col)
            nearest = sorted(range(len(col)), key=lambda a: (abs(col[a] - med), a))[:beta]
            out.append(math.fsum(col[a] for a in nearest) / beta)
        return out
