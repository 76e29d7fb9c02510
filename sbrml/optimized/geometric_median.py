"""Geometric median on NumPy arrays (spec/10-geometric.md, D10.1, C10.2); same API as the
reference's ``geometric_median``.

Both ``run`` (on D5.3's Gram matrix, seen from its central row) and ``solve`` (on 4^-k D)
iterate on Gram matrices with BLAS, so a step costs O(n^2) instead of O(n d); they agree with
the reference to rounding (C10.3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.optimized.distances import central_row, checked_distances
from sbrml.optimized.rules import (
    F64,
    check_distance_matrix,
    scaled_distances,
    true_distances,
    weighted_sum,
)
from sbrml.reference.geometric_median import WeiszfeldReport, scaled_nu, unscale
from sbrml.reference.rules import (
    NeedsMajority,
    check_positive_int,
    check_positive_real,
    distance_shift,
)

__all__ = ["GeometricMedian", "WeiszfeldReport", "pivot_gram"]


class GeometricMedian(NeedsMajority):
    """Smoothed Weiszfeld from the mean (D10.1, C10.2); see the reference docstring."""

    name = "geomed"
    clause = "C10.1"
    scale_invariant = False

    def __init__(self, f: int = 0, nu: float = 1e-6, tol: float = 1e-10, max_iter: int = 500):
        super().__init__(f)
        self.nu = check_positive_real(self.name, "nu", nu, "C10.2")
        self.tol = check_positive_real(self.name, "tol", tol, "C10.2")
        self.max_iter = check_positive_int(self.name, "max_iter", max_iter, "C10.2")

    def run(self, x: ArrayLike) -> tuple[F64, WeiszfeldReport]:
        """D10.1 in the clear, computed as ``solve`` does: z = sum_i c_i x_i.

        The iterates are the same affine combinations as in x-space (C10.3), but each step
        costs O(n^2) instead of O(n d). The Gram matrix is D5.3's own, seen from its central
        row, where a far row's products keep their precision (C6.8), scaled by a power of
        four (C6.9; nu with it).
        """
        arr, dist = checked_distances(self.name, x)
        self.check_n(arr.shape[0], self.name)
        extra = distance_shift(float(dist.value.max()))
        with np.errstate(under="ignore"):
            gram = np.ldexp(0.5 * (dist.gram + dist.gram.T), -2 * extra)
        c, report = self._iterate(gram, extra + dist.shift, dist.centre)
        return weighted_sum(c, arr), report

    def solve(self, d: ArrayLike, unit: int = 1) -> tuple[F64, WeiszfeldReport]:
        """D10.1 on distances: the coefficients c of z = sum c_i x_i, and the report."""
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        return self._iterate(*pivot_gram(arr, unit))

    def _iterate(self, base: F64, shift: int, p: int) -> tuple[F64, WeiszfeldReport]:
        """Weiszfeld on 4^-shift G^p (x seen from input p), each step seen from the input of
        largest weight; lengths are 2^-shift times the true ones, and so is nu (as the
        reference's solve)."""
        n = base.shape[0]
        nu = scaled_nu(self.nu, shift)

        def seen_from(q: int) -> F64:
            if q == p:
                return base
            return np.asarray(base - base[:, q][:, None] - base[q, :][None, :] + base[q, q])

        def radii(g: F64, c: F64) -> F64:
            gc = g @ c
            return np.sqrt(np.maximum(0.0, np.diag(g) - 2 * gc + c @ gc))

        def report(t: int, converged: bool, step: float, spread: float) -> WeiszfeldReport:
            return WeiszfeldReport(t, converged, unscale(step, shift), unscale(spread, shift))

        c = np.full(n, 1.0 / n)
        spread = float(radii(base, c).max())
        step = 0.0
        for t in range(1, self.max_iter + 1):
            if spread == 0.0:
                return c, report(t - 1, True, 0.0, 0.0)
            top = c.max()
            g = seen_from(p if c[p] == top else int(np.argmax(c)))
            # beta_i = 1/max(nu, r_i) normalised, as m/max(nu, r_i): no beta overflows.
            r = radii(g, c)
            denominators = np.maximum(nu, r)
            beta = denominators.min() / denominators
            new = beta / beta.sum()
            delta = new - c
            step = math.sqrt(max(0.0, float(delta @ g @ delta)))
            c = new
            # C10.2: the lower median of the distances, which one far input cannot move.
            if step <= self.tol * max(nu, float(np.sort(r)[(n - 1) // 2])):
                return c, report(t, True, step, spread)
        return c, report(self.max_iter, False, step, spread)

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        return self.solve(d, unit)[0]

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        return self.run(x)[0]


def pivot_gram(d: NDArray[Any], unit: int) -> tuple[F64, int, int]:
    """The reference's ``pivot_gram``: 4^-k (D_ip + D_jp - D_ij) / (2 unit), exact for
    integers (Python ints, one rounding), from the doubles for a float D (D10.1, C6.9)."""
    dist, shift = scaled_distances(d, unit)
    p = central_row(dist)
    if d.dtype.kind not in "iuO":
        return np.asarray((dist[:, p][:, None] + dist[p, :][None, :] - dist) / 2), shift, p
    ints = d.astype(object)
    exact = ints[:, p][:, None] + ints[p, :][None, :] - ints
    scaled = true_distances(exact, 2 * unit)
    with np.errstate(under="ignore"):
        return np.asarray(np.ldexp(scaled, -2 * shift), dtype=np.float64), shift, p
