"""Clipping a vector to a norm, min(1, t/||r||) r: what D10.6, D11.4, D11.5 and D17.1 share.

Every clipping of the library goes through these helpers, so that in floating point each
one (C6.9):

- measures the vector's own norm, not the square root of squares that under- or overflowed;
- keeps the factor 1 within the threshold and never divides by a zero or tiny norm;
- clips a vector whose norm is beyond the float maximum, or a difference x_i - v that
  overflows, to the threshold in its own direction. That direction does not change with
  scale, so it is computed on the vectors scaled by a power of two; scaling the threshold
  instead would underflow it (c = 1e-300 beside a norm of 2^1024 gave a zero row);
- multiplies by the direction, not by threshold / norm, where that quotient is below the
  smallest normal float (c = 1e-300 beside a norm of 1e154 gave a zero row).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

TRUSTED_SQUARES = 2.0**-969  # a sum of squares below it may have lost squares below 2^-1022


def row_norm(row: Sequence[float]) -> float:
    """||row||: sqrt of the exact sum of squares, or math.hypot when the squares under- or
    overflowed (rows below about 1e-146 or above 1e154), so a clip is never skipped or zeroed.

    inf when the norm itself is beyond the float range.
    """
    try:
        total = math.fsum(v * v for v in row)
    except OverflowError:  # finite squares whose partial sums leave the range (1e154 twice)
        total = math.inf
    if TRUSTED_SQUARES <= total < math.inf:
        return math.sqrt(total)
    return math.hypot(*row)


def scaled_by(row: Sequence[float], scale: float) -> list[float]:
    """scale * row (scale in [0, 1])."""
    return [scale * v for v in row]


def difference(row: Sequence[float], center: Sequence[float] | None) -> list[float]:
    """row - center as floats (row itself when center is None); an entry may overflow."""
    if center is None:
        return [float(v) for v in row]
    return [a - b for a, b in zip(row, center, strict=True)]


def direction(row: Sequence[float], center: Sequence[float] | None = None) -> list[float]:
    """r / ||r|| for a nonzero r = row - center (center None: r = row).

    A norm beyond the float range (C6.9), or an r that overflowed (row and center finite,
    their difference not), is handled on 2^-s row - 2^-s center, 2^s the power of two above
    twice their largest entry: no entry of the scaled difference overflows and
    ||2^-s r|| >= 2^1024 / 2^1025 = 1/2, so its norm and the quotients are accurate. Entries
    below 2^(s-1074) are lost in the scaling, more than 50 bits below the largest.
    """
    r = difference(row, center)
    norm = row_norm(r)
    if norm < math.inf:
        return [v / norm for v in r]
    top = max(abs(v) for v in (*row, *(center or ())))
    shift = math.frexp(top)[1] + 1
    scaled = difference(
        [math.ldexp(v, -shift) for v in row],
        None if center is None else [math.ldexp(v, -shift) for v in center],
    )
    norm = row_norm(scaled)
    return [v / norm for v in scaled]


SMALLEST_NORMAL = sys.float_info.min  # 2^-1022: a smaller scale has lost bits or is 0


def clip_to(
    row: Sequence[float], threshold: float, center: Sequence[float] | None = None
) -> list[float]:
    """min(1, threshold / ||r||) r for r = row - center (center None: r = row); D10.6, D11.4.

    A zero r stays zero. Where threshold / ||r|| is below SMALLEST_NORMAL (a tiny threshold
    beside a large norm: the scale would lose bits or be 0) or ||r|| is beyond the float range
    (C6.9, including an r that overflowed), the result is threshold times r's ``direction``.
    """
    r = difference(row, center)
    norm = row_norm(r)
    if norm <= threshold:
        return r
    scale = threshold / norm
    if scale >= SMALLEST_NORMAL:
        return scaled_by(r, scale)
    return scaled_by(direction(row, center), threshold)


def comparable_norms(x: Sequence[Sequence[float]]) -> list[tuple[bool, float]]:
    """Keys that order the rows of x as their norms do, for ARC's choice (D11.5, C6.9).

    (False, ||x_i||) for a norm within the float range; (True, ||2^-s x_i||) for one beyond
    it, with one s for all such rows (the power of two above their largest entry, so each of
    these scaled norms is about 1 or more, and accurate). A row's own norm stays exact: scaling
    every row by one s would underflow the small norms ARC may clip to.
    """
    norms = [row_norm(row) for row in x]
    big = [i for i, v in enumerate(norms) if v == math.inf]
    if not big:
        return [(False, v) for v in norms]
    shift = math.frexp(max(abs(v) for i in big for v in x[i]))[1]
    keys = [(False, v) for v in norms]
    for i in big:
        keys[i] = (True, row_norm([math.ldexp(v, -shift) for v in x[i]]))
    return keys
