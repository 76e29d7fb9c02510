"""Pairwise squared distances, in the clear and on shares, with NumPy (spec/05-distances.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.optimized.beaver import GramShares, SquareShares, beaver_gram, beaver_square
from sbrml.optimized.channel import Channel
from sbrml.optimized.ring import U64
from sbrml.reference.distances import VARIANTS, check_variant, pairs
from sbrml.reference.errors import ShapeError

__all__ = [
    "VARIANTS",
    "check_matrix",
    "check_variant",
    "distances_from_gram",
    "pairs",
    "restrict_square_pairs",
    "secure_sq_distances_gram",
    "secure_sq_distances_pairwise",
    "sq_distances",
]


def check_matrix(
    function: str, parameter: str, x: ArrayLike, *, scan: bool = True
) -> NDArray[np.float64]:
    """Implements D6.1's data check: a non-empty n x d float matrix of finite reals.

    With ``scan=False`` only the shape and type are checked; the caller then owes the scan
    for NaN and infinity (checked_distances does it through the distances).
    """
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged nested sequences
        raise ShapeError(function, parameter, "an n x d matrix", "D6.1", str(err)) from err
    if arr.ndim != 2:
        raise ShapeError(function, parameter, "an n x d matrix", "D6.1", f"shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ShapeError(function, parameter, "at least one row", "D6.1", "0 rows")
    if arr.shape[1] == 0:
        raise ShapeError(function, parameter, "rows of length d >= 1", "D6.1", "d=0")
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise ShapeError(function, parameter, "real entries", "D6.1", f"dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not scan:
        return arr
    # One reduction screens NaN and infinity (they make the sum non-finite); only then, or on
    # an overflowing sum of finite values, look element by element.
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if not np.isfinite(total) and not np.isfinite(arr).all():
        i, k = np.argwhere(~np.isfinite(arr))[0]
        raise ShapeError(
            function, f"{parameter}[{i}][{k}]", "a finite real", "D6.1", repr(float(arr[i, k]))
        )
    return arr


GRAM_BLOCK = 8192  # measured best of 8K-2M columns for 9 x 1.25M (26 ms against 44 ms unblocked)


def sq_distances(x: ArrayLike) -> NDArray[np.float64]:
    """Implements D5.1 in float64 via the Gram matrix (BLAS) of the points translated by -x_0.

    Rounding can leave tiny negative values and asymmetry; the result is symmetrised, its
    diagonal set to 0 and negatives raised to 0, which only undoes float cancellation.
    """
    return sq_distances_checked(check_matrix("sq_distances", "x", x))


def checked_distances(
    function: str, x: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """check_matrix and sq_distances with one pass over x instead of two.

    A NaN or an infinity in x always reaches the diagonal of the Gram matrix (x_ik^2, or
    inf - inf in the translation), so finite distances prove finite inputs when n >= 2; only
    otherwise is x scanned element by element, for the error that names the entry (D6.1).
    """
    arr = check_matrix(function, "x", x, scan=False)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN or inf is reported just below
        dist = sq_distances_checked(arr)
    if arr.shape[0] == 1 or not np.isfinite(dist).all():  # n = 1: the diagonal is set to 0
        check_matrix(function, "x", arr)
    return arr, dist


def sq_distances_checked(arr: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sq_distances`` of a matrix that already passed check_matrix (no second scan)."""
    # Translating by x_0 first keeps |x_i|^2 at the scale of the spread, so the Gram identity
    # cancels less precision; unlike the mean, x_0 keeps integer inputs exact. Blocks of
    # columns keep the translated copy in cache instead of allocating all of it.
    g = np.zeros((arr.shape[0], arr.shape[0]))
    for start in range(0, arr.shape[1], GRAM_BLOCK):
        block = arr[:, start : start + GRAM_BLOCK] - arr[0, start : start + GRAM_BLOCK]
        g += block @ block.T
    norms = np.diag(g).copy()
    d = norms[:, None] + norms[None, :] - 2.0 * g
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    np.maximum(d, 0.0, out=d)
    return np.asarray(d, dtype=np.float64)


def distances_from_gram(g: U64) -> U64:
    """Implements P5.1 step 2 (local): D_ij = G_ii + G_jj - 2 G_ij in Z_2^64."""
    diag = np.diag(g).copy()
    return diag[:, None] + diag[None, :] - np.uint64(2) * g


def restrict_square_pairs(
    material: tuple[SquareShares, SquareShares], n: int, d: int, rows: Sequence[int]
) -> tuple[SquareShares, SquareShares]:
    """C4.5: the square pairs of the pairs among ``rows``, from material made for all n workers."""
    if list(rows) == list(range(n)):
        return material
    offset = {pair: k for k, pair in enumerate(pairs(n))}
    keep = np.asarray([offset[(rows[a], rows[b])] for a, b in pairs(len(rows))], dtype=np.intp)
    out = []
    for m in material:
        out.append(
            SquareShares(m.a.reshape(-1, d)[keep].reshape(-1), m.b.reshape(-1, d)[keep].reshape(-1))
        )
    return out[0], out[1]


def secure_sq_distances_gram(
    x: tuple[U64 | Sequence[U64], U64 | Sequence[U64]],
    triple: tuple[GramShares, GramShares],
    *,
    channel: Channel,
) -> tuple[U64, U64]:
    """Implements P5.1: D from one Beaver Gram product G = X X^T (P4.4)."""
    g0, g1 = beaver_gram(x, triple, channel=channel)
    return distances_from_gram(g0), distances_from_gram(g1)


def secure_sq_distances_pairwise(
    x: tuple[U64, U64], squares: tuple[SquareShares, SquareShares], *, channel: Channel
) -> tuple[U64, U64]:
    """Implements P5.2: D from one Beaver square per coordinate and pair, as in He et al."""
    n, d = x[0].shape
    plist = pairs(n)
    left = np.asarray([i for i, _ in plist], dtype=np.intp)
    right = np.asarray([j for _, j in plist], dtype=np.intp)
    deltas = tuple((xs[left] - xs[right]).reshape(-1) for xs in x)
    squared = beaver_square((deltas[0], deltas[1]), squares, channel=channel)
    out = []
    for sq in squared:
        sums = sq.reshape(len(plist), d).sum(axis=1, dtype=np.uint64)
        dmat = np.zeros((n, n), dtype=np.uint64)
        dmat[left, right] = sums
        dmat[right, left] = sums
        out.append(dmat)
    return out[0], out[1]
