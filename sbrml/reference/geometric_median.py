"""Geometric median by smoothed Weiszfeld iterations (spec/10-geometric.md, D10.1, C10.2).

In the clear (``run``) the iteration works on x; on distances (``solve``, ``weights``) it works
on Gram matrices seen from a central input and from the input of largest weight, computed
from D alone (C6.1). ``run`` scales inputs beyond ``LARGE`` by a power of two and ``solve``
works on 4^-k D, nu scaled alike (C6.9).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sbrml.reference.clipping import row_norm
from sbrml.reference.distances import check_matrix
from sbrml.reference.rules import (
    NeedsMajority,
    Number,
    check_distance_matrix,
    check_positive_int,
    check_positive_real,
    fsum_scaled,
    is_float_matrix,
    mean_of_rows,
    scaled_distances,
)


@dataclass(frozen=True)
class WeiszfeldReport:
    """How the smoothed Weiszfeld iteration ended (C10.2)."""

    iterations: int
    converged: bool
    last_step: float
    spread: float


# Above this magnitude the geometric median works on x scaled by a power of two, so that no
# square of a difference overflows (C6.9); below it the arithmetic is unchanged.
LARGE = 2.0**400


def unscale(length: float, shift: int) -> float:
    """length * 2^shift, inf when that is beyond the float range (a report value only)."""
    try:
        return math.ldexp(length, shift)
    except OverflowError:
        return math.inf


def scaled_nu(nu: float, shift: int) -> float:
    """nu * 2^-shift for lengths scaled by 2^-shift (C6.9), within (0, max float]: a nu
    beyond the range is larger than every radius either way, and one below it is not 0."""
    try:
        return max(math.ldexp(nu, -shift), 2.0**-1074)
    except OverflowError:
        return sys.float_info.max


def central_index(dist: Sequence[Sequence[float]]) -> int:
    """The input whose median distance (the zero diagonal included) is smallest, lowest index
    first: with an honest majority, one among the honest inputs (D10.1, D5.3 step 4)."""
    k = len(dist) // 2
    medians = [sorted(row)[k] for row in dist]
    return medians.index(min(medians))


def pivot_gram(d: Sequence[Sequence[Number]], unit: int) -> tuple[list[list[float]], int, int]:
    """(4^-k G / unit as doubles, k, p) for G_ij = (D_ip + D_jp - D_ij)/2 = (x_i - x_p).(x_j - x_p),
    p the ``central_index`` and k as in ``scaled_distances`` (D10.1, C6.9).

    Exact entries give G exactly, rounded once: computed from rounded distances, G_ip for a
    far x_i would carry an error of u D_ip, which its weight need not make small.
    """
    dist, shift = scaled_distances(d, unit)
    p = central_index(dist)
    n = len(d)
    if is_float_matrix(d):
        g = [[(dist[i][p] + dist[j][p] - dist[i][j]) / 2 for j in range(n)] for i in range(n)]
        return g, shift, p
    scale = 2 * Fraction(unit) * Fraction(4) ** shift
    exact = [[Fraction(d[i][p] + d[j][p] - d[i][j]) for j in range(n)] for i in range(n)]
    return [[float(v / scale) for v in row] for row in exact], shift, p


def smoothed_weights(radii: Sequence[float], nu: float) -> list[float]:
    """D10.1's beta_i = 1/max(nu, r_i), normalised to sum 1: computed as m/max(nu, r_i) with
    m = min_i max(nu, r_i), so that no beta overflows however small nu is (C6.9)."""
    denominators = [max(nu, r) for r in radii]
    low = min(denominators)
    beta = [low / r for r in denominators]
    total = math.fsum(beta)
    return [b / total for b in beta]


def stopping_scale(radii: Sequence[float], nu: float) -> float:
    """C10.2: max(nu, the lower median of the iterate's distances to the inputs).

    A scale the honest majority sets: one far input moves the largest distance, not the median.
    """
    return max(nu, sorted(radii)[(len(radii) - 1) // 2])


class GeometricMedian(NeedsMajority):
    """Geometric median by smoothed Weiszfeld iterations (Pillutla et al., RFA). Implements D10.1.

    Start at the mean z_0 = (1/n) sum x_i; repeat
    beta_i = 1 / max(nu, ||x_i - z||), z <- sum beta_i x_i / sum beta_i,
    until the step ||z_new - z|| <= tol * max(nu, the lower median of ||x_i - z||) (C10.2), or
    ``max_iter`` iterations; the report also gives the spread s = max_i ||x_i - mean||. Every
    iterate is an affine combination of the inputs
    whose coefficients follow from D alone. ByzFL starts at z = 0 instead, which is not
    translation-equivariant (so not computable from D).

    Args:
        f: Byzantine workers tolerated; requires n > 2f (C10.1).
        nu: smoothing, > 0 (default 1e-6). tol: relative step, > 0 (default 1e-10).
        max_iter: iteration cap, >= 1 (default 500).
    """

    name = "geomed"
    clause = "C10.1"
    scale_invariant = False

    def __init__(self, f: int = 0, nu: float = 1e-6, tol: float = 1e-10, max_iter: int = 500):
        super().__init__(f)
        self.nu = check_positive_real(self.name, "nu", nu, "C10.2")
        self.tol = check_positive_real(self.name, "tol", tol, "C10.2")
        self.max_iter = check_positive_int(self.name, "max_iter", max_iter, "C10.2")

    def run(self, x: Sequence[Sequence[float]]) -> tuple[list[float], WeiszfeldReport]:
        """D10.1 in the clear: the output and how the iteration ended.

        Inputs beyond LARGE are scaled by a power of two first (and nu with them), which
        changes nothing but keeps every square finite (C6.9).
        """
        n, d = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        top = max(abs(v) for row in x for v in row)
        shift = math.frexp(top)[1] if top > LARGE else 0
        y = [[math.ldexp(float(v), -shift) for v in row] for row in x] if shift else x
        z, report = self._iterate(y, n, d, scaled_nu(self.nu, shift))
        if not shift:
            return z, report
        return [math.ldexp(v, shift) for v in z], WeiszfeldReport(
            report.iterations,
            report.converged,
            unscale(report.last_step, shift),
            unscale(report.spread, shift),
        )

    def _iterate(
        self, x: Sequence[Sequence[float]], n: int, d: int, nu: float
    ) -> tuple[list[float], WeiszfeldReport]:
        z = mean_of_rows(x, range(n))
        spread = max(row_norm([x[i][k] - z[k] for k in range(d)]) for i in range(n))
        step = 0.0
        for t in range(1, self.max_iter + 1):
            if spread == 0.0:
                return z, WeiszfeldReport(t - 1, True, 0.0, 0.0)
            r = [row_norm([x[i][k] - z[k] for k in range(d)]) for i in range(n)]
            w = smoothed_weights(r, nu)
            new = [fsum_scaled([w[i] * x[i][k] for i in range(n)]) for k in range(d)]
            step = row_norm([new[k] - z[k] for k in range(d)])
            z = new
            if step <= self.tol * stopping_scale(r, nu):
                return z, WeiszfeldReport(t, True, step, spread)
        return z, WeiszfeldReport(self.max_iter, False, step, spread)

    def solve(
        self, d: Sequence[Sequence[Number]], unit: int = 1
    ) -> tuple[list[float], WeiszfeldReport]:
        """D10.1 on distances: the coefficients c of z = sum c_i x_i, and the report.

        Works with Gram matrices of the points seen from one input q,
        G^q_ij = (x_i - x_q).(x_j - x_q): for sum c = 1, ||x_i - sum_k c_k x_k||^2 =
        G^q_ii - 2 (G^q c)_i + c^T G^q c, and a step delta (sum 0) has length^2
        delta^T G^q delta (= -delta^T D delta / 2). G^p for a central p comes from D
        (``pivot_gram``); each step then looks from the input of largest weight, q, with
        G^q_ij = G^p_ij - G^p_iq - G^p_jq + G^p_qq. A far input's huge distances enter only
        through its own small weight, and the input the iterate approaches has an exact
        radius form (C6.8: with D itself neither held).
        """
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        # 4^-k G / unit (C6.9): lengths are 2^-k times the true ones, and so is nu.
        return self._iterate_gram(*pivot_gram(d, unit))

    def _iterate_gram(
        self, base: list[list[float]], shift: int, p: int
    ) -> tuple[list[float], WeiszfeldReport]:
        n = len(base)
        nu = scaled_nu(self.nu, shift)

        def seen_from(q: int) -> list[list[float]]:
            if q == p:
                return base
            return [
                [base[i][j] - base[i][q] - base[j][q] + base[q][q] for j in range(n)]
                for i in range(n)
            ]

        def quad(g: list[list[float]], a: Sequence[float]) -> float:
            return math.fsum(a[i] * a[j] * g[i][j] for i in range(n) for j in range(n))

        def radii(g: list[list[float]], c: Sequence[float]) -> list[float]:
            gc = [math.fsum(g[i][k] * c[k] for k in range(n)) for i in range(n)]
            cgc = math.fsum(c[i] * gc[i] for i in range(n))
            return [math.sqrt(max(0.0, g[i][i] - 2 * gc[i] + cgc)) for i in range(n)]

        def report(t: int, converged: bool, step: float, spread: float) -> WeiszfeldReport:
            return WeiszfeldReport(t, converged, unscale(step, shift), unscale(spread, shift))

        c = [1.0 / n] * n
        spread = max(radii(base, c))
        step = 0.0
        for t in range(1, self.max_iter + 1):
            if spread == 0.0:
                return c, report(t - 1, True, 0.0, 0.0)
            top = max(c)
            g = seen_from(p if c[p] == top else c.index(top))
            r = radii(g, c)
            new = smoothed_weights(r, nu)
            delta = [new[i] - c[i] for i in range(n)]
            step = math.sqrt(max(0.0, quad(g, delta)))
            c = new
            if step <= self.tol * stopping_scale(r, nu):
                return c, report(t, True, step, spread)
        return c, report(self.max_iter, False, step, spread)

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        """Implements D10.1 on distances (C6.1)."""
        return self.solve(d, unit)[0]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        return self.run(x)[0]
