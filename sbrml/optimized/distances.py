"""Pairwise squared distances, in the clear and on shares, with NumPy (spec/05-distances.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import ShapeError
from sbrml.core.params import VARIANTS, check_variant, pairs
from sbrml.optimized.beaver import GramShares, SquareShares, beaver_gram, beaver_square
from sbrml.optimized.channel import Channel
from sbrml.optimized.ring import U64

F64 = NDArray[np.float64]

__all__ = [
    "VARIANTS",
    "Distances",
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
UNIT_ROUNDOFF = 2.0**-53
SUBNORMAL = 2.0**-1074
RECENTRE = 16.0  # D5.3 step 3: move the centre when it is this far out, in squared radii
PUBLIC_ACCURACY = 1e-10  # C5.3: the relative accuracy of sq_distances' entries


def sq_distances(x: ArrayLike) -> NDArray[np.float64]:
    """Implements D5.1 and D5.3 in float64: every entry within C5.3's relative accuracy.

    The Gram pass of D5.3 gives each entry with an error bound; entries whose bound is not
    within PUBLIC_ACCURACY of the entry are recomputed from direct differences. Entries
    beyond the float range are inf (the rules work on scaled distances and never see them).
    """
    _, dist = checked_distances("sq_distances", x)
    dist.ensure_relative(PUBLIC_ACCURACY)
    return dist.unscaled()


def checked_distances(function: str, x: ArrayLike) -> tuple[NDArray[np.float64], Distances]:
    """check_matrix and D5.3's Gram pass with one pass over x instead of two.

    A NaN or an infinity in x always reaches the diagonal of the Gram matrix (x_ik^2, or
    inf - inf in the translation), so finite distances prove finite inputs when n >= 2; only
    otherwise (or on an overflow of finite inputs) is x scanned, for the error that names
    the entry (D6.1).
    """
    arr = check_matrix(function, "x", x, scan=False)
    n = arr.shape[0]
    centre = probe_centre(arr)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        value, gram = gram_pass(arr, centre, 0)
    norms = np.diag(gram)
    shift = 0
    if n == 1 or not (np.isfinite(norms).all() and np.isfinite(value).all()):
        check_matrix(function, "x", arr)  # raises on NaN or infinity; else an overflow
    if n > 1 and not (np.isfinite(value).all() and norms.max() >= 2.0**-900):
        # D5.3 step 1: squares that overflow, or underflow (norms.max() = 0 also when every
        # row is equal: then the rescaled pass gives 0 again, exactly).
        top = float(max(abs(arr.max()), abs(arr.min())))
        shift = min(1074, max(-1023, math.frexp(top)[1])) if top > 0 else 0
        with np.errstate(under="ignore"):
            value, gram = gram_pass(arr, centre, shift)
    if n > 2:
        # D5.3 step 3: a centre far out (a row of 1e8 among rows near 1) would leave the
        # other distances to cancellation; move it to the row of smallest median distance.
        c = central_row(value)
        if value[centre, c] > RECENTRE * np.partition(value[c], n // 2)[n // 2]:
            centre = c
            with np.errstate(under="ignore"):
                value, gram = gram_pass(arr, centre, shift)
    return arr, Distances(arr, shift, value, gram, centre=centre)


PROBE_COLUMNS = 256


def central_row(value: F64) -> int:
    """The row whose median distance (the diagonal's 0 included) is smallest, lowest index
    first: with an honest majority, a row inside the honest points (D5.3 step 3)."""
    k = value.shape[0] // 2
    return int(np.argmin(np.partition(value, k, axis=1)[:, k]))


def probe_centre(arr: NDArray[np.float64]) -> int:
    """D5.3 step 2's centre: ``central_row`` of the distances over about PROBE_COLUMNS evenly
    spaced columns, so a far row is rarely the centre and step 3 rarely runs (0 if n <= 2
    or the probe is not finite). Any row would do for correctness; this only saves a pass."""
    n, d = arr.shape
    if n <= 2:
        return 0
    sample = arr[:, :: max(1, d // PROBE_COLUMNS)]
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        value, _ = gram_pass(np.ascontiguousarray(sample), 0, 0)
    return central_row(value) if np.isfinite(value).all() else 0


def gram_pass(arr: NDArray[np.float64], centre: int, shift: int) -> tuple[F64, F64]:
    """D5.3 step 2: D from the Gram matrix G of y_i = 2^-shift x_i - 2^-shift x_c, and G.

    Blocks of columns keep the translated copy in cache instead of allocating all of it.
    The result is symmetrised, its diagonal set to 0 and negatives raised to 0.
    """
    n, d = arr.shape
    g = np.zeros((n, n))
    for start in range(0, d, GRAM_BLOCK):
        cols = arr[:, start : start + GRAM_BLOCK]
        if shift:
            block = np.ldexp(cols, -shift) - np.ldexp(cols[centre], -shift)
        else:
            block = cols - cols[centre]
        g += block @ block.T
    norms = np.diag(g).copy()
    value = norms[:, None] + norms[None, :] - 2.0 * g
    value = 0.5 * (value + value.T)
    np.fill_diagonal(value, 0.0)
    np.maximum(value, 0.0, out=value)
    return np.asarray(value, dtype=np.float64), g


def gram_error(d: int) -> float:
    """D5.3's eps_G: every product y_ik y_jk passes through at most h = min(d, B) + ceil(d/B)
    additions (inside a block's BLAS product, then accumulating blocks), so each Gram entry
    is off by at most h u sum_k |y_ik y_jk| <= h u (N_i + N_j)/2; with the translation's and
    the last four roundings, |D^_ij - D_ij| <= (2h + 16) u (N_i + N_j)."""
    h = min(d, GRAM_BLOCK) + -(-d // GRAM_BLOCK)
    return (2 * h + 16) * UNIT_ROUNDOFF


def refine_error() -> float:
    """D5.3 step 4's relative error: one rounding in each difference and square, at most B - 1
    in a block's sum, one in the correctly rounded sum of the blocks (with slack)."""
    return (GRAM_BLOCK + 8) * UNIT_ROUNDOFF


class Distances:
    """Squared distances of the rows of ``arr`` times 4^-shift, with error bounds (D5.3).

    ``value`` holds D^ and ``bound`` E, with |D^_ij - 4^-shift D_ij| <= E_ij for every entry;
    ``refine`` recomputes entries from direct differences, which makes their bound relative
    (``refine_error``). ``complete[i]`` says that every entry of row i has been refined.
    ``gram`` is the pass's G (x seen from row ``centre``, times 4^-shift; not refined).
    """

    def __init__(
        self, arr: NDArray[np.float64], shift: int, value: F64, gram: F64, centre: int
    ) -> None:
        n, d = arr.shape
        self.arr = arr
        self.shift = shift
        self.value = value
        self.gram = gram
        norms = np.diag(gram)
        self.floor = 16.0 * (d + 1) * SUBNORMAL  # eta: squares lost below the subnormals
        top = np.maximum(norms, 0.0)
        self.bound: F64 = gram_error(d) * (top[:, None] + top[None, :]) + self.floor
        np.fill_diagonal(self.bound, 0.0)
        self.refined: NDArray[np.bool_] = np.eye(n, dtype=bool)
        self.complete: NDArray[np.bool_] = np.zeros(n, dtype=bool)
        self.centre = centre

    def magnitude(self) -> float:
        """An upper bound on max |x_ik|: |x_c|_inf + max_i |x_i - x_c| (the centre's row is
        one pass over d values; the rest comes from the Gram diagonal, with slack)."""
        spread = math.sqrt(max(float(np.max(np.diag(self.gram), initial=0.0)), 0.0)) * 1.01
        try:
            spread = math.ldexp(spread, self.shift)
        except OverflowError:
            return math.inf
        return float(np.abs(self.arr[self.centre]).max()) + spread

    def lower(self) -> F64:
        """Entrywise lower bounds of 4^-shift D."""
        return np.maximum(self.value - self.bound, 0.0)

    def upper(self) -> F64:
        """Entrywise upper bounds of 4^-shift D."""
        return self.value + self.bound

    def unscaled(self) -> F64:
        """D^ in the units of x (inf where a squared distance is beyond the float range)."""
        if not self.shift:
            return self.value.copy()
        with np.errstate(over="ignore"):
            return np.asarray(np.ldexp(self.value, 2 * self.shift), dtype=np.float64)

    def ensure_relative(self, accuracy: float) -> None:
        """C5.3: refine every entry whose bound exceeds ``accuracy`` times its lower bound."""
        self.refine(self.bound > accuracy * self.lower())

    def refine_rows(self, rows: ArrayLike) -> None:
        """Refine every entry of the given rows (and so of the same columns)."""
        mask = np.zeros_like(self.refined)
        idx = np.asarray(rows, dtype=np.intp)
        mask[idx, :] = True
        mask[:, idx] = True
        self.refine(mask)

    def refine(self, mask: NDArray[np.bool_]) -> None:
        """D5.3 step 4: recompute the entries marked in ``mask`` from direct differences.

        Rows are taken greedily, the one with the most pending entries first, each in one
        pass over x; a row equal to a row already complete copies it (an exact zero apart).
        """
        pending = (mask | mask.T) & ~self.refined
        error = refine_error()
        while pending.any():
            i = int(np.argmax(pending.sum(axis=1)))
            js = np.flatnonzero(pending[i])
            twin = self._twin(i)
            if twin is not None:
                vals = self.value[twin, js].copy()
                vals[js == twin] = 0.0
                bounds = self.bound[twin, js].copy()
                bounds[js == twin] = 0.0
            else:
                # Equal rows first (a memory compare): their distance is exactly 0.
                same = np.asarray(
                    [
                        self.value[i, j] <= self.bound[i, j]
                        and np.array_equal(self.arr[i], self.arr[j])
                        for j in js.tolist()
                    ],
                    dtype=bool,
                )
                vals = np.zeros(len(js))
                if not same.all():
                    vals[~same] = direct_distances(self.arr, i, js[~same], self.shift)
                bounds = np.where(same, 0.0, error * vals + self.floor)
            self.value[i, js] = self.value[js, i] = vals
            self.bound[i, js] = self.bound[js, i] = bounds
            self.refined[i, js] = self.refined[js, i] = True
            pending[i, js] = pending[js, i] = False
            self.complete = np.asarray(self.refined.all(axis=1), dtype=bool)

    def twins(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Over ``rows``: True where the row equals, bit for bit, one of lower index among them
        (checked only where the distance may be 0; an equal pair becomes an exact 0)."""
        sub = np.ix_(rows, rows)
        maybe = np.triu(self.value[sub] <= self.bound[sub], 1)
        out = np.zeros(len(rows), dtype=bool)
        for a, b in zip(*np.nonzero(maybe), strict=True):
            i, j = int(rows[a]), int(rows[b])
            if not out[b] and np.array_equal(self.arr[i], self.arr[j]):
                out[b] = True
                self.value[i, j] = self.value[j, i] = self.bound[i, j] = self.bound[j, i] = 0.0
                self.refined[i, j] = self.refined[j, i] = True
        return out

    def _twin(self, i: int) -> int | None:
        """A complete row equal to row i, found among those whose distance may be 0."""
        maybe = np.flatnonzero(self.complete & (self.value[i] <= self.bound[i]))
        for q in maybe.tolist():
            if q != i and np.array_equal(self.arr[i], self.arr[q]):
                return int(q)
        return None


def direct_distances(arr: NDArray[np.float64], i: int, js: NDArray[np.intp], shift: int) -> F64:
    """4^-shift ||x_i - x_j||^2 for j in js from direct differences (D5.3 step 4): squares
    summed per block of columns, the block sums added with a correctly rounded sum."""
    n, d = arr.shape
    every = len(js) == n
    parts = np.empty((len(js), -(-d // GRAM_BLOCK)))
    for b, start in enumerate(range(0, d, GRAM_BLOCK)):
        cols = arr[:, start : start + GRAM_BLOCK]
        rows = cols if every else cols[js]
        diff = np.ldexp(rows, -shift) - np.ldexp(cols[i], -shift) if shift else rows - cols[i]
        np.multiply(diff, diff, out=diff)
        parts[:, b] = diff.sum(axis=1)
    return np.asarray([math.fsum(p) for p in parts.tolist()], dtype=np.float64)


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
