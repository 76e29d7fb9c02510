"""Pairwise squared distances, in the clear and on shares (spec/05-distances.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from sbrml.core.channel import Channel
from sbrml.core.errors import ShapeError, shown
from sbrml.core.params import pairs
from sbrml.reference.beaver import (
    MASK,
    GramShares,
    Matrix,
    SquareShares,
    Vector,
    beaver_gram,
    beaver_square,
)
from sbrml.reference.ring import ring_sub


def finite_double(v: float) -> bool:
    """A finite double; an int beyond the float range is not one (the optimized tree cannot
    hold it as float64 either), rather than an OverflowError from math.isfinite."""
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def check_matrix(function: str, parameter: str, x: Sequence[Sequence[float]]) -> tuple[int, int]:
    """Implements D6.1's data check: a non-empty n x d matrix of finite reals; returns (n, d)."""
    if len(x) == 0:
        raise ShapeError(function, parameter, "at least one row", "D6.1", "0 rows")
    d = len(x[0])
    if d == 0:
        raise ShapeError(function, parameter, "rows of length d >= 1", "D6.1", "d=0")
    for i, row in enumerate(x):
        if len(row) != d:
            raise ShapeError(
                function, f"{parameter}[{i}]", f"length d={d}", "D6.1", f"length {len(row)}"
            )
        for k, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int | float) or not finite_double(v):
                raise ShapeError(
                    function, f"{parameter}[{i}][{k}]", "a finite real", "D6.1", shown(v)
                )
    return len(x), d


def sq_distances(x: Sequence[Sequence[float]]) -> list[list[Fraction]]:
    """Implements D5.1 exactly: D_ij = ||x_i - x_j||^2 as rationals (floats are dyadic)."""
    n, _ = check_matrix("sq_distances", "x", x)
    # Put every coordinate over one power-of-two denominator so that the sums are int sums.
    ratios = [[float(v).as_integer_ratio() for v in row] for row in x]
    denom = max(den for row in ratios for _, den in row)
    ints = [[num * (denom // den) for num, den in row] for row in ratios]
    out = [[Fraction(0)] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            value = Fraction(
                sum((a - b) ** 2 for a, b in zip(ints[i], ints[j], strict=True)), denom * denom
            )
            out[i][j] = out[j][i] = value
    return out


def distances_from_gram(g: Matrix) -> Matrix:
    """Implements P5.1 step 2 (local): D_ij = G_ii + G_jj - 2 G_ij in Z_2^64."""
    n = len(g)
    return [[(g[i][i] + g[j][j] - 2 * g[i][j]) & MASK for j in range(n)] for i in range(n)]


def restrict_square_pairs(
    material: tuple[SquareShares, SquareShares], n: int, d: int, rows: Sequence[int]
) -> tuple[SquareShares, SquareShares]:
    """C4.5: the square pairs of the pairs among ``rows``, from material made for all n workers."""
    offset = {pair: k for k, pair in enumerate(pairs(n))}
    keep = [offset[(rows[a], rows[b])] for a, b in pairs(len(rows))]
    out = []
    for m in material:
        a = [v for k in keep for v in m.a[k * d : (k + 1) * d]]
        b = [v for k in keep for v in m.b[k * d : (k + 1) * d]]
        out.append(SquareShares(a, b))
    return out[0], out[1]


def secure_sq_distances_gram(
    x: tuple[Matrix, Matrix], triple: tuple[GramShares, GramShares], *, channel: Channel
) -> tuple[Matrix, Matrix]:
    """Implements P5.1: D from one Beaver Gram product G = X X^T (P4.4).

    1. The servers run P4.4 on their shares of X to get shares of G.
    2. S_s computes D^s_ij = G^s_ii + G^s_jj - 2 G^s_ij locally.
    """
    g0, g1 = beaver_gram(x, triple, channel=channel)
    return distances_from_gram(g0), distances_from_gram(g1)


def secure_sq_distances_pairwise(
    x: tuple[Matrix, Matrix], squares: tuple[SquareShares, SquareShares], *, channel: Channel
) -> tuple[Matrix, Matrix]:
    """Implements P5.2: D from one Beaver square per coordinate and pair, as in He et al.

    1. S_s computes delta^s_ij = x^s_i - x^s_j for every pair i < j (lexicographic order).
    2. The servers run P4.3 on the concatenated differences to get shares of delta^2.
    3. S_s sums each pair's squares: D^s_ij = D^s_ji = sum_k (delta^2)^s_ij,k; D^s_ii = 0.
    """
    n = len(x[0])
    d = len(x[0][0]) if n else 0
    plist = pairs(n)
    deltas: list[Vector] = [[], []]
    for s in (0, 1):
        for i, j in plist:
            deltas[s].extend(ring_sub(x[s][i], x[s][j]))
    sq0, sq1 = beaver_square((deltas[0], deltas[1]), squares, channel=channel)
    out = []
    for sq in (sq0, sq1):
        dmat = [[0] * n for _ in range(n)]
        for k, (i, j) in enumerate(plist):
            dmat[i][j] = dmat[j][i] = sum(sq[k * d : (k + 1) * d]) & MASK
        out.append(dmat)
    return out[0], out[1]
