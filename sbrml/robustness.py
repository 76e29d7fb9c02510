"""(f, kappa)-robustness: the empirical ratio, the published bounds, and a worst-case search.

Definition (spec/12-robustness.md, D12.1): F is (f, kappa)-robust if for every input and
every S of size n - f, ||F(x) - mean_S||^2 <= (kappa / |S|) sum_{i in S} ||x_i - mean_S||^2.
``empirical_kappa`` returns the smallest kappa that one input forces; ``search_kappa`` looks
for an input that forces a large one, as an attacker would. The search is seeded NumPy
randomness over public test inputs, never protocol randomness.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
from sbrml.rulespec import build_rule

F64 = NDArray[np.float64]
Progress = Callable[[int], None]
# Starting inputs per restart of the search (see _starts).
STARTS_PER_RESTART = 6


@dataclass(frozen=True)
class Bound:
    """A published upper bound on kappa, its source, and whether this project checked it."""

    formula: str
    value: Callable[[int, int], float]
    source: str
    status: str


def lower_bound(n: int, f: int) -> float:
    """D12.2: no rule is (f, kappa)-robust with kappa < f / (n - 2f)."""
    return f / (n - 2 * f)


UNVERIFIED = "unverified: recalled from the survey literature, paper text not reachable here"
PUBLISHED: dict[str, Bound] = {
    "krum": Bound(
        "6(1 + f/(n-2f))",
        lambda n, f: 6 * (1 + f / (n - 2 * f)),
        "Allouah et al., Fixing by Mixing, AISTATS 2023",
        UNVERIFIED,
    ),
    "geomed": Bound(
        "4(1 + f/(n-2f))^2",
        lambda n, f: 4 * (1 + f / (n - 2 * f)) ** 2,
        "Allouah et al., Fixing by Mixing, AISTATS 2023",
        UNVERIFIED,
    ),
    "median": Bound(
        "4(1 + f/(n-2f))^2",
        lambda n, f: 4 * (1 + f / (n - 2 * f)) ** 2,
        "Allouah et al., Fixing by Mixing, AISTATS 2023",
        UNVERIFIED,
    ),
    "trimmed-mean": Bound(
        "(6f/(n-2f))(1 + f/(n-2f))",
        lambda n, f: (6 * f / (n - 2 * f)) * (1 + f / (n - 2 * f)),
        "Allouah et al., Fixing by Mixing, AISTATS 2023",
        UNVERIFIED,
    ),
}


def published_bound(spec: str, n: int, f: int) -> float | None:
    """The published kappa bound for ``spec`` (NNM composition included), or None."""
    if spec.startswith("nnm+"):
        inner = published_bound(spec[4:], n, f)
        return None if inner is None else (8 * f / (n - f)) * (inner + 1)
    bound = PUBLISHED.get(spec)
    return None if bound is None else bound.value(n, f)


def empirical_kappa(output: F64, x: F64, f: int) -> float:
    """D12.3: max over |S| = n - f of ||output - mean_S||^2 / ((1/|S|) sum_S ||x_i - mean_S||^2).

    A subset of identical points forces output == mean_S: any other output is infinite kappa.
    The comparison allows relative rounding of 1e-9 of the data scale.
    """
    n = x.shape[0]
    scale = max(1.0, float(np.abs(x).max())) ** 2
    worst = 0.0
    for s in itertools.combinations(range(n), n - f):
        pts = x[list(s)]
        centre = pts.mean(axis=0)
        err = float(((output - centre) ** 2).sum())
        spread = float(((pts - centre) ** 2).sum()) / len(s)
        if spread <= 1e-12 * scale:
            if err > 1e-9 * scale:
                return math.inf
            continue
        worst = max(worst, err / spread)
    return worst


def kappa_of(spec: str, f: int, x: F64, seed: int = 0) -> float:
    """The empirical kappa of the rule ``spec`` on ``x`` (randomized rules draw from ``seed``)."""
    rule = build_rule(opt, spec, f)
    output = np.asarray(rule(x, rng=opt.DeterministicRandomSource(seed)), dtype=np.float64)
    return empirical_kappa(output, x, f)


def _starts(n: int, f: int, d: int, gen: np.random.Generator) -> list[F64]:
    honest = gen.standard_normal((n - f, d))
    starts = [gen.standard_normal((n, d))]
    for distance in (0.5, 2.0, 10.0):
        direction = gen.standard_normal(d)
        direction /= np.linalg.norm(direction)
        far = honest.mean(axis=0) + distance * direction * (1 + gen.random((f, 1)))
        starts.append(np.vstack([honest, far]))
    inner = np.vstack([honest, np.repeat(honest[:1], f, axis=0)])  # Byzantines copy one honest
    starts.append(inner)
    starts.append(lower_bound_input(n, f, d))
    return starts


def lower_bound_input(n: int, f: int, d: int = 1) -> F64:
    """n - f points at 0 and f at e_1: every rule that is robust at all must output 0 (the
    zeros are a subset with no spread), which gives exactly kappa = f/(n - 2f) (D12.2)."""
    x = np.zeros((n, d))
    x[n - f :, 0] = 1.0
    return x


def search_units(restarts: int, steps: int) -> int:
    """How many rule evaluations one ``search_kappa`` call reports to its ``progress``."""
    return restarts * STARTS_PER_RESTART * (steps + 1)


def search_kappa(
    spec: str,
    n: int,
    f: int,
    *,
    dim: int = 2,
    restarts: int = 4,
    steps: int = 300,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[float, F64]:
    """Hill-climb on the inputs to maximise the empirical kappa (D12.4); returns (kappa, x).

    ``progress(k)`` is told of every k rule evaluations, search_units(restarts, steps) in all.
    """
    gen = np.random.default_rng(seed)
    best_k, best_x = -1.0, np.zeros((n, dim))
    tell = progress if progress is not None else (lambda k: None)
    for _ in range(restarts):
        for x in _starts(n, f, dim, gen):
            k = kappa_of(spec, f, x, seed)
            tell(1)
            step = 0.5
            for done in range(steps):
                if math.isinf(k):
                    tell(steps - done)  # no input beats infinity: the rest is skipped
                    break
                candidate = x.copy()
                i = gen.integers(n)
                candidate[i] += step * gen.standard_normal(dim) * max(1.0, float(np.abs(x).max()))
                kc = kappa_of(spec, f, candidate, seed)
                tell(1)
                if kc >= k:
                    x, k = candidate, kc
                    step = min(step * 1.5, 10.0)
                else:
                    step = max(step * 0.7, 1e-3)
            if k > best_k:
                best_k, best_x = k, x
    return best_k, best_x


def kappa_table(
    specs: list[str], n: int, f: int, *, progress: Progress | None = None, **search: Any
) -> list[list[Any]]:
    """Rows: rule, worst kappa found, published bound (or "none known"), the lower bound
    f/(n-2f), verdict; ``progress`` as in ``search_kappa``, over all the rules."""
    rows = []
    for spec in specs:
        worst, _ = search_kappa(spec, n, f, progress=progress, **search)
        bound = published_bound(spec, n, f)
        verdict = "" if bound is None else ("within bound" if worst <= bound else "VIOLATES bound")
        rows.append(
            [spec, worst, "none known" if bound is None else bound, lower_bound(n, f), verdict]
        )
    return rows
