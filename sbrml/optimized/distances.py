"""Pairwise squared distances, in the clear and on shares, with NumPy (spec/05-distances.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.channel import each
from sbrml.core.errors import ShapeError, shown
from sbrml.core.params import VARIANTS, check_variant, pairs
from sbrml.optimized.beaver import GramShares, SquareShares, beaver_gram, beaver_square
from sbrml.optimized.bounded_distances import (
    GRAM_BLOCK,
    LARGEST,
    UNIT_ROUNDOFF,
    View,
    at_scale,
    central_row,
    direct_distances,
    gram_error,
    gram_view,
    recentred,
    refine_error,
)
from sbrml.optimized.channel import Channel
from sbrml.optimized.ring import U64, overflows_float

F64 = NDArray[np.float64]

__all__ = [
    "GRAM_BLOCK",
    "LARGEST",
    "UNIT_ROUNDOFF",
    "VARIANTS",
    "Distances",
    "central_row",
    "check_matrix",
    "check_variant",
    "distances_from_gram",
    "gram_error",
    "pairs",
    "refine_error",
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
    if not isinstance(x, np.ndarray):
        refuse_non_reals(function, parameter, x)
        if arr.dtype == object:  # ints beyond int64 (finite, or beyond the float range)
            arr = _floats(function, parameter, arr)
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


def _entry(value: object) -> bool:
    """D6.1's real entry in a sequence, as the reference reads it: an int but not a bool, or
    a float (NumPy's float64 is one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def refuse_non_reals(function: str, parameter: str, x: Any) -> None:
    """D6.1 on rows given as sequences: entries the reference refuses are refused here too
    (NumPy would have read True as 1.0). One scan of the types per row, not of the values;
    a row that is an array is taken by its dtype (never bool)."""
    for i, row in enumerate(x):
        if isinstance(row, np.ndarray):
            bad = row.dtype == np.bool_
        else:
            bad = not all(_entry(next(v for v in row if type(v) is t)) for t in set(map(type, row)))
        if bad:
            k = next(k for k, v in enumerate(row) if not _entry(v))
            raise ShapeError(
                function, f"{parameter}[{i}][{k}]", "a finite real", "D6.1", shown(row[k])
            )


def _floats(function: str, parameter: str, arr: NDArray[Any]) -> NDArray[np.float64]:
    """An object array of real entries as floats; an int beyond the float range is no
    finite real (D6.1), as the reference's math.isfinite says."""
    try:
        return np.asarray(arr.astype(np.float64), dtype=np.float64)
    except OverflowError:
        i, k = next(
            (i, k)
            for i, row in enumerate(arr.tolist())
            for k, v in enumerate(row)
            if overflows_float(v)
        )
        raise ShapeError(
            function, f"{parameter}[{i}][{k}]", "a finite real", "D6.1", shown(arr[i, k])
        ) from None


PUBLIC_ACCURACY = 1e-10  # C5.3: the relative accuracy of sq_distances' entries
PROBE_COLUMNS = 256
TINY_NORMS = 2.0**-900  # D5.3 step 1: below this every distance is rescaled up


def sq_distances(x: ArrayLike) -> NDArray[np.float64]:
    """Implements D5.1 and D5.3 in float64: every entry within C5.3's relative accuracy.

    The Gram pass of D5.3 gives each entry with an error bound; entries whose bound is not
    within PUBLIC_ACCURACY of the entry are recomputed from direct differences, which hold
    their value at any magnitude. Entries beyond the float range are inf.
    """
    _, dist = checked_distances("sq_distances", x)
    dist.ensure_relative(PUBLIC_ACCURACY)
    return dist.unscaled()


def checked_distances(function: str, x: ArrayLike) -> tuple[NDArray[np.float64], Distances]:
    """check_matrix and D5.3's Gram pass with one pass over x instead of two.

    A NaN or an infinity in x always reaches the diagonal of the Gram matrix (x_ik^2, or
    inf - inf in the translation), so finite distances prove finite inputs when n >= 2; only
    otherwise (or on an overflow of finite inputs) is x scanned, for the error that names
    the entry (D6.1). The view returned is the first one of D5.3 (step 1's scale).
    """
    arr = check_matrix(function, "x", x, scan=False)
    n = arr.shape[0]
    view = gram_view(arr, probe_centre(arr), 0)
    if n == 1 or not view.finite:
        check_matrix(function, "x", arr)  # raises on NaN or infinity; else an overflow
    if n > 1 and not (view.finite and float(np.diag(view.gram).max()) >= TINY_NORMS):
        # D5.3 step 1: squares that overflow, or underflow (a zero Gram diagonal also when
        # every row is equal: then the rescaled pass gives 0 again, exactly).
        top = float(max(abs(arr.max()), abs(arr.min())))
        shift = min(1074, max(-1023, math.frexp(top)[1])) if top > 0 else 0
        view = gram_view(arr, view.centre, shift)
    # D5.3 step 4: a centre far out (a row of 1e8 among rows near 1) would leave the other
    # distances to cancellation; move it to the row of smallest median distance.
    return arr, Distances(arr, recentred(arr, view))


def probe_centre(arr: NDArray[np.float64]) -> int:
    """D5.3 step 2's centre: ``central_row`` of the distances over about PROBE_COLUMNS evenly
    spaced columns, so a far row is rarely the centre and step 4 rarely runs (0 if n <= 2
    or the probe is not finite). Any row would do for correctness; this only saves a pass."""
    n, d = arr.shape
    if n <= 2:
        return 0
    sample = np.ascontiguousarray(arr[:, :: max(1, d // PROBE_COLUMNS)])
    view = gram_view(sample, 0, 0)
    return central_row(view.value) if view.finite else 0


class Distances:
    """Squared distances of the rows of ``arr`` with entrywise bounds, in one view (D5.3).

    ``value``, ``lo`` and ``hi`` hold D^ and bounds on 4^-shift D (steps 2-3, inf and
    LARGEST beyond the float range); ``refine`` recomputes entries from direct differences
    (step 5) and keeps them scale-free (``q`` 4^``e``), so ``rescale`` can move to another
    view (step 6) without losing them. ``complete[i]`` says that every entry of row i has
    been refined. ``gram`` is the view's G (x seen from row ``centre``, times 4^-shift).
    """

    def __init__(self, arr: NDArray[np.float64], view: View) -> None:
        n, d = arr.shape
        self.arr = arr
        self.n = n
        self.refined: NDArray[np.bool_] = np.eye(n, dtype=bool)
        self.complete: NDArray[np.bool_] = np.asarray(self.refined.all(axis=1), dtype=bool)
        self.q = np.zeros((n, n))
        self.e = np.zeros((n, n), dtype=np.int64)
        # Equal rows are equal on a sample of columns first: comparing whole rows of every
        # pair a view cannot tell apart from 0 would cost as much as refining them.
        self.sample = np.ascontiguousarray(arr[:, :: max(1, d // PROBE_COLUMNS)])
        self._views = {view.shift: view}
        self._first = view
        self._use(view)

    def _use(self, view: View) -> None:
        self.shift, self.centre, self.gram = view.shift, view.centre, view.gram
        self.value, self.lo, self.hi = view.value.copy(), view.lo.copy(), view.hi.copy()
        mask = self.refined & ~np.eye(self.n, dtype=bool)
        if mask.any():
            self.value[mask], self.lo[mask], self.hi[mask] = at_scale(
                self.q[mask], self.e[mask], self.shift
            )

    def rescale(self, shift: int) -> None:
        """D5.3 step 6: move to the view at 4^-shift (a Gram pass, once per scale)."""
        if shift == self.shift:
            return
        view = self._views.get(shift)
        if view is None:
            view = recentred(self.arr, gram_view(self.arr, self.centre, shift))
            self._views[shift] = view
        self._use(view)

    @property
    def bound(self) -> F64:
        """The half-width of each entry's bounds around ``value`` (inf beyond the range)."""
        with np.errstate(invalid="ignore"):
            out = np.maximum(self.hi - self.value, self.value - self.lo)
        return np.asarray(np.where(np.isfinite(self.value), out, np.inf), dtype=np.float64)

    def magnitude(self) -> float:
        """An upper bound on max |x_ik|: |x_c|_inf + max_i |x_i - x_c| (the centre's row is
        one pass over d values; the rest comes from the first view's Gram diagonal)."""
        first = self._first
        spread = math.sqrt(max(float(np.max(np.diag(first.gram), initial=0.0)), 0.0)) * 1.01
        try:
            spread = math.ldexp(spread, first.shift)
        except OverflowError:
            return math.inf
        return float(np.abs(self.arr[first.centre]).max()) + spread

    def lower(self) -> F64:
        """Entrywise lower bounds of 4^-shift D."""
        return self.lo.copy()

    def upper(self) -> F64:
        """Entrywise upper bounds of 4^-shift D."""
        return self.hi.copy()

    def unscaled(self) -> F64:
        """D^ in the units of x: refined entries from their scale-free values, inf beyond the
        float range (and subnormal or 0 below it)."""
        with np.errstate(over="ignore"):
            out = np.asarray(np.ldexp(self.value, 2 * self.shift), dtype=np.float64)
        mask = self.refined & ~np.eye(self.n, dtype=bool)
        out[mask] = at_scale(self.q[mask], self.e[mask], 0)[0]
        return out

    def ensure_relative(self, accuracy: float) -> None:
        """C5.3: refine every entry whose value may be further than ``accuracy`` times the
        lower bound from the exact one."""
        self.refine(self.bound > accuracy * self.lo)

    def refine_rows(self, rows: ArrayLike) -> None:
        """Refine every entry of the given rows (and so of the same columns)."""
        mask = np.zeros_like(self.refined)
        idx = np.asarray(rows, dtype=np.intp)
        mask[idx, :] = True
        mask[:, idx] = True
        self.refine(mask)

    def refine(self, mask: NDArray[np.bool_]) -> None:
        """D5.3 step 5: recompute the entries marked in ``mask`` from direct differences.

        Rows are taken greedily, the one with the most pending entries first, each in one
        pass over x; a row equal to a row already complete copies it (an exact zero apart).
        """
        pending = (mask | mask.T) & ~self.refined
        while pending.any():
            i = int(np.argmax(pending.sum(axis=1)))
            js = np.flatnonzero(pending[i])
            twin = self._twin(i)
            if twin is not None:
                q, e = self.q[twin, js].copy(), self.e[twin, js].copy()
                q[js == twin] = 0.0
                e[js == twin] = 0
            else:
                # Equal rows first (a memory compare): their distance is exactly 0.
                same = np.asarray(
                    [self.lo[i, j] == 0.0 and self.equal(i, j) for j in js.tolist()], dtype=bool
                )
                q, e = np.zeros(len(js)), np.zeros(len(js), dtype=np.int64)
                if not same.all():
                    q[~same], e[~same] = direct_distances(self.arr, i, js[~same])
            self._store(i, js, q, e)
            pending[i, js] = pending[js, i] = False

    def _store(self, i: int, js: NDArray[np.intp], q: F64, e: NDArray[np.int64]) -> None:
        self.q[i, js] = self.q[js, i] = q
        self.e[i, js] = self.e[js, i] = e
        value, lo, hi = at_scale(q, e, self.shift)
        self.value[i, js] = self.value[js, i] = value
        self.lo[i, js] = self.lo[js, i] = lo
        self.hi[i, js] = self.hi[js, i] = hi
        self.refined[i, js] = self.refined[js, i] = True
        self.complete = np.asarray(self.refined.all(axis=1), dtype=bool)

    def row_at(self, i: int, shift: int) -> F64:
        """Row i of a complete row at scale 4^-shift, from the refined values (D5.3 step 6)."""
        return at_scale(self.q[i], self.e[i], shift)[0]

    def twins(self, rows: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Over ``rows``: True where the row equals, bit for bit, one of lower index among them
        (checked only where the distance may be 0; an equal pair becomes an exact 0)."""
        first, second = np.nonzero(np.triu(self.lo[np.ix_(rows, rows)] == 0.0, 1))
        alike = (self.sample[rows[first]] == self.sample[rows[second]]).all(axis=1)
        out = np.zeros(len(rows), dtype=bool)
        for a, b in zip(first[alike].tolist(), second[alike].tolist(), strict=True):
            i, j = int(rows[a]), int(rows[b])
            if not out[b] and np.array_equal(self.arr[i], self.arr[j]):
                out[b] = True
                self._store(i, np.asarray([j], dtype=np.intp), np.zeros(1), np.zeros(1, np.int64))
        return out

    def _twin(self, i: int) -> int | None:
        """A complete row equal to row i, found among those whose distance may be 0."""
        maybe = np.flatnonzero(self.complete & (self.lo[i] == 0.0))
        for q in maybe.tolist():
            if q != i and self.equal(i, q):
                return int(q)
        return None

    def equal(self, i: int, j: int) -> bool:
        """Rows i and j are equal (their squared distance is exactly 0)."""
        return bool(
            np.array_equal(self.sample[i], self.sample[j])
            and np.array_equal(self.arr[i], self.arr[j])
        )


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

    def restrict(m: SquareShares) -> SquareShares:
        if m is None:  # a server this process does not play (spec section 23)
            return m
        return SquareShares(
            m.a.reshape(-1, d)[keep].reshape(-1), m.b.reshape(-1, d)[keep].reshape(-1)
        )

    return restrict(material[0]), restrict(material[1])


def secure_sq_distances_gram(
    x: tuple[U64 | Sequence[U64], U64 | Sequence[U64]],
    triple: tuple[GramShares, GramShares],
    *,
    channel: Channel,
) -> tuple[U64, U64]:
    """Implements P5.1: D from one Beaver Gram product G = X X^T (P4.4)."""
    g = beaver_gram(x, triple, channel=channel)
    return each(channel, lambda s: distances_from_gram(g[s]))


def secure_sq_distances_pairwise(
    x: tuple[U64, U64], squares: tuple[SquareShares, SquareShares], *, channel: Channel
) -> tuple[U64, U64]:
    """Implements P5.2: D from one Beaver square per coordinate and pair, as in He et al."""
    n, d = x[channel.servers()[0]].shape
    plist = pairs(n)
    left = np.asarray([i for i, _ in plist], dtype=np.intp)
    right = np.asarray([j for _, j in plist], dtype=np.intp)
    deltas = each(channel, lambda s: (x[s][left] - x[s][right]).reshape(-1))
    squared = beaver_square(deltas, squares, channel=channel)

    def matrix(s: int) -> U64:
        sums = squared[s].reshape(len(plist), d).sum(axis=1, dtype=np.uint64)
        dmat = np.zeros((n, n), dtype=np.uint64)
        dmat[left, right] = sums
        dmat[right, left] = sums
        return dmat

    return each(channel, matrix)
