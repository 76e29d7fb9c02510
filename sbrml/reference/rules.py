"""Distance-based robust aggregation rules: Krum and Multi-Krum (spec/06-rules.md).

Each rule is a class: hyperparameters are checked in ``__init__`` (D6.1), data at the call.
The plaintext form ``rule(x)`` selects and averages directly; ``rule.weights(D)`` computes
the same selection from the squared-distance matrix alone, so that ``rule(x) ==
sum_i weights(D(x))_i x_i`` (C6.1) is a theorem the tests check rather than a tautology.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol

from sbrml.reference.distances import check_matrix, sq_distances
from sbrml.reference.errors import InsufficientWorkersError, ParameterError, ShapeError

Number = int | float | Fraction


class DistanceRule(Protocol):
    """Implements D6.1: a rule computable from pairwise squared distances alone."""

    name: str
    f: int

    def check_n(self, n: int, function: str = ...) -> None: ...

    # Each tree's rules take and return its own types (lists or arrays), hence Any here.
    def weights(self, d: Any) -> Any: ...

    def __call__(self, x: Any) -> Any: ...


def check_f(rule: str, f: int) -> None:
    """Implements C6.2: f is an int >= 0."""
    if isinstance(f, bool) or not isinstance(f, int) or f < 0:
        raise ParameterError(rule, "f", "an int f >= 0", "C6.2", repr(f))


def check_distance_matrix(function: str, d: Sequence[Sequence[Number]]) -> int:
    """Implements D6.2: D is square, symmetric, zero on the diagonal, finite and >= 0."""
    n = len(d)
    if n == 0:
        raise ShapeError(function, "D", "an n x n matrix with n >= 1", "D6.2", "0 rows")
    for i, row in enumerate(d):
        if len(row) != n:
            raise ShapeError(function, f"D[{i}]", f"length n={n}", "D6.2", f"length {len(row)}")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int | float | Fraction):
                raise ShapeError(function, f"D[{i}][{j}]", "a real number", "D6.2", repr(v))
            if (isinstance(v, float) and not math.isfinite(v)) or v < 0:
                raise ShapeError(function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", repr(v))
    for i in range(n):
        if d[i][i] != 0:
            raise ShapeError(function, f"D[{i}][{i}]", "a zero diagonal", "D6.2", repr(d[i][i]))
        for j in range(i + 1, n):
            if d[i][j] != d[j][i]:
                raise ShapeError(
                    function, f"D[{i}][{j}]", "D symmetric", "D6.2", f"{d[i][j]!r} vs {d[j][i]!r}"
                )
    return n


def krum_scores(d: Sequence[Sequence[Number]], f: int) -> list[Number]:
    """Implements D6.3: score(i) = sum of the n - f - 2 smallest D_ij over j != i."""
    n = len(d)
    keep = n - f - 2
    return [sum(sorted(d[i][j] for j in range(n) if j != i)[:keep], start=0) for i in range(n)]


def lowest(scores: Sequence[Number], m: int) -> list[int]:
    """Implements C6.4: the m indices of lowest score, ties broken by the lower index."""
    return sorted(range(len(scores)), key=lambda i: (scores[i], i))[:m]


class Krum:
    """Krum (Blanchard et al., NeurIPS 2017). Implements D6.3.

    score(i) = sum_{j in N_i} ||x_i - x_j||^2, where N_i holds the n - f - 2 indices
    j != i of smallest distance to x_i; the output is x_{i*} with i* the lowest score (ties:
    lowest index, C6.4). Requires n > 2f + 2 (C6.3).

    Args:
        f: the number of Byzantine workers tolerated, an int >= 0 (C6.2).
    """

    name = "krum"

    def __init__(self, f: int):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "krum") -> None:
        """Implements C6.3: n > 2f + 2."""
        if n <= 2 * self.f + 2:
            raise InsufficientWorkersError(
                function, "n", "n > 2f + 2", "C6.3", f"n={n}, f={self.f}"
            )

    def _select(self, d: Sequence[Sequence[Number]]) -> list[int]:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        return lowest(krum_scores(d, self.f), 1)

    def weights(self, d: Sequence[Sequence[Number]]) -> list[float]:
        """Implements D6.3 on distances: p = e_{i*}."""
        chosen = self._select(d)
        return [1.0 if i in chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]]) -> list[float]:
        """Implements D6.3 in the clear: returns a copy of x_{i*}."""
        check_matrix(self.name, "x", x)
        (chosen,) = self._select(sq_distances(x))
        return [float(v) for v in x[chosen]]


class MultiKrum(Krum):
    """Multi-Krum (El Mhamdi et al., ICML 2018). Implements D6.5.

    The output is the mean of the m vectors of lowest Krum score (D6.3, ties C6.4).
    Requires n > 2f + 2 (C6.3) and 1 <= m <= n (C6.5); m defaults to n - f, as in ByzFL.

    Args:
        f: the number of Byzantine workers tolerated, an int >= 0 (C6.2).
        m: how many vectors to average, an int >= 1, or None for n - f (C6.5).
    """

    name = "multikrum"

    def __init__(self, f: int, m: int | None = None):
        super().__init__(f)
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ParameterError(self.name, "m", "an int m >= 1 or None", "C6.5", repr(m))
        self.m = m

    def selected_count(self, n: int) -> int:
        """Implements C6.5: m, or n - f when m is None; m <= n."""
        m = n - self.f if self.m is None else self.m
        if m > n:
            raise ParameterError(self.name, "m", "m <= n", "C6.5", f"m={m}, n={n}")
        return m

    def _select(self, d: Sequence[Sequence[Number]]) -> list[int]:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        return lowest(krum_scores(d, self.f), self.selected_count(n))

    def weights(self, d: Sequence[Sequence[Number]]) -> list[float]:
        """Implements D6.5 on distances: p_i = 1/m on the selected indices."""
        chosen = set(self._select(d))
        share = 1.0 / len(chosen)
        return [share if i in chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]]) -> list[float]:
        """Implements D6.5 in the clear: the mean of the selected vectors (fsum per coordinate)."""
        check_matrix(self.name, "x", x)
        chosen = self._select(sq_distances(x))
        return [math.fsum(x[i][k] for i in chosen) / len(chosen) for k in range(len(x[0]))]


RULES: dict[str, type[Krum]] = {"krum": Krum, "multikrum": MultiKrum}
