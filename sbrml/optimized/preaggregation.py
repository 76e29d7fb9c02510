"""Pre-aggregation and composition on NumPy arrays (spec/11-preaggregation.md).

Mixing matrices, exact mixed distances for integer D and the permutation follow the
reference's definitions, so secure rounds with NNM or bucketing give identical transcripts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.rules import Rule, is_distance_rule
from sbrml.optimized.clipping import clip_rows, comparable_norms, row_norms
from sbrml.optimized.distances import check_matrix, checked_distances
from sbrml.optimized.rules import F64, check_distance_matrix, rowwise_lowest, settle_rows

# Compose is type-agnostic (it only calls pre.mix and the rule), so both trees share it.
from sbrml.reference.preaggregation import AdaptiveClipping as ReferenceAdaptiveClipping
from sbrml.reference.preaggregation import Bucketing as ReferenceBucketing
from sbrml.reference.preaggregation import Compose, Mixing, PreAggregation
from sbrml.reference.preaggregation import StaticClipping as ReferenceStaticClipping
from sbrml.reference.rules import NeedsMajority

__all__ = [
    "AdaptiveClipping",
    "Bucketing",
    "Compose",
    "ComposeDistance",
    "Mixing",
    "NearestNeighborMixing",
    "StaticClipping",
    "compose",
]


def apply_mixing(mixing: Mixing, x: NDArray[np.float64], top: float = math.inf) -> F64:
    """y = (N / L) x with one BLAS product; columns where a sum overflows are redone on x
    scaled by a power of two (C6.9: rows of M sum to 1, so y is finite for finite x).

    ``top`` bounds |x_ik| when the caller knows one: then no sum can overflow and the scan
    for one is skipped.
    """
    nums = np.asarray(mixing.numerators, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(nums @ x / mixing.denominator, dtype=np.float64)
    if top * mixing.denominator < 2.0**1020:
        return out
    bad = np.flatnonzero(~np.isfinite(out).all(axis=0))
    if bad.size:
        shift = int(mixing.denominator).bit_length() + 2
        out[:, bad] = np.ldexp(nums @ np.ldexp(x[:, bad], -shift) / mixing.denominator, shift)
    return out


def mixed_distances(mixing: Mixing, d: NDArray[Any]) -> NDArray[Any]:
    """Implements C11.5: L^2 ||y_b - y_c||^2 = Q_bc - (Q_bb + Q_cc)/2, Q = N D N^T.

    Integer D is multiplied as Python ints (object arrays), so the result is exact.
    """
    exact = d.dtype.kind in "iuO"
    nums = np.asarray(mixing.numerators, dtype=object if exact else np.float64)
    q = nums @ (d.astype(object) if exact else d) @ nums.T
    diag = np.diag(q)
    out = (
        q - (diag[:, None] + diag[None, :]) // 2
        if exact
        else q - (diag[:, None] + diag[None, :]) / 2
    )
    if not exact:
        # Floating-point products are not exactly symmetric; symmetrise, then clip at 0.
        out = np.maximum((out + out.T) / 2, 0.0)
    np.fill_diagonal(out, 0)
    return np.asarray(out)


def combine_weights(mixing: Mixing, inner: ArrayLike) -> F64:
    """Implements C11.6: p_k = fsum of N_bk copies of p_b over b, divided by L.

    Only the b with p_b != 0 contribute; with one of them (Krum, medoid) the correctly rounded
    N_bk p_b is a single product, otherwise each column is one fsum over the contributors.
    """
    weights = np.asarray(inner, dtype=np.float64)
    nums = np.asarray(mixing.numerators, dtype=np.int64)
    active = np.flatnonzero(weights)
    if len(active) == 1:
        b = int(active[0])
        return np.asarray(nums[b] * weights[b] / mixing.denominator, dtype=np.float64)
    sub = nums[active].T  # column k: how many copies of each active p_b enter p_k
    values = weights[active]
    out = np.empty(nums.shape[1])
    if int(sub.max(initial=0)) <= 1:  # NNM: 0/1 numerators, a masked selection per column
        chosen = sub.astype(bool)
        for k in range(len(out)):
            out[k] = math.fsum(values[chosen[k]].tolist())
    else:
        for k in range(len(out)):
            out[k] = math.fsum(np.repeat(values, sub[k]).tolist())
    return out / mixing.denominator


class NearestNeighborMixing(NeedsMajority):
    """Nearest-neighbour mixing (D11.2): mean of the n - f nearest, self included."""

    name = "nnm"
    clause = "C11.2"
    linear = True

    def output_count(self, n: int) -> int:
        return n

    def mixing(self, d: ArrayLike, *, rng: Any = None) -> Mixing:
        arr = check_distance_matrix(self.name, d)
        n = arr.shape[0]
        self.check_n(n, self.name)
        return self._mixing(arr)

    def _mixing(self, d: NDArray[Any], nearest: NDArray[np.intp] | None = None) -> Mixing:
        n = d.shape[0]
        if nearest is None:
            nearest = rowwise_lowest(d, n - self.f)  # C6.4, or C6.7 for a float D
        rows = np.zeros((n, n), dtype=np.int64)
        np.put_along_axis(rows, nearest, 1, axis=1)
        # An int64 array in place of the reference's lists: this tree's consumers take arrays
        # (np.asarray), and at n = 100 the round trip through lists was a fifth of weights(D).
        return Mixing(rows, n - self.f)  # type: ignore[arg-type]

    def mix(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr, dist = checked_distances(self.name, x)
        n = arr.shape[0]
        self.check_n(n, self.name)
        # C6.8: each row's n - f nearest, settled on the bounds (refined, rescaled if need be).
        nearest = settle_rows(dist, n - self.f)
        return apply_mixing(self._mixing(dist.value, nearest), arr, dist.magnitude())


class Bucketing(ReferenceBucketing):
    """Bucketing (D11.3, C11.3): the reference's permutation and buckets (a small-n, exact
    computation shared by both trees); the mixing itself is one BLAS product here."""

    # Arrays in, arrays out: the trees' types differ by design (D6.1), hence the overrides.
    def mixing(self, d: ArrayLike, *, rng: Any = None) -> Mixing:  # type: ignore[override]
        return self.mixing_for(check_distance_matrix(self.name, d).shape[0], rng)

    def mix(self, x: ArrayLike, *, rng: Any = None) -> F64:  # type: ignore[override]
        arr = check_matrix(self.name, "x", x)
        return apply_mixing(self.mixing_for(arr.shape[0], rng), arr)


def checked_norms(function: str, x: ArrayLike) -> tuple[NDArray[np.float64], F64]:
    """check_matrix and the row norms in one pass: a NaN or an infinity makes its row's norm
    non-finite, and only then is x scanned for the error that names the entry (D6.1)."""
    arr = check_matrix(function, "x", x, scan=False)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = row_norms(arr)
    if not np.isfinite(norms).all():
        check_matrix(function, "x", arr)
    return arr, norms


class StaticClipping(ReferenceStaticClipping):
    """Static clipping (D11.4); hyperparameters and checks are the reference's."""

    def mix(self, x: ArrayLike, *, rng: Any = None) -> F64:  # type: ignore[override]
        arr, norms = checked_norms(self.name, x)
        return clip_rows(arr, np.full(arr.shape[0], self.c), norms)


class AdaptiveClipping(ReferenceAdaptiveClipping):
    """ARC (D11.5): the k = floor(2 f (n - f) / n) largest-norm inputs clipped to the next norm."""

    def mix(self, x: ArrayLike, *, rng: Any = None) -> F64:  # type: ignore[override]
        arr, norms = checked_norms(self.name, x)
        n = arr.shape[0]
        self.check_n(n, self.name)
        k = 2 * self.f * (n - self.f) // n
        beyond, keys = comparable_norms(arr, norms)  # norms beyond the float range (C6.9)
        order = np.lexsort((np.arange(n), -keys, ~beyond))
        if k and beyond[order[k]]:
            # The threshold and the rows above it are beyond the float range; their norms are
            # known at one power-of-two scale, where the ratio is accurate (as the reference).
            scale = np.ones(n)
            scale[order[:k]] = keys[order[k]] / keys[order[:k]]
            return np.asarray(arr * scale[:, None])
        thresholds = np.full(n, np.inf)
        if k:
            thresholds[order[:k]] = norms[order[k]]
        return clip_rows(arr, thresholds, norms)


class ComposeDistance(Compose):
    """A linear pre-aggregation then a distance rule (C11.6)."""

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        arr = check_distance_matrix(self.name, d)
        mixing = self.pre.mixing(arr, rng=rng)  # type: ignore[attr-defined]
        self.check_n(arr.shape[0])  # the later stages' n, worded for the rows given (D11.6)
        inner = self.rule.weights(  # type: ignore[attr-defined]
            mixed_distances(mixing, arr), unit=unit * mixing.denominator**2, rng=rng
        )
        return combine_weights(mixing, inner)


def compose(pre: PreAggregation, rule: Rule) -> Compose:
    """Compose(pre, rule), with a distance form when pre is linear and rule has one (C11.6)."""
    if pre.linear and is_distance_rule(rule):
        return ComposeDistance(pre, rule)
    return Compose(pre, rule)
