"""Hypothesis strategies for the specification's objects (needs ``sbrml[testing]``).

- ``inputs``: ``n x d`` real matrices (NumPy float64) within a round's bounds (C8.2, C8.13),
  the last ``f`` rows Byzantine outliers when asked;
- ``ring_vectors``, ``shares``, ``shared_vectors``: ring elements (D1.1) and pairs of
  additive shares that reconstruct a given ring vector (P3.1, P3.2);
- ``distance_matrices``: ``n x n`` symmetric matrices with a zero diagonal (D6.2), of exact
  integers or floats, Euclidean (from points) or not;
- ``transcripts``: a whole recorded secure round (P8.1) and its canonical transcript (D7.3).

Every value is drawn through Hypothesis, so failures shrink and replay; nothing reads global
random state. Inputs are dyadic (multiples of ``2^-20`` of their scale), so that distances
computed in float64 by another implementation are exact for the sizes drawn here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.extras import require

try:
    from hypothesis import strategies as st
except ImportError:
    # Hypothesis is the 'testing' extra: name the extra to install; an installed but broken
    # Hypothesis (require finds it) keeps its own error.
    require("testing", "sbrml.testing.strategies")
    raise

import sbrml.reference as ref
from sbrml.core.channel import Message
from sbrml.core.params import DEFAULT_FRAC_BITS, NORM_BOUND_LOG2, coordinate_bound_log2
from sbrml.core.registry import stages
from sbrml.rulespec import build_rule

__all__ = [
    "RecordedRound",
    "distance_matrices",
    "inputs",
    "ring_vectors",
    "round_bound",
    "shared_vectors",
    "shares",
    "transcripts",
]

Size = int | tuple[int, int]
STEPS = 2**20  # grid steps per unit of scale


def _sizes(size: Size) -> st.SearchStrategy[int]:
    low, high = (size, size) if isinstance(size, int) else size
    return st.integers(low, high)


def round_bound(d: int, frac_bits: int = DEFAULT_FRAC_BITS) -> float:
    """The largest |x_k| such that every row with entries below it is a valid input of a
    round over ``d`` coordinates: under C8.13's ``2^(b(d) - F)`` and with the row's norm under
    C8.2's ``2^(31 - F)`` (``sum e_k^2 < 2^62``), with a margin of 1/2 for rounding."""
    coordinate = 2.0 ** (coordinate_bound_log2(d) - frac_bits)
    norm = 2.0 ** (NORM_BOUND_LOG2 // 2 - frac_bits) / math.sqrt(d)
    return min(coordinate, norm) / 2


def _row(scale: float, d: int) -> st.SearchStrategy[list[float]]:
    return st.lists(st.integers(-STEPS, STEPS), min_size=d, max_size=d).map(
        lambda ks: [k * scale / STEPS for k in ks]
    )


@st.composite
def inputs(
    draw: st.DrawFn,
    *,
    n: Size = (3, 9),
    d: Size = (1, 6),
    f: int = 0,
    outliers: bool | None = None,
    scale: float = 1.0,
    frac_bits: int = DEFAULT_FRAC_BITS,
) -> NDArray[np.float64]:
    """An ``n x d`` float64 matrix, one row per worker, within the round's bounds.

    The first ``n - f`` rows are honest: entries in ``[-scale, scale]``. With ``outliers``
    (drawn when None) the last ``f`` rows are Byzantine, one of three shapes: far rows
    (each ``10`` to ``1000`` times the scale away, in its own direction), one far point
    repeated, or copies of an honest row; otherwise they are honest too. Every entry stays
    below ``round_bound(d, frac_bits)``, so the matrix is a valid input of P8.1 (``scale`` is
    capped at a thousandth of that bound, so that the farthest outlier fits too). ValueError
    unless ``0 <= f < n``: at least one row is honest.
    """
    fewest = n if isinstance(n, int) else n[0]
    if not 0 <= f < fewest:
        raise ValueError(f"inputs: need 0 <= f < n; got f={f}, n={n}")
    rows = draw(_sizes(n))
    width = draw(_sizes(d))
    bound = round_bound(width, frac_bits)
    honest_scale = min(scale, bound / 1000)
    x = [draw(_row(honest_scale, width)) for _ in range(rows - f)]
    byzantine = draw(st.booleans()) if outliers is None else outliers
    if not byzantine:
        x += [draw(_row(honest_scale, width)) for _ in range(f)]
    else:
        shape = draw(st.sampled_from(["far", "repeated", "copies"]))
        if shape == "copies":
            x += [list(x[draw(st.integers(0, len(x) - 1))]) for _ in range(f)]
        else:
            far = [draw(_row(honest_scale, width)) for _ in range(f if shape == "far" else 1)]
            distance = draw(st.floats(10.0, 1000.0)) * honest_scale
            for k in range(f):
                row = far[k if shape == "far" else 0]
                norm = math.sqrt(sum(v * v for v in row))
                if norm == 0:  # a zero row has no direction: take the first axis
                    row, norm = [1.0] + [0.0] * (width - 1), 1.0
                x.append([min(bound, max(-bound, distance * v / norm)) for v in row])
    return np.array(x, dtype=np.float64).reshape(rows, width)


def ring_vectors(length: Size = (1, 16), *, bits: int = 64) -> st.SearchStrategy[list[int]]:
    """Vectors of ring elements of ``Z_2^bits`` (D1.1): ints in ``[0, 2^bits)``."""
    low, high = (length, length) if isinstance(length, int) else length
    return st.lists(st.integers(0, 2**bits - 1), min_size=low, max_size=high)


def shares(
    secret: Sequence[int], *, bits: int = 64
) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    """Pairs ``(x^0, x^1)`` of ring vectors with ``x^0 + x^1 = secret mod 2^bits`` (P3.2):
    ``x^0`` is any ring vector, as P3.1's ``r`` may be."""
    mask = 2**bits - 1
    values = list(secret)
    return ring_vectors(len(values), bits=bits).map(
        lambda r: (r, [(v - a) & mask for v, a in zip(values, r, strict=True)])
    )


def shared_vectors(
    length: Size = (1, 16), *, bits: int = 64
) -> st.SearchStrategy[tuple[list[int], tuple[list[int], list[int]]]]:
    """``(x, (x^0, x^1))``: a ring vector and a pair of shares of it."""
    return ring_vectors(length, bits=bits).flatmap(
        lambda x: shares(x, bits=bits).map(lambda pair: (x, pair))
    )


@st.composite
def distance_matrices(
    draw: st.DrawFn,
    *,
    n: Size = (1, 9),
    exact: bool = True,
    euclidean: bool = True,
    d: Size = (1, 4),
) -> list[list[float]]:
    """An ``n x n`` matrix, symmetric, zero on the diagonal, nonnegative (D6.2).

    ``exact``: Python ints (the ring distances S1 reconstructs hold such values); otherwise
    floats. ``euclidean``: the squared distances of ``n`` points in ``d`` dimensions (exact:
    integer points below ``2^10``; floats: ``inputs``' grid, each entry correctly rounded),
    as every rule's ``weights`` may assume; otherwise any symmetric nonnegative entries.
    """
    size = draw(_sizes(n))
    if euclidean:
        width = draw(_sizes(d))
        if exact:
            point = st.lists(st.integers(-(2**10), 2**10), min_size=width, max_size=width)
            pts = [draw(point) for _ in range(size)]
            return [
                [sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) for q in pts] for p in pts
            ]
        x = draw(inputs(n=size, d=width, f=0, outliers=False)).tolist()
        return [[float(v) for v in row] for row in ref.sq_distances(x)]
    entry: st.SearchStrategy[Any] = (
        st.integers(0, 2**40) if exact else st.floats(0.0, 1e6, allow_subnormal=False)
    )
    out: list[list[Any]] = [[0 if exact else 0.0] * size for _ in range(size)]
    for i in range(size):
        for j in range(i + 1, size):
            out[i][j] = out[j][i] = draw(entry)
    return out


@dataclass(frozen=True)
class RecordedRound:
    """A secure round (P8.1) run by the reference tree, and what its channel recorded.

    ``transcript`` is D7.3's canonical encoding of ``party``'s view (D7.5), or of every
    message when ``party`` is None; ``messages`` are the same messages; ``z`` and ``weights``
    what the round published.
    """

    inputs: list[list[float]]
    rule: str
    f: int
    seed: int
    variant: str
    party: str | None
    transcript: bytes
    digest: str
    messages: tuple[Message, ...]
    z: list[float]
    weights: list[float] | None


@st.composite
def transcripts(
    draw: st.DrawFn,
    *,
    rule: str = "krum",
    f: int = 1,
    extra: Size = (0, 2),
    d: Size = (1, 4),
    party: str | None = None,
) -> RecordedRound:
    """A recorded round of ``rule`` (D6.7) on drawn inputs: ``n`` is the rule's least ``n``
    for ``f`` plus ``extra``; the seed and the distance variant (D5.2) are drawn."""
    n = stages(rule)[-1].least_n(f) + draw(_sizes(extra))
    x = draw(inputs(n=n, d=d, f=f)).tolist()
    seed = draw(st.integers(0, 2**64 - 1))
    variant = draw(st.sampled_from(["gram", "pairwise"]))
    result = ref.secure_aggregate(
        x,
        build_rule(ref, rule, f),
        rng=ref.DeterministicRandomSource(seed),
        variant=variant,
    )
    return RecordedRound(
        inputs=x,
        rule=rule,
        f=f,
        seed=seed,
        variant=variant,
        party=party,
        transcript=result.channel.transcript_bytes(party),
        digest=result.channel.transcript_digest(party),
        messages=tuple(result.channel.view(party)),
        z=list(result.z),
        weights=None if result.weights is None else list(result.weights),
    )
