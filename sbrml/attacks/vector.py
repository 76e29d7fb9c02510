"""Attacks that choose the Byzantine workers' vectors (spec/16-attacks.md, D16.1-D16.6)."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import ParameterError, shown
from sbrml.optimized.distances import check_matrix
from sbrml.optimized.randomness import RandomSource, ring_elements

F64 = NDArray[np.float64]


def _check_f(attack: str, f: int) -> int:
    if isinstance(f, bool) or not isinstance(f, int) or f < 1:
        raise ParameterError(
            attack, "f", "an int f >= 1 (the number of Byzantine vectors)", "C16.1", shown(f)
        )
    return f


def _real(attack: str, name: str, value: object, clause: str, positive: bool = False) -> float:
    # Used as a double: an int beyond the float range is no finite real (float() and
    # math.isfinite would raise OverflowError on it).
    v = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:
            v = math.inf
    if not math.isfinite(v):
        raise ParameterError(attack, name, "a finite real", clause, shown(value))
    if positive and v <= 0:
        raise ParameterError(attack, name, f"{name} > 0", clause, shown(value))
    return v


def normal_draws(rng: RandomSource, count: int) -> F64:
    """Implements D16.2: standard normals by Box-Muller from the rng's keystream.

    Each pair reads two ring elements; u = (top 53 bits + 1) / 2^53 lies in (0, 1], so the
    logarithm is finite: z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2).
    """
    pairs = -(-count // 2)
    raw = ring_elements(rng, 2 * pairs).reshape(pairs, 2)
    u = ((raw >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53
    radius = np.sqrt(-2.0 * np.log(u[:, 0]))
    angle = 2.0 * np.pi * u[:, 1]
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]).reshape(-1)[:count]


class SignFlip:
    """D16.1: each Byzantine vector is -mean(honest). Omniscient."""

    name = "sign-flip"
    omniscient = True

    def __init__(self, f: int):
        self.f = _check_f(self.name, f)

    def __call__(self, honest: ArrayLike, *, rng: Any = None) -> F64:
        x = check_matrix(self.name, "honest", honest)
        return np.tile(-x.mean(axis=0), (self.f, 1))


class Gaussian:
    """D16.2: each Byzantine coordinate is N(mu, sigma^2), independently. Not omniscient."""

    name = "gaussian"
    omniscient = False

    def __init__(self, f: int, mu: float = 0.0, sigma: float = 200.0):
        self.f = _check_f(self.name, f)
        self.mu = _real(self.name, "mu", mu, "C16.1")
        self.sigma = _real(self.name, "sigma", sigma, "C16.1", positive=True)

    def __call__(self, honest: ArrayLike, *, rng: RandomSource) -> F64:
        x = check_matrix(self.name, "honest", honest)
        if rng is None:
            raise ParameterError(self.name, "rng", "a RandomSource", "C16.1", "None")
        d = x.shape[1]
        return self.mu + self.sigma * normal_draws(rng, self.f * d).reshape(self.f, d)


class IPM:
    """D16.3: inner-product manipulation, each Byzantine vector -eps * mean(honest). Omniscient."""

    name = "ipm"
    omniscient = True

    def __init__(self, f: int, epsilon: float = 0.1):
        self.f = _check_f(self.name, f)
        self.epsilon = _real(self.name, "epsilon", epsilon, "C16.1", positive=True)

    def __call__(self, honest: ArrayLike, *, rng: Any = None) -> F64:
        x = check_matrix(self.name, "honest", honest)
        return np.tile(-self.epsilon * x.mean(axis=0), (self.f, 1))


def alie_z(n: int, f: int) -> float:
    """Implements C16.4: s = floor(n/2 + 1) - f and z = Phi^-1((n - s) / n) (Baruch et al. 2019)."""
    s = n // 2 + 1 - f
    if not 0 < s < n:
        raise ParameterError(
            "alie_z", "n, f", "0 < floor(n/2 + 1) - f < n", "C16.4", f"n={n}, f={f}"
        )
    return NormalDist().inv_cdf((n - s) / n)


class ALIE:
    """D16.4: A Little Is Enough: mu - z sigma per coordinate over the honest vectors. Omniscient.

    sigma is the population standard deviation (ddof = 0). ``z=None`` takes z from n and f
    (C16.4) with n = honest + f.
    """

    name = "alie"
    omniscient = True

    def __init__(self, f: int, z: float | None = None):
        self.f = _check_f(self.name, f)
        self.z = None if z is None else _real(self.name, "z", z, "C16.1")

    def __call__(self, honest: ArrayLike, *, rng: Any = None) -> F64:
        x = check_matrix(self.name, "honest", honest)
        z = alie_z(x.shape[0] + self.f, self.f) if self.z is None else self.z
        return np.tile(x.mean(axis=0) - z * x.std(axis=0), (self.f, 1))


class Mimic:
    """D16.5: every Byzantine vector copies honest worker ``target``. Omniscient."""

    name = "mimic"
    omniscient = True

    def __init__(self, f: int, target: int = 0):
        self.f = _check_f(self.name, f)
        if isinstance(target, bool) or not isinstance(target, int) or target < 0:
            raise ParameterError(self.name, "target", "an int >= 0", "C16.1", shown(target))
        self.target = target

    def __call__(self, honest: ArrayLike, *, rng: Any = None) -> F64:
        x = check_matrix(self.name, "honest", honest)
        if self.target >= x.shape[0]:
            raise ParameterError(
                self.name, "target", f"< {x.shape[0]} honest workers", "C16.1", shown(self.target)
            )
        return np.tile(x[self.target], (self.f, 1))


def _direction(attack: str, honest: F64) -> F64:
    if attack == "ipm":
        return np.asarray(-honest.mean(axis=0))
    return np.asarray(-honest.std(axis=0))


class _Optimal:
    """D16.6: the factor tau >= 0 that pushes ``aggregator`` furthest from the honest mean."""

    name = ""
    omniscient = True

    def __init__(self, f: int, aggregator: Any, refine: int = 30):
        self.f = _check_f(self.name, f)
        if not callable(aggregator):
            raise ParameterError(self.name, "aggregator", "a rule", "C16.1", shown(aggregator))
        self.aggregator = aggregator
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ParameterError(self.name, "refine", "an int >= 0", "C16.1", shown(refine))
        self.refine = refine

    def _attack(self, x: F64, tau: float) -> F64:
        base = x.mean(axis=0) if self.name == "optimal-alie" else np.zeros(x.shape[1])
        return np.tile(base + tau * _direction(self.name.removeprefix("optimal-"), x), (self.f, 1))

    def damage(self, honest: ArrayLike, tau: float, *, rng: Any = None) -> float:
        """||agg(honest and f copies of attack(tau)) - mean(honest)||."""
        x = check_matrix(self.name, "honest", honest)
        z = np.asarray(self.aggregator(np.vstack([x, self._attack(x, tau)]), rng=rng))
        return float(np.linalg.norm(z - x.mean(axis=0)))

    def best_tau(self, honest: ArrayLike, *, rng: Any = None) -> float:
        """C16.6: the best of tau = 0 and 2^k (k = -8..8), then ``refine`` golden-section steps
        between the neighbouring grid points; ties go to the smaller tau."""
        grid = [0.0] + [2.0**k for k in range(-8, 9)]
        scores = [self.damage(honest, t, rng=rng) for t in grid]
        k = int(np.argmax(scores))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
        best, best_score = grid[k], scores[k]
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(self.refine):
            a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
            sa, sb = self.damage(honest, a, rng=rng), self.damage(honest, b, rng=rng)
            for t, s in ((a, sa), (b, sb)):
                if s > best_score:
                    best, best_score = t, s
            lo, hi = (lo, b) if sa >= sb else (a, hi)
        return best

    def __call__(self, honest: ArrayLike, *, rng: Any = None) -> F64:
        x = check_matrix(self.name, "honest", honest)
        return self._attack(x, self.best_tau(x, rng=rng))


class OptimalIPM(_Optimal):
    """D16.6 for IPM: -tau * mean(honest), tau searched against the aggregator."""

    name = "optimal-ipm"


class OptimalALIE(_Optimal):
    """D16.6 for ALIE: mean - tau * std, tau searched against the aggregator."""

    name = "optimal-alie"


ATTACKS: dict[str, Any] = {
    "sign-flip": SignFlip,
    "gaussian": Gaussian,
    "ipm": IPM,
    "alie": ALIE,
    "mimic": Mimic,
    "optimal-ipm": OptimalIPM,
    "optimal-alie": OptimalALIE,
}
