"""Geometric rules on NumPy arrays (spec/10-geometric.md); same API as the reference.

Medoid and MDA select exactly as the reference (exact comparisons, correctly rounded sums,
C6.7 on a float D), so secure rounds with them give identical transcripts; in the clear they
settle their choice on D5.3's bounded distances (C6.8). SMEA and CAF (on distances refined
to C5.3's accuracy) work in floating point with LAPACK: they agree with the reference to
rounding (C10.3). The geometric median (D10.1) has its own module, ``geometric_median``; it is
re-exported here so that ``sbrml.optimized.geometric.GeometricMedian`` keeps working.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import ShapeError
from sbrml.optimized.clipping import (
    SMALLEST_NORMAL,
    clip_rows,
    clip_scale,
    norms_from_squares,
)
from sbrml.optimized.distances import (
    PUBLIC_ACCURACY,
    Distances,
    check_matrix,
    checked_distances,
)
from sbrml.optimized.geometric_median import GeometricMedian, WeiszfeldReport
from sbrml.optimized.rules import (
    F64,
    check_distance_matrix,
    mean_of_rows,
    one_hot,
    scaled_distances,
    settle,
    settle_lowest,
    weighted_sum,
)
from sbrml.reference.geometric import MAX_SUBSETS, center_values, check_subsets, subsets
from sbrml.reference.rules import (
    FLOAT_TIE_TOLERANCE,
    NeedsMajority,
    check_positive_int,
    check_positive_real,
    distance_shift,
    first_near_minimum,
)

__all__ = [
    "MAX_SUBSETS",
    "CenteredClipping",
    "CovarianceFilter",
    "GeometricMedian",
    "Medoid",
    "MinimumDiameterAveraging",
    "Smea",
    "WeiszfeldReport",
]


def medoid_scores(dist: F64) -> list[float]:
    """D10.3's scores sum_j sqrt(D_ij), each sum correctly rounded (the reference's doubles)."""
    # IEEE sqrt is correctly rounded, like math.sqrt.
    return [math.fsum(row) for row in np.sqrt(dist).tolist()]


class Medoid(NeedsMajority):
    """argmin_i sum_j sqrt(D_ij), correctly rounded sums, ties per C10.5 (D10.3)."""

    name = "medoid"
    clause = "C10.1"
    scale_invariant = True

    def _select(self, d: ArrayLike) -> int:
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        return first_near_minimum(medoid_scores(scaled_distances(arr, 1)[0]))

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        return one_hot(np.asarray(d).shape[0], [self._select(d)])

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr, dist = checked_distances(self.name, x)
        self.check_n(arr.shape[0], self.name)
        # One power of four for the bounds and the values (C6.9), so they stay comparable.
        shift = distance_shift(float(dist.value.max()))

        def score(mat: F64) -> F64:
            return np.asarray(medoid_scores(np.ldexp(mat, -2 * shift)))

        def rough(mat: F64) -> F64:
            return np.asarray(np.sqrt(np.ldexp(mat, -2 * shift)).sum(axis=1))

        with np.errstate(under="ignore"):
            chosen = int(settle_lowest(dist, score, 1, rough=rough)[0])  # C6.8
        return np.array(arr[chosen], dtype=np.float64)


class _SubsetRule(NeedsMajority):
    clause = "C10.1"
    float_scores = False  # True: compare with the relative tolerance of C10.5

    def check_n(self, n: int, function: str = "") -> None:
        """Implements C10.1 and C10.4."""
        super().check_n(n, function)
        check_subsets(self.name, n, self.f)

    def _scores(self, d: NDArray[Any], members: NDArray[np.intp]) -> list[Any]:
        raise NotImplementedError

    def _prepare(self, d: NDArray[Any]) -> NDArray[Any]:
        return d

    def _choose(self, prepared: NDArray[Any], floats: bool) -> tuple[int, ...]:
        """D10.4's order over the subsets: exact, or C10.5's tolerance for float scores."""
        candidates = list(subsets(prepared.shape[0], self.f))
        values = self._scores(prepared, np.asarray(candidates, dtype=np.intp))
        if self.float_scores or floats:  # C10.5 and C6.7
            return candidates[first_near_minimum(values)]
        return candidates[min(range(len(values)), key=lambda k: (values[k], k))]

    def _select(self, d: ArrayLike) -> tuple[int, ...]:
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        return self._choose(self._prepare(arr), arr.dtype.kind == "f")

    def _select_in_clear(self, dist: Distances) -> tuple[int, ...]:
        """The choice on x: here on distances within C5.3's relative accuracy."""
        dist.ensure_relative(PUBLIC_ACCURACY)
        return self._choose(self._prepare(dist.value), True)

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        return one_hot(np.asarray(d).shape[0], self._select(d))

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr, dist = checked_distances(self.name, x)
        self.check_n(arr.shape[0], self.name)
        return mean_of_rows(arr, self._select_in_clear(dist))


def subset_maxima(d: NDArray[Any], members: NDArray[np.intp]) -> NDArray[Any]:
    """max_{i<j in S} D_ij for each subset S (a row of ``members``), in chunks of subsets."""
    size = members.shape[1]
    if size < 2:
        return np.zeros(members.shape[0], dtype=d.dtype)
    left, right = np.triu_indices(size, 1)
    chunk = max(1, 2_000_000 // len(left))
    out = np.empty(members.shape[0], dtype=d.dtype)
    for start in range(0, members.shape[0], chunk):
        part = members[start : start + chunk]
        out[start : start + chunk] = d[part[:, left], part[:, right]].max(axis=1)
    return out


class MinimumDiameterAveraging(_SubsetRule):
    """Minimum-diameter averaging (D10.4): exact comparisons, lexicographic ties; C6.7 and
    C10.5's tolerance for a float D."""

    name = "mda"
    scale_invariant = True

    def _prepare(self, d: NDArray[Any]) -> NDArray[Any]:
        return d.astype(object) if d.dtype.kind in "iu" else d

    def _scores(self, d: NDArray[Any], members: NDArray[np.intp]) -> list[Any]:
        return list(subset_maxima(d, members).tolist())

    def _select_in_clear(self, dist: Distances) -> tuple[int, ...]:
        """C6.8: refine the pairs that may be the diameter of a subset still in question."""
        candidates = list(subsets(dist.value.shape[0], self.f))
        members = np.asarray(candidates, dtype=np.intp)

        def pairs_in(
            lower: F64, upper: F64, lo: F64, which: NDArray[np.bool_]
        ) -> NDArray[np.bool_]:
            mask = np.zeros(lower.shape, dtype=bool)
            for k in np.flatnonzero(which).tolist():
                sub = np.ix_(members[k], members[k])
                mask[sub] |= upper[sub] >= lo[k]  # a pair below lo[k] is not the maximum
            return mask

        def diameters(mat: F64) -> NDArray[Any]:
            return subset_maxima(mat, members)

        chosen = settle(dist, np.arange(dist.n), diameters, 1, pairs_in)  # C6.8, D5.3 step 6
        return candidates[int(chosen[0])]


class Smea(_SubsetRule):
    """Exact SMEA (D10.5): lambda_max of the centred Gram matrix of each subset, via LAPACK."""

    name = "smea"
    scale_invariant = True
    float_scores = True

    def _prepare(self, d: NDArray[Any]) -> NDArray[Any]:
        return scaled_distances(d, 1)[0]  # C6.9

    def _scores(self, d: NDArray[Any], members: NDArray[np.intp]) -> list[Any]:
        out = []
        for s in members:
            sub = d[np.ix_(s, s)]
            rows = sub.mean(axis=1)
            k = -(sub - rows[:, None] - rows[None, :] + rows.mean()) / 2
            out.append(float(np.linalg.eigvalsh(k)[-1]) / len(s))
        return out


class CovarianceFilter(NeedsMajority):
    """CAF (D10.7, C10.7) on the n x n matrices of the reference, with LAPACK's dsyevr."""

    name = "caf"
    clause = "C10.1"
    scale_invariant = True

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        """Implements D10.7 on distances (C6.1): the remembered weights w*."""
        arr = check_distance_matrix(self.name, d)
        n = arr.shape[0]
        self.check_n(n, self.name)
        dist = scaled_distances(arr, unit)[0]  # C6.9: CAF's weights do not depend on the scale
        c = np.ones(n)
        best: tuple[float, F64] | None = None
        while best is None or math.fsum(c.tolist()) > n - 2 * self.f:
            w = c / math.fsum(c.tolist())
            r = dist @ w
            g = -(dist - r[:, None] - r[None, :] + w @ r) / 2
            root = np.sqrt(w)
            # Only the top eigenpair (LAPACK's dsyevr via SciPy): half the time of a full eigh.
            values, vectors = scipy.linalg.eigh(
                root[:, None] * g * root[None, :], subset_by_index=[n - 1, n - 1]
            )
            lam, u = float(values[-1]), vectors[:, -1]
            if best is None or lam < best[0] - FLOAT_TIE_TOLERANCE * abs(best[0]):
                best = (lam, w)
            if lam <= 0.0:
                break  # C10.7: every weighted point is at mu
            tau = (g @ (root * u)) ** 2 / lam
            top = float(tau[c > 0].max())  # among the points still weighted (C10.7)
            if top <= 0.0:
                break
            c = np.where(
                tau >= top * (1.0 - FLOAT_TIE_TOLERANCE),
                0.0,
                np.maximum(0.0, c * (1.0 - tau / top)),
            )
        return best[1]

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr, dist = checked_distances(self.name, x)
        self.check_n(arr.shape[0], self.name)
        dist.ensure_relative(PUBLIC_ACCURACY)  # C5.3's accuracy, as sq_distances gives
        return weighted_sum(self.weights(dist.value), arr)


class CenteredClipping(NeedsMajority):
    """Centered clipping (D10.6, C10.6): explicit ``center``, no state kept between calls."""

    name = "cc"
    clause = "C10.1"

    def __init__(self, f: int = 0, tau: float = 1.0, iterations: int = 3):
        super().__init__(f)
        self.tau = check_positive_real(self.name, "tau", tau, "C10.6")
        self.iterations = check_positive_int(self.name, "iterations", iterations, "C10.6")

    def __call__(self, x: ArrayLike, *, rng: Any = None, center: ArrayLike | None = None) -> F64:
        arr = check_matrix(self.name, "x", x)
        n, d = arr.shape
        self.check_n(n, self.name)
        v = np.zeros(d)
        if center is not None:
            # As objects first: float64 would raise OverflowError on an int beyond its range.
            raw = np.asarray(center, dtype=object)
            if raw.shape != (d,):
                raise ShapeError(
                    self.name,
                    "center",
                    f"a finite vector of length d={d}",
                    "C10.6",
                    f"shape {raw.shape}",
                )
            v = np.asarray(center_values(self.name, list(raw), d), dtype=np.float64)
        for _ in range(self.iterations):
            v = self._step(arr, v)
        return np.asarray(v, dtype=np.float64)

    def _step(self, arr: F64, v: F64) -> F64:
        """One step of D10.6: v + (1/n) sum_i min(1, tau / ||x_i - v||) (x_i - v)."""
        n, d = arr.shape
        # Two sweeps over cache-sized column blocks (norms, then the update), so the
        # differences x_i - v never exist as a whole n x d array.
        sq = np.zeros(n)
        with np.errstate(over="ignore"):  # an overflowed x_i - v: its norm is inf below
            for block in column_blocks(d):
                diff = arr[:, block] - v[block]
                sq += np.einsum("ij,ij->i", diff, diff)
            norms = norms_from_squares(sq, functools.partial(_rows_minus, arr, v))
        scale = clip_scale(np.full(n, self.tau), norms)
        # |sum of the moves| <= n tau: below 2^1020 no partial sum can overflow. A scale
        # below SMALLEST_NORMAL (0 for a norm beyond the float range) needs the direction.
        if n * self.tau >= 2.0**1020 or ((scale < SMALLEST_NORMAL) & (norms > self.tau)).any():
            return self._step_at_limits(arr, v, norms)
        new = np.empty(d)
        for block in column_blocks(d):
            new[block] = v[block] + (scale @ (arr[:, block] - v[block])) / n
        return new

    def _step_at_limits(self, arr: F64, v: F64, norms: F64) -> F64:
        """The step at the float's limits (C6.9): the moves clipped by ``clip_rows`` (a row
        beyond the float range, or whose x_i - v overflowed or whose scale underflows, moves
        by tau in its direction), averaged without overflow. Builds the n x d moves, which
        only inputs at the float's limits make necessary."""
        n = arr.shape[0]
        moves = clip_rows(arr, np.full(n, self.tau), norms, center=v)
        return np.asarray(v + weighted_sum(np.full(n, 1.0 / n), moves, np.ones(n)))


def _rows_minus(arr: F64, center: F64, rows: NDArray[np.intp]) -> F64:
    return np.asarray(arr[rows] - center, dtype=np.float64)


CLIP_BLOCK = 4096  # columns: measured best of 512-65536 at 9 x 1.25M, 30 x 300k, 100 x 100k


def column_blocks(d: int) -> list[slice]:
    """Consecutive column slices of at most CLIP_BLOCK columns covering range(d)."""
    return [slice(a, min(d, a + CLIP_BLOCK)) for a in range(0, d, CLIP_BLOCK)]
