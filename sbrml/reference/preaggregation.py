"""Pre-aggregation (NNM, bucketing, clipping, ARC) and composition (spec/11-preaggregation.md).

A pre-aggregation maps the n inputs to new points that a rule then aggregates. NNM and
bucketing are linear maps y = M x whose rows sum to 1, so the distances of the mixed points
follow from D (C11.5) and a composed distance rule has weights M^T p (C11.6). Clipping
and ARC depend on norms (distances to the origin), so compositions with them run in the
clear only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sbrml.core.errors import InsufficientWorkersError, ParameterError, shown
from sbrml.core.rules import Rule, is_distance_rule
from sbrml.reference.clipping import clip_to, comparable_norms, scaled_by
from sbrml.reference.distances import check_matrix, sq_distances
from sbrml.reference.randomness import RandomSource, uniform_below
from sbrml.reference.rules import (
    NeedsMajority,
    Number,
    check_distance_matrix,
    check_f,
    check_positive_int,
    check_positive_real,
    choose_lowest,
    is_float_matrix,
    need_workers,
)


@dataclass(frozen=True)
class Mixing:
    """D11.1: the linear map M = numerators / denominator (rows: mixed points; columns: inputs)."""

    numerators: list[list[int]]
    denominator: int


class PreAggregation(Protocol):
    """D11.1: a map from n inputs to ``output_count(n)`` points."""

    name: str
    f: int
    linear: bool

    def check_n(self, n: int, function: str = ...) -> None: ...

    def output_count(self, n: int) -> int: ...

    def mix(self, x: Any, *, rng: Any = None) -> Any: ...


def apply_mixing(mixing: Mixing, x: Sequence[Sequence[float]]) -> list[list[float]]:
    """y_b = sum_k M_bk x_k, each coordinate a correctly rounded sum divided by the denominator."""
    d = len(x[0])
    out = []
    for row in mixing.numerators:
        terms = [(m, x[k]) for k, m in enumerate(row) if m]
        out.append(
            [mixed_value([(m, v[j]) for m, v in terms], mixing.denominator) for j in range(d)]
        )
    return out


def mixed_value(terms: Sequence[tuple[int, float]], denominator: int) -> float:
    """fsum(m * v) / L, finite for finite v (C6.9): on v scaled by a power of two when a
    product or the sum overflows (rows of M sum to 1, so the result is within the range)."""
    try:
        total = math.fsum(m * v for m, v in terms)
        if math.isfinite(total):
            return total / denominator
    except OverflowError:
        pass
    shift = sum(m for m, _ in terms).bit_length() + 1
    return math.ldexp(math.fsum(m * math.ldexp(v, -shift) for m, v in terms) / denominator, shift)


def mixed_distances(mixing: Mixing, d: Sequence[Sequence[Number]]) -> list[list[Number]]:
    """Implements C11.5: L^2 ||y_b - y_c||^2 = Q_bc - (Q_bb + Q_cc)/2 with Q = N D N^T.

    N are the integer numerators and L the denominator: for a = N_b - N_c (sum a = 0),
    ||sum_k a_k x_k||^2 = -a^T D a / 2. For integer D every Q_bb = 2 sum_{k<l} N_bk N_bl D_kl
    is even, so the result is an exact integer; for floats it is clipped at 0.
    """
    nums = mixing.numerators
    n = len(d)
    nd = [[sum(row[k] * d[k][j] for k in range(n) if row[k]) for j in range(n)] for row in nums]
    q = [[sum(a[j] * row[j] for j in range(n) if row[j]) for row in nums] for a in nd]
    size = len(nums)
    out: list[list[Number]] = [[0] * size for _ in range(size)]
    for b in range(size):
        for c in range(b + 1, size):
            if isinstance(q[b][c], int) and isinstance(q[b][b], int) and isinstance(q[c][c], int):
                value: Number = q[b][c] - (q[b][b] + q[c][c]) // 2
            else:
                value = q[b][c] - (q[b][b] + q[c][c]) / 2
                if isinstance(value, float):
                    value = max(0.0, value)
            out[b][c] = out[c][b] = value
    return out


def combine_weights(mixing: Mixing, inner: Sequence[float]) -> list[float]:
    """Implements C11.6: p_k = fsum of N_bk copies of p_b over b, divided by L."""
    n = len(mixing.numerators[0])
    return [
        math.fsum(w for w, row in zip(inner, mixing.numerators, strict=True) for _ in range(row[k]))
        / mixing.denominator
        for k in range(n)
    ]


class NearestNeighborMixing(NeedsMajority):
    """Nearest-neighbour mixing (Allouah et al., AISTATS 2023). Implements D11.2.

    y_i is the mean of the n - f inputs nearest to x_i, x_i included (ties: lower index).
    Requires n > 2f (C11.2).
    """

    name = "nnm"
    clause = "C11.2"
    linear = True

    def output_count(self, n: int) -> int:
        return n

    def mixing(self, d: Sequence[Sequence[Number]], *, rng: Any = None) -> Mixing:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        floats = is_float_matrix(d)
        rows = []
        for i in range(n):
            nearest = set(choose_lowest(d[i], n - self.f, floats))  # C6.4, or C6.7 for floats
            rows.append([1 if j in nearest else 0 for j in range(n)])
        return Mixing(rows, n - self.f)

    def mix(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[list[float]]:
        check_matrix(self.name, "x", x)
        return apply_mixing(self.mixing(sq_distances(x)), x)


def permutation(n: int, rng: RandomSource) -> list[int]:
    """Implements C11.3: Fisher-Yates, for i = n-1 down to 1 swap i with uniform_below(i+1)."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = uniform_below(rng, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


class Bucketing:
    """Bucketing (Karimireddy, He, Jaggi, ICLR 2022). Implements D11.3.

    Permute the inputs uniformly with the injected rng (C11.3), then average consecutive
    groups of s: ceil(n/s) buckets, the last possibly smaller. ``f`` is informative only.
    """

    name = "bucketing"
    linear = True

    def __init__(self, f: int = 0, s: int = 2):
        check_f(self.name, f)
        self.f = f
        self.s = check_positive_int(self.name, "s", s, "C11.4")

    def check_n(self, n: int, function: str = "bucketing") -> None:
        """Implements D11.3: n >= 1."""
        need_workers(self.name, function, n, self.f, "n >= 1", n >= 1, "D11.3")

    def output_count(self, n: int) -> int:
        return -(-n // self.s)

    def mixing_for(self, n: int, rng: RandomSource | None) -> Mixing:
        if rng is None:
            raise ParameterError(
                self.name, "rng", "a RandomSource (bucketing is randomized)", "C11.3", "None"
            )
        self.check_n(n, self.name)
        perm = permutation(n, rng)
        groups = [perm[b : b + self.s] for b in range(0, n, self.s)]
        denominator = math.lcm(*(len(g) for g in groups))
        rows = [[denominator // len(g) if k in g else 0 for k in range(n)] for g in groups]
        return Mixing(rows, denominator)

    def mixing(self, d: Sequence[Sequence[Number]], *, rng: Any = None) -> Mixing:
        return self.mixing_for(check_distance_matrix(self.name, d), rng)

    def mix(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[list[float]]:
        n, _ = check_matrix(self.name, "x", x)
        return apply_mixing(self.mixing_for(n, rng), x)


class StaticClipping:
    """Static clipping x_i <- min(1, c / ||x_i||) x_i. Implements D11.4; c > 0 (C11.4)."""

    name = "clip"
    linear = False

    def __init__(self, f: int = 0, c: float = 1.0):
        check_f(self.name, f)
        self.f = f
        self.c = check_positive_real(self.name, "c", c, "C11.4")

    def check_n(self, n: int, function: str = "clip") -> None:
        need_workers(self.name, function, n, self.f, "n >= 1", n >= 1, "D11.4")

    def output_count(self, n: int) -> int:
        return n

    def mix(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[list[float]]:
        check_matrix(self.name, "x", x)
        return [clip_to(row, self.c) for row in x]


class AdaptiveClipping(NeedsMajority):
    """ARC, adaptive robust clipping (Allouah et al., 2024). Implements D11.5.

    k = floor(2 (f/n) (n - f)); the k inputs of largest norm (ties: lower index first) are
    clipped to the largest norm among the others. Requires n > 2f (C11.2).
    """

    name = "arc"
    clause = "C11.2"
    linear = False

    def output_count(self, n: int) -> int:
        return n

    def mix(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[list[float]]:
        n, _ = check_matrix(self.name, "x", x)
        self.check_n(n, self.name)
        k = 2 * self.f * (n - self.f) // n
        keys = comparable_norms(x)  # norms beyond the float range order too (C6.9)
        order = sorted(range(n), key=lambda i: (not keys[i][0], -keys[i][1], i))
        beyond, threshold = keys[order[k]] if k < n else (False, 0.0)
        clipped = set(order[:k])
        out = [[float(v) for v in row] for row in x]
        for i in clipped:
            # A threshold beyond the float range: the rows above it are beyond it too, and
            # both norms are known at one power-of-two scale, where their ratio is accurate.
            out[i] = scaled_by(x[i], threshold / keys[i][1]) if beyond else clip_to(x[i], threshold)
        return out


class Compose:
    """pre then rule: rule(pre(x)). Implements D11.6; usable anywhere a rule is."""

    def __init__(self, pre: PreAggregation, rule: Rule):
        self.pre = pre
        self.rule = rule
        self.name = f"{pre.name}+{rule.name}"
        self.f = rule.f
        self.scale_invariant = bool(getattr(rule, "scale_invariant", False))

    def check_n(self, n: int, function: str = "") -> None:
        """Implements D11.6's preconditions: each stage's on the count the stages before it leave.

        The pre-aggregation's precondition on the n rows given, then the next stage's on
        ``pre.output_count(n)``, through nested compositions. A stage that changes the count
        (bucketing: ceil(n/s) bucket means) would make the next one's own message ("got n=5")
        describe the buckets as if they were the rows given; then the error says what each
        stage turned n into. Until a count changes, each stage's own error stands (named
        ``function`` when given). Raises InsufficientWorkersError with the failing stage's
        clause.
        """
        count: int = n
        stage: Any = self
        changes: list[str] = []
        while True:
            part = stage.pre if isinstance(stage, Compose) else stage
            try:
                part.check_n(count, part.name if changes else function or part.name)
            except InsufficientWorkersError as err:
                if not changes:
                    raise
                raise InsufficientWorkersError(
                    function or self.name,
                    "n",
                    f"{err.condition} for {part.name}, whose n is what the pre-aggregation "
                    "leaves: " + "; ".join(changes),
                    err.clause,
                    f"n={shown(count)} for {part.name} from {shown(n)} rows, f={shown(self.f)}",
                ) from err
            if not isinstance(stage, Compose):
                return
            after = part.output_count(count)
            if after != count:
                size = f" (s={shown(part.s)})" if hasattr(part, "s") else ""
                changes.append(f"{part.name}{size} turns {shown(count)} rows into {shown(after)}")
            count, stage = after, stage.rule

    def __call__(self, x: Any, *, rng: Any = None) -> Any:
        mixed = self.pre.mix(x, rng=rng)  # checks x (D6.1) and the pre-aggregation's n
        self.check_n(len(x))  # the later stages' n, worded for the rows given
        return self.rule(mixed, rng=rng)


class ComposeDistance(Compose):
    """A linear pre-aggregation then a distance rule: also a distance rule (C11.6)."""

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        mixing = self.pre.mixing(d, rng=rng)  # type: ignore[attr-defined]
        self.check_n(len(d))  # the later stages' n, worded for the rows given
        inner = self.rule.weights(  # type: ignore[attr-defined]
            mixed_distances(mixing, d), unit=unit * mixing.denominator**2, rng=rng
        )
        return combine_weights(mixing, inner)


def compose(pre: PreAggregation, rule: Rule) -> Compose:
    """Compose(pre, rule), with a distance form when pre is linear and rule has one (C11.6)."""
    if pre.linear and is_distance_rule(rule):
        return ComposeDistance(pre, rule)
    return Compose(pre, rule)
