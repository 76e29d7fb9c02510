"""Clipping rows to norms on NumPy arrays: what D10.6, D11.4, D11.5 and D17.1 share.

The reference's ``clipping`` module, row-wise: each clipping of this tree measures a row's own
norm (squares that under- or overflowed are redone with scaling), divides only where a row
exceeds its threshold, and clips a row whose norm is beyond the float maximum, or a difference
x_i - v that overflows, to the threshold in its own direction, computed on the rows scaled by
a power of two (C6.9), as it does a row whose scale threshold / norm would underflow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from sbrml.reference.clipping import SMALLEST_NORMAL, TRUSTED_SQUARES

F64 = NDArray[np.float64]

__all__ = [
    "SMALLEST_NORMAL",
    "TRUSTED_SQUARES",
    "clip_rows",
    "clip_scale",
    "comparable_norms",
    "directions",
    "norms_from_squares",
    "row_norms",
]


def norms_from_squares(sq: F64, rows: Callable[[NDArray[np.intp]], F64]) -> F64:
    """sqrt(sq_i), recomputed with scaling where the squares under- or overflowed (D10.6).

    ``rows(idx)`` returns the rows whose squared norms are ``sq[idx]``. A sum of squares that
    is infinite, or below TRUSTED_SQUARES (where squares below 2^-1022 lose precision or
    vanish), is replaced by max|row_j| * ||row / max|row_j|||, as the reference's math.hypot
    would give; so a row of 1e200 is clipped to tau, not zeroed, and one of 1e-200 is clipped
    by a tiny tau, not passed through. A norm beyond the float range is inf, as is the norm of
    a row with an infinite entry (an overflowed difference); a row with a NaN keeps a NaN.
    """
    norms = np.sqrt(sq)
    redo = np.flatnonzero(~(sq >= TRUSTED_SQUARES) | (sq == np.inf))
    if redo.size:
        sub = rows(redo)
        top = np.abs(sub).max(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = sub / np.where((top > 0) & (top < np.inf), top, 1.0)[:, None]
            norms[redo] = np.where(
                top == np.inf, np.inf, top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
            )
    return np.asarray(norms, dtype=np.float64)


def row_norms(x: NDArray[np.float64]) -> F64:
    """||x_i|| for every row, without an n x d temporary; squares that under- or overflowed
    are redone with scaling (``norms_from_squares``)."""
    return norms_from_squares(np.einsum("ij,ij->i", x, x), lambda rows: x[rows])


def clip_scale(thresholds: F64, norms: F64) -> F64:
    """min(1, threshold_i / norm_i), dividing only where norm_i > threshold_i (D10.6, D11.4).

    As in the reference, a row within its threshold keeps scale 1 and is never divided by its
    norm: dividing by a zero or tiny norm would overflow to inf (with a RuntimeWarning) before
    the minimum discards it. Where the division happens the quotient lies in [0, 1). A norm
    beyond the float range gets 0 here: ``clip_rows`` gives such a row its direction instead.
    """
    scale = np.ones(norms.shape, dtype=np.float64)
    np.divide(thresholds, norms, out=scale, where=norms > thresholds)
    return scale


def directions(x: NDArray[np.float64], center: F64 | None = None) -> F64:
    """r_i / ||r_i|| for the nonzero rows r_i = x_i - center (center None: r_i = x_i).

    As the reference's ``direction``: a row whose norm is beyond the float range, or whose
    difference overflowed, is computed as 2^-s x_i - 2^-s center, 2^s the power of two above
    twice the largest entry of x_i and center, where nothing overflows and ||2^-s r_i|| >= 1/2
    (C6.9).
    """
    with np.errstate(over="ignore"):  # an overflowed entry: its row is redone scaled
        r = x if center is None else x - center
    norms = row_norms(r)
    out = np.asarray(r / np.where(norms < np.inf, norms, 1.0)[:, None], dtype=np.float64)
    big = np.flatnonzero(norms == np.inf)
    if big.size:
        top = np.abs(x[big]).max(axis=1)
        if center is not None:
            top = np.maximum(top, np.abs(center).max(initial=0.0))
        shift = (np.frexp(top)[1] + 1)[:, None]
        with np.errstate(under="ignore"):
            scaled = np.ldexp(x[big], -shift)
            if center is not None:
                scaled = scaled - np.ldexp(center[None, :], -shift)
        out[big] = scaled / row_norms(scaled)[:, None]
    return out


def clip_rows(
    x: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    norms: F64 | None = None,
    center: F64 | None = None,
) -> F64:
    """Row i of x - center (center None: x) scaled by min(1, threshold_i / ||row||); zero rows
    stay zero (D10.6, D11.4, D11.5, D17.1).

    As the reference's ``clip_to``: where threshold_i / ||row|| is below SMALLEST_NORMAL (a
    tiny threshold beside a large norm) or the norm is beyond the float range (C6.9, an
    overflowed difference included), the row is threshold_i times its ``directions`` row.
    ``norms``, when given, are those of the rows of x - center.
    """
    with np.errstate(over="ignore"):  # an overflowed difference: its row is redone below
        r = x if center is None else x - center
    norms = row_norms(r) if norms is None else norms
    scale = clip_scale(thresholds, norms)  # no division by a zero or tiny norm
    with np.errstate(invalid="ignore"):  # inf * 0 in an overflowed row, redone below
        out = np.asarray(r * scale[:, None], dtype=np.float64)
    redo = np.flatnonzero((scale < SMALLEST_NORMAL) & (norms > thresholds))
    if redo.size:
        out[redo] = thresholds[redo][:, None] * directions(x[redo], center)
    return out


def comparable_norms(x: NDArray[np.float64], norms: F64) -> tuple[NDArray[np.bool_], F64]:
    """(beyond, keys) that order the rows as their norms do, for ARC's choice (D11.5, C6.9).

    As the reference's ``comparable_norms``: ``beyond`` marks the norms beyond the float
    range, whose keys are ||2^-s x_i|| for one s over those rows; the others keep their norms.
    """
    beyond = norms == np.inf
    keys = norms.copy()
    if beyond.any():
        shift = int(np.frexp(np.abs(x[beyond]).max())[1])
        keys[beyond] = row_norms(np.ldexp(x[beyond], -shift))
    return beyond, keys
