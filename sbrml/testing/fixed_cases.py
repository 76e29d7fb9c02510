"""Inputs the checks run besides Hypothesis's: the largest sizes and exact ties (C6.4).

Part of the conformance kit's pytest helpers (needs ``sbrml[testing]``). Hypothesis favours
small matrices, and its choice sequence grows with every entry drawn, so an implementation
wrong only beyond some ``n`` or ``d`` could pass on Hypothesis's inputs alone; and the
differential checks skip inputs near a tie of the selection (C6.8), so C6.4's tie rule
(lower index first) would go unchecked. These inputs are drawn from fixed seeds
(``DeterministicRandomSource``, no Hypothesis), so every run checks the same cases:

- ``kind="plain"``: uniform points;
- ``kind="mirrored"``: rows in pairs ``(a, y)`` and ``(-a, y)``, ``a != 0``, and for odd ``n``
  one far row ``(0, 8, ..., 8)`` on the mirror: the reflection maps the rows onto each other,
  so every pair's distances are the same multiset, bit for bit in floats too, and every
  pair's scores tie exactly while its two rows differ (Krum's choice is visible in its
  output);
- ``kind="duplicated"``: every row twice (and a third copy for odd ``n``): exact ties
  between equal rows, visible in a weight vector.

Points are ints in ``[-2^20, 2^20]`` (far rows ``2^23``), scaled by a power of two
(``grid``) below a thousandth of the round's bound, so every entry is an exact double inside
the round's bounds and every distance of up to a few hundred coordinates is an exact double.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

import sbrml.reference as ref
from sbrml.core.params import DEFAULT_FRAC_BITS
from sbrml.testing.strategies import round_bound

__all__ = ["KINDS", "SPAN", "grid", "int_distances", "points"]

SPAN = 2**20  # points' entries lie in [-SPAN, SPAN]
FAR = 8 * SPAN  # the far row of an odd mirrored input, on the mirror
OUTLIER = 128  # the factor of a Byzantine row of a plain input with outliers
KINDS = ("plain", "mirrored", "duplicated")


def _row(rng: ref.RandomSource, d: int) -> list[int]:
    return [ref.uniform_below(rng, 2 * SPAN + 1) - SPAN for _ in range(d)]


def points(seed: int, n: int, d: int, kind: str = "plain", *, f: int = 0) -> list[list[int]]:
    """``n`` integer points in ``d`` dimensions of ``kind`` (see the module docstring), from
    ``DeterministicRandomSource(seed)``. For ``plain`` with ``f > 0``, the last ``f`` rows are
    OUTLIER times farther out (Byzantine). ``mirrored`` needs ``d >= 2`` when ``n`` is odd."""
    rng = ref.DeterministicRandomSource(seed).derive(f"fixed/{kind}/{n}x{d}")
    if kind == "plain":
        rows = [_row(rng, d) for _ in range(n)]
        return rows[: n - f] + [[OUTLIER * v for v in row] for row in rows[n - f :]]
    if kind == "duplicated":
        distinct = [_row(rng, d) for _ in range(n // 2 + 1)]
        return [list(distinct[min(k // 2, max(n // 2 - 1, 0))]) for k in range(n)]
    if kind != "mirrored":
        raise ValueError(f"points: kind must be one of {KINDS}; got {kind!r}")
    if n % 2 and d < 2:
        raise ValueError(f"points: a mirrored input of odd n needs d >= 2; got n={n}, d={d}")
    rows = []
    for _ in range(n // 2):
        row = _row(rng, d)
        row[0] = row[0] or 1  # a row on the mirror would be its own image: no visible tie
        rows += [row, [-row[0], *row[1:]]]
    if n % 2:
        rows.append([0] + [FAR] * (d - 1))
    return rows


def grid(rows: list[list[int]], frac_bits: int = DEFAULT_FRAC_BITS) -> NDArray[np.float64]:
    """The points as an ``n x d`` float64 input: each entry times ``2^-k / SPAN``, the power
    of two at most a thousandth of ``round_bound(d)`` (so the farthest row fits too)."""
    d = len(rows[0])
    scale = 2.0 ** math.floor(math.log2(min(1.0, round_bound(d, frac_bits) / 1000)))
    return np.array(rows, dtype=np.float64) * (scale / SPAN)


def int_distances(rows: list[list[int]]) -> list[list[int]]:
    """The exact squared distances of integer points (D5.1), as Python ints."""
    return [[sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) for q in rows] for p in rows]
