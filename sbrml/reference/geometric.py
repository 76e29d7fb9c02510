"""Geometric rules: medoid, MDA, SMEA, CAF, centered clipping (spec/10-geometric.md).

All but centered clipping choose an affine combination of the inputs that depends only on
the pairwise distances, so each also has a distance form ``weights(D)`` (C6.1). Floating
point work starts from ``scaled_distances`` (4^-k D, C6.9) and uses correctly rounded sums.
The geometric median (D10.1) has its own module, ``geometric_median``; it is re-exported
here so that ``sbrml.reference.geometric.GeometricMedian`` keeps working.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.reference.clipping import clip_to
from sbrml.reference.distances import check_matrix, sq_distances
from sbrml.reference.geometric_median import GeometricMedian as GeometricMedian
from sbrml.reference.geometric_median import WeiszfeldReport as WeiszfeldReport
from sbrml.reference.rules import (
    FLOAT_TIE_TOLERANCE,
    NeedsMajority,
    Number,
    check_distance_matrix,
    check_positive_int,
    check_positive_real,
    first_near_minimum,
    fsum_mean,
    fsum_scaled,
    is_float_matrix,
    mean_of_rows,
    scaled_distances,
)

MAX_SUBSETS = 100_000


def center_values(name: str, center: Sequence[object], d: int) -> list[float]:
    """Implements C10.6's check of ``center``: ``d`` finite reals, as doubles, else
    ``ShapeError``. An int beyond the float range is no finite real (D6.1, as ``check_matrix``
    says), refused rather than an OverflowError from float(); both trees check it here."""
    entries = list(center)
    if len(entries) != d:
        raise ShapeError(
            name, "center", f"a finite vector of length d={d}", "C10.6", f"length {len(entries)}"
        )
    out = []
    for k, c in enumerate(entries):
        try:
            v = float(c)  # type: ignore[arg-type]
        except OverflowError:
            v = math.inf
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            raise ShapeError(name, f"center[{k}]", "a finite real", "C10.6", shown(c))
        out.append(v)
    return out


class Medoid(NeedsMajority):
    """The input minimising the sum of Euclidean distances to the others. Implements D10.3.

    i* = argmin_i sum_j sqrt(D_ij) (correctly rounded sums; ties: lowest index). Requires n > 2f.
    """

    name = "medoid"
    clause = "C10.1"
    scale_invariant = True

    def _select(self, d: Sequence[Sequence[Number]]) -> int:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        scores = [math.fsum(math.sqrt(v) for v in row) for row in scaled_distances(d, 1)[0]]
        return first_near_minimum(scores)

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        chosen = self._select(d)
        return [1.0 if i == chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        check_matrix(self.name, "x", x)
        return [float(v) for v in x[self._select(sq_distances(x))]]


def check_subsets(rule: str, n: int, f: int) -> None:
    """Implements C10.4: exact subset searches refuse more than MAX_SUBSETS subsets."""
    count = math.comb(n, f)
    if count > MAX_SUBSETS:
        raise ParameterError(
            rule,
            "n, f",
            f"C(n, f) <= {MAX_SUBSETS:,} subsets for the exact search",
            "C10.4",
            f"C({shown(n)}, {shown(f)}) = {shown(count, grouped=True)}",
        )


def subsets(n: int, f: int) -> itertools.combinations[tuple[int, ...]]:
    """D10.4: the subsets of size n - f in lexicographic order (the tie-breaking order)."""
    return itertools.combinations(range(n), n - f)


class SubsetAveraging(NeedsMajority):
    """Base of the exhaustive subset rules (D10.4, D10.5): the mean of the best subset.

    Subclasses define ``score``; the subset with the lowest score wins, ties going to the first
    in lexicographic order. Requires n > 2f (C10.1) and C(n, f) <= MAX_SUBSETS (C10.4).
    """

    clause = "C10.1"
    scale_invariant = True
    float_scores = False  # True: compare with the relative tolerance of C10.5

    def check_n(self, n: int, function: str = "") -> None:
        """Implements C10.1 and C10.4."""
        super().check_n(n, function)
        check_subsets(self.name, n, self.f)

    def prepare(self, d: Sequence[Sequence[Number]]) -> Any:
        """What ``score`` reads, computed once per call (default: D itself)."""
        return d

    def score(self, prepared: Any, s: tuple[int, ...]) -> Any:
        raise NotImplementedError

    def _select(self, d: Sequence[Sequence[Number]]) -> tuple[int, ...]:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        prepared = self.prepare(d)
        candidates = list(subsets(n, self.f))
        values = [self.score(prepared, s) for s in candidates]
        if self.float_scores or is_float_matrix(d):  # C10.5 and C6.7: floats tie to rounding
            return candidates[first_near_minimum(values)]
        return candidates[min(range(len(values)), key=lambda k: (values[k], k))]

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        chosen = set(self._select(d))
        return [1.0 / len(chosen) if i in chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        check_matrix(self.name, "x", x)
        return mean_of_rows(x, self._select(sq_distances(x)))


class MinimumDiameterAveraging(SubsetAveraging):
    """Minimum-diameter averaging (El Mhamdi et al., 2018). Implements D10.4.

    S* = argmin over |S| = n - f of max_{i,j in S} D_ij; the output is the mean of S*.
    """

    name = "mda"

    def score(self, prepared: Any, s: tuple[int, ...]) -> Any:
        return max((prepared[i][j] for i, j in itertools.combinations(s, 2)), default=0)


def largest_eigenvalue(a: Sequence[Sequence[float]], sweeps: int = 50) -> float:
    """The largest eigenvalue of a small symmetric matrix by cyclic Jacobi rotations (D10.5)."""
    return largest_eigenpair(a, sweeps)[0]


def largest_eigenpair(a: Sequence[Sequence[float]], sweeps: int = 50) -> tuple[float, list[float]]:
    """The largest eigenvalue of a small symmetric matrix and a unit eigenvector, by cyclic
    Jacobi rotations (D10.5, D10.7); the rotations are accumulated in the columns of v."""
    m = [list(map(float, row)) for row in a]
    size = len(m)
    v = [[1.0 if i == j else 0.0 for j in range(size)] for i in range(size)]
    for _ in range(sweeps):
        off = math.fsum(m[i][j] ** 2 for i in range(size) for j in range(size) if i != j)
        if off <= 1e-30 * max(1.0, math.fsum(m[i][i] ** 2 for i in range(size))):
            break
        for p in range(size):
            for q in range(p + 1, size):
                if m[p][q] == 0.0:
                    continue
                theta = (m[q][q] - m[p][p]) / (2 * m[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) + math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for k in range(size):
                    mkp, mkq = m[k][p], m[k][q]
                    m[k][p], m[k][q] = c * mkp - s * mkq, s * mkp + c * mkq
                for k in range(size):
                    mpk, mqk = m[p][k], m[q][k]
                    m[p][k], m[q][k] = c * mpk - s * mqk, s * mpk + c * mqk
                for k in range(size):
                    vkp, vkq = v[k][p], v[k][q]
                    v[k][p], v[k][q] = c * vkp - s * vkq, s * vkp + c * vkq
    if not size:
        return 0.0, []
    top = max(range(size), key=lambda i: (m[i][i], -i))  # ties: the lowest index
    return m[top][top], [v[k][top] for k in range(size)]


def centered_gram(dist: Sequence[Sequence[float]], s: Sequence[int]) -> list[list[float]]:
    """K = -J D_S J / 2 for the subset S: the Gram matrix of the points centred on their mean."""
    m = len(s)
    rows = [math.fsum(dist[i][j] for j in s) / m for i in s]
    total = math.fsum(rows) / m
    return [
        [-(dist[i][j] - rows[a] - rows[b] + total) / 2 for b, j in enumerate(s)]
        for a, i in enumerate(s)
    ]


class Smea(SubsetAveraging):
    """Smallest maximum eigenvalue averaging (Allouah et al., ICML 2023), exact. Implements D10.5.

    S* = argmin over |S| = n - f of lambda_max of the empirical covariance of S, computed as
    lambda_max(K_S)/|S| with K_S the centred Gram matrix from D; the output is the mean of S*.
    """

    name = "smea"
    float_scores = True

    def prepare(self, d: Sequence[Sequence[Number]]) -> Any:
        return scaled_distances(d, 1)[0]

    def score(self, prepared: Any, s: tuple[int, ...]) -> Any:
        return largest_eigenvalue(centered_gram(prepared, s)) / len(s)


def weighted_centered_gram(
    dist: Sequence[Sequence[float]], w: Sequence[float]
) -> list[list[float]]:
    """G_ij = (x_i - mu).(x_j - mu) for mu = sum_k w_k x_k (sum w = 1), from D alone:
    G = -(D_ij - r_i - r_j + s)/2 with r_i = sum_k w_k D_ik and s = sum_k w_k r_k."""
    n = len(w)
    r = [math.fsum(w[k] * dist[i][k] for k in range(n)) for i in range(n)]
    total = math.fsum(w[k] * r[k] for k in range(n))
    return [[-(dist[i][j] - r[i] - r[j] + total) / 2 for j in range(n)] for i in range(n)]


class CovarianceFilter(NeedsMajority):
    """CAF, the covariance-bound agnostic filter (Allouah, Guerraoui, Stephan, ICML 2025).
    Implements D10.7 and C10.7.

    Weights c start at 1. While sum c > n - 2f: with w = c / sum c and mu = sum w_i x_i, take
    the top eigenpair (lambda, v) of the weighted covariance sum w_i (x_i - mu)(x_i - mu)^T,
    remember w if lambda is the smallest so far, and shrink c_i by (1 - tau_i / max tau) with
    tau_i = ((x_i - mu).v)^2. The output is sum w*_i x_i for the remembered w*. All of it runs
    on the n x n matrix K = diag(sqrt w) G diag(sqrt w) (G the Gram matrix of the centred
    points, from D), whose nonzero eigenvalues are the covariance's; tau_i = (G (sqrt w * u))_i^2
    / lambda for K's unit eigenvector u.
    """

    name = "caf"
    clause = "C10.1"
    scale_invariant = True

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        """Implements D10.7 on distances (C6.1): the remembered weights w*."""
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        dist = scaled_distances(d, unit)[0]  # CAF's weights do not depend on D's scale
        c = [1.0] * n
        best: tuple[float, list[float]] | None = None
        while best is None or math.fsum(c) > n - 2 * self.f:
            total = math.fsum(c)
            w = [ci / total for ci in c]
            g = weighted_centered_gram(dist, w)
            root = [math.sqrt(wi) for wi in w]
            lam, u = largest_eigenpair(
                [[root[i] * g[i][j] * root[j] for j in range(n)] for i in range(n)]
            )
            # C10.5's tolerance: a lambda within rounding of the best so far is not smaller.
            if best is None or lam < best[0] - FLOAT_TIE_TOLERANCE * abs(best[0]):
                best = (lam, w)
            if lam <= 0.0:
                break  # C10.7: every weighted point is at mu; nothing is left to filter
            ru = [root[j] * u[j] for j in range(n)]
            tau = [math.fsum(g[i][j] * ru[j] for j in range(n)) ** 2 / lam for i in range(n)]
            # The largest tau among the points still weighted (C10.7: one is removed per pass).
            top = max(t for t, ci in zip(tau, c, strict=True) if ci > 0)
            if top <= 0.0:
                break
            # Every tau within rounding of the largest counts as the largest (C10.5): equal
            # projections in exact arithmetic must not be told apart by rounding.
            near = top * (1.0 - FLOAT_TIE_TOLERANCE)
            c = [
                0.0 if t >= near else max(0.0, ci * (1.0 - t / top))
                for ci, t in zip(c, tau, strict=True)
            ]
        return best[1]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        n, d = check_matrix(self.name, "x", x)
        w = self.weights(sq_distances(x))
        return [fsum_scaled([w[i] * x[i][k] for i in range(n)]) for k in range(d)]


class CenteredClipping(NeedsMajority):
    """Centered clipping (Karimireddy, He, Jaggi, ICML 2021). Implements D10.6.

    v_{l+1} = v_l + (1/n) sum_i (x_i - v_l) min(1, tau / ||x_i - v_l||) for l < iterations,
    from v_0 = ``center`` (default the zero vector). The state is explicit: pass the previous
    output as ``center``; nothing carries over between calls (C10.6). Not translation
    equivariant from v_0 = 0, so it has no distance form.
    """

    name = "cc"
    clause = "C10.1"

    def __init__(self, f: int = 0, tau: float = 1.0, iterations: int = 3):
        super().__init__(f)
        self.tau = check_positive_real(self.name, "tau", tau, "C10.6")
        self.iterations = check_positive_int(self.name, "iterations", iterations, "C10.6")

    def __call__(
        self,
        x: Sequence[Sequence[float]],
        *,
        rng: Any = None,
        center: Sequence[float] | None = None,
    ) -> list[float]:
        n, d = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        v = [0.0] * d if center is None else center_values(self.name, center, d)
        for _ in range(self.iterations):
            # Each move is clipped to tau even where x_i - v overflows (C6.9, ``clip_to``);
            # n moves of up to tau may still overflow their sum, hence fsum_mean.
            moves = [clip_to(row, self.tau, v) for row in x]
            v = [v[k] + fsum_mean([m[k] for m in moves], n) for k in range(d)]
        return v
