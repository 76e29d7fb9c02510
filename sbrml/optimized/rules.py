"""Krum and Multi-Krum on NumPy arrays (spec/06-rules.md); same API as the reference.

``weights(D)`` accepts float distances (plaintext) or the exact ring integers the secure
round reconstructs (uint64); integer scores are summed as Python ints so that they are
exact and agree with the reference bit for bit, float scores follow C6.7 as the reference
does. ``rule(x)`` selects on D5.3's bounded float distances and refines what the choice
needs (``settle_lowest``, C6.8), so it selects as exact arithmetic does up to ties.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.optimized.distances import checked_distances
from sbrml.optimized.settle import (
    CERTAIN,
    rowwise_lowest,
    settle,
    settle_lowest,
    settle_rows,
    tolerant_lowest,
    unsettled,
)
from sbrml.reference.rules import CONVENTIONS, check_f, distance_shift, need_workers

__all__ = [
    "CERTAIN",
    "Krum",
    "MultiKrum",
    "rowwise_lowest",
    "settle",
    "settle_lowest",
    "settle_rows",
    "tolerant_lowest",
    "unsettled",
]

F64 = NDArray[np.float64]


def _scalar(value: Any) -> Any:
    # Object arrays (exact mixed distances) hold Python ints, which have no .item().
    return value.item() if isinstance(value, np.generic) else value


def check_distance_matrix(function: str, d: ArrayLike) -> NDArray[Any]:
    """Implements D6.2: D is square, symmetric, zero on the diagonal, finite and >= 0."""
    arr = np.asarray(d)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ShapeError(function, "D", "an n x n matrix with n >= 1", "D6.2", f"shape {arr.shape}")
    if arr.dtype == object:
        # Exact integers (mixed distances of the secure round); anything else is refused.
        bad = [v for v in arr.ravel().tolist() if isinstance(v, bool) or not isinstance(v, int)]
        if bad:
            raise ShapeError(function, "D", "real entries", "D6.2", shown(bad[0]))
    elif arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise ShapeError(function, "D", "real entries", "D6.2", f"dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ShapeError(
            function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", repr(float(arr[i, j]))
        )
    if arr.dtype.kind in "ifO" and (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        raise ShapeError(
            function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", shown(_scalar(arr[i, j]))
        )
    diag = np.diag(arr)
    if (diag != 0).any():
        i = int(np.argmax(diag != 0))
        raise ShapeError(
            function, f"D[{i}][{i}]", "a zero diagonal", "D6.2", shown(_scalar(diag[i]))
        )
    if not np.array_equal(arr, arr.T):
        i, j = np.argwhere(arr != arr.T)[0]
        raise ShapeError(
            function,
            f"D[{i}][{j}]",
            "D symmetric",
            "D6.2",
            f"{shown(_scalar(arr[i, j]))} vs {shown(_scalar(arr[j, i]))}",
        )
    return arr


def krum_scores(d: NDArray[Any], f: int, offset: int = 2) -> NDArray[Any]:
    """Implements D6.3: score(i) = sum of the n - f - offset smallest D_ij over j != i.

    Exact entries (integer dtypes, Python ints) give exact sums; a float D gives the sum of
    the doubles in ascending order, left to right (C6.7), the reference's double.
    """
    n = d.shape[0]
    keep = n - f - offset
    exact = d.astype(object) if d.dtype.kind in "iu" else d
    off = exact[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    if exact.dtype == object:
        return np.asarray(np.sort(off, axis=1)[:, :keep].sum(axis=1))
    return smallest_sums(off, keep)


def smallest_sums(off: F64, keep: int) -> F64:
    """Per row, the sum of the ``keep`` smallest values, ascending, left to right (C6.7)."""
    if keep <= 0:
        return np.zeros(off.shape[0])
    smallest = np.sort(np.partition(off, keep - 1, axis=1)[:, :keep], axis=1)
    return np.asarray(np.cumsum(smallest, axis=1)[:, -1], dtype=np.float64)


def krum_float_scores(d: F64, keep: int) -> F64:
    """D6.3's scores of a float matrix with ``keep`` neighbours (C6.7's order of summation)."""
    n = d.shape[0]
    if n == 1:
        return np.zeros(1)
    return smallest_sums(d[~np.eye(n, dtype=bool)].reshape(n, n - 1), keep)


def lowest(scores: NDArray[Any], m: int) -> NDArray[np.intp]:
    """Implements C6.4: the m indices of lowest score, ties broken by the lower index."""
    return np.argsort(scores, kind="stable")[:m]


def choose_lowest(scores: NDArray[Any], m: int) -> NDArray[np.intp]:
    """The m lowest scores: exact comparisons (C6.4), or C6.7's tolerant order for floats."""
    if scores.dtype.kind == "f":
        return tolerant_lowest(scores, m)
    return lowest(scores, m)


def true_distances(d: NDArray[Any], unit: int) -> F64:
    """D6.2: d / unit as doubles; integers divided exactly and rounded once, as in the reference."""
    if d.dtype.kind in "iuO":
        return np.array([[int(v) / unit for v in row] for row in d.tolist()], dtype=np.float64)
    return np.asarray(d, dtype=np.float64) / unit


def scaled_distances(d: NDArray[Any], unit: int) -> tuple[F64, int]:
    """C6.9: (4^-k d / unit, k) with the largest entry in [1, 4), as the reference computes
    it (for floats and integers: the same doubles)."""
    base = true_distances(d, unit)
    shift = distance_shift(float(base.max(initial=0.0)))
    if not shift:
        return base, 0
    with np.errstate(under="ignore"):
        return np.asarray(np.ldexp(base, -2 * shift), dtype=np.float64), shift


def one_hot(n: int, chosen: ArrayLike) -> F64:
    """Weights 1/|chosen| on ``chosen`` and 0 elsewhere."""
    idx = np.asarray(chosen, dtype=np.intp)
    p = np.zeros(n)
    p[idx] = 1.0 / len(idx)
    return p


class Krum:
    """Krum (Blanchard et al., NeurIPS 2017). Implements D6.3 and C6.6; see the reference."""

    name = "krum"
    scale_invariant = True

    def __init__(self, f: int, convention: str = "blanchard"):
        check_f(self.name, f)
        if convention not in CONVENTIONS:
            raise ParameterError(
                self.name, "convention", "one of 'blanchard', 'byzfl'", "C6.6", shown(convention)
            )
        self.f = f
        self.convention = convention
        self.offset = CONVENTIONS[convention]

    def check_n(self, n: int, function: str = "krum") -> None:
        """Implements C6.3 (n > 2f + 2) and C6.6 (n > 2f for the ByzFL convention)."""
        if self.offset == 2:
            need_workers(self.name, function, n, self.f, "n > 2f + 2", n > 2 * self.f + 2, "C6.3")
        else:
            need_workers(self.name, function, n, self.f, "n > 2f", n > 2 * self.f, "C6.6")

    def selected_count(self, n: int) -> int:
        """Krum selects one input."""
        return 1

    def _select(self, d: ArrayLike) -> NDArray[np.intp]:
        arr = check_distance_matrix(self.name, d)
        n = arr.shape[0]
        self.check_n(n, self.name)
        return choose_lowest(krum_scores(arr, self.f, self.offset), self.selected_count(n))

    def _select_in_clear(self, x: ArrayLike) -> tuple[F64, NDArray[np.intp]]:
        """C6.8: the selection on x, settled on bounded float distances (D5.3)."""
        arr, dist = checked_distances(self.name, x)
        n = arr.shape[0]
        self.check_n(n, self.name)
        keep = n - self.f - self.offset
        m = self.selected_count(n)
        score = functools.partial(krum_float_scores, keep=keep)
        return arr, settle_lowest(dist, score, m, keep=keep)

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        """Implements D6.3 on distances: p = e_{i*}."""
        return one_hot(np.asarray(d).shape[0], self._select(d))

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        """Implements D6.3 in the clear: returns a copy of x_{i*}."""
        arr, chosen = self._select_in_clear(x)
        return np.array(arr[int(chosen[0])], dtype=np.float64)


class MultiKrum(Krum):
    """Multi-Krum (El Mhamdi et al., ICML 2018). Implements D6.5; m defaults to n - f."""

    name = "multikrum"

    def __init__(self, f: int, m: int | None = None, convention: str = "blanchard"):
        super().__init__(f, convention)
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ParameterError(self.name, "m", "an int m >= 1 or None", "C6.5", shown(m))
        self.m = m

    def selected_count(self, n: int) -> int:
        """Implements C6.5: m, or n - f when m is None; m <= n."""
        m = n - self.f if self.m is None else self.m
        if m > n:
            raise ParameterError(self.name, "m", "m <= n", "C6.5", f"m={shown(m)}, n={shown(n)}")
        return m

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        """Implements D6.5 on distances: p_i = 1/m on the selected indices."""
        return one_hot(np.asarray(d).shape[0], self._select(d))

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        """Implements D6.5 in the clear: the mean of the selected vectors."""
        arr, chosen = self._select_in_clear(x)
        return mean_of_rows(arr, chosen)


def mean_of_rows(arr: NDArray[np.float64], rows: Any) -> F64:
    """The mean of the given rows as one BLAS product with 0/1 weights: one pass over the
    matrix and no copy of the selected rows (arr[rows] would copy them all first). Columns
    whose sum overflows are summed again scaled by a power of two (C6.9)."""
    mask = np.zeros(arr.shape[0])
    mask[np.asarray(rows, dtype=np.intp)] = 1.0
    return weighted_sum(mask / np.count_nonzero(mask), arr, mask)


def weighted_sum(w: F64, arr: NDArray[np.float64], numerators: F64 | None = None) -> F64:
    """sum_i w_i x_i for convex weights, finite for finite x (C6.9).

    ``numerators`` (with w = numerators / L) sums with integer weights and divides once, as
    the mean does; columns whose sum overflows are redone on x scaled by a power of two.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if numerators is None:
            out = np.asarray(w @ arr, dtype=np.float64)
        else:
            count = float(numerators.sum())
            out = np.asarray((numerators @ arr) / count, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        weights = w if numerators is None else numerators
        shift = int(np.abs(weights).sum()).bit_length() + 2
        part = weights @ np.ldexp(arr[:, bad], -shift)
        if numerators is not None:
            part = part / float(numerators.sum())
        out[bad] = np.ldexp(part, shift)
    return out
