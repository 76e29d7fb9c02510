"""Distance-based robust aggregation rules: Krum and Multi-Krum (spec/06-rules.md).

Each rule is a class: hyperparameters are checked in ``__init__`` (D6.1), data at the call.
The plaintext form ``rule(x)`` selects and averages directly; ``rule.weights(D)`` computes
the same selection from the squared-distance matrix alone, so that ``rule(x) ==
sum_i weights(D(x))_i x_i`` (C6.1) is a theorem the tests check rather than a tautology.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError, shown
from sbrml.reference.distances import check_matrix, sq_distances

Number = int | float | Fraction


def true_distances(d: Sequence[Sequence[Number]], unit: int) -> list[list[float]]:
    """D6.2: the squared distances d / unit as doubles, each correctly rounded.

    Shared by both trees so that rules computing in floating point start from identical
    values (C7.3). Values beyond the float range overflow; ``scaled_distances`` does not.
    """
    return [[float(v / unit) if unit != 1 else float(v) for v in row] for row in d]


def floor_log2(value: Fraction) -> int:
    """The exact floor(log2(value)) of a positive rational."""
    p, q = value.numerator, value.denominator
    e = p.bit_length() - q.bit_length()
    if (p << max(0, -e)) < (q << max(0, e)):
        e -= 1
    return e


def distance_shift(top: Number) -> int:
    """C6.9: the k with top * 4^-k in [1, 4), so that 4^-k D has its largest entry there."""
    if top <= 0:
        return 0
    if isinstance(top, float):
        return (math.frexp(top)[1] - 1) // 2
    return floor_log2(Fraction(top)) // 2


def scaled_distances(d: Sequence[Sequence[Number]], unit: int) -> tuple[list[list[float]], int]:
    """C6.9: (4^-k d / unit as doubles, k), the largest entry in [1, 4) (all zero: k = 0).

    Floating-point rules work on these: a power-of-four scale changes no rounding (square
    roots and sums scale exactly) except that nothing overflows and tiny distances do not
    vanish. Float entries are divided by ``unit`` first, as ``true_distances`` does, so both
    trees start from the same doubles; exact entries are divided once, exactly.
    """
    if any(isinstance(v, float) for row in d for v in row):
        base = true_distances(d, unit)
        shift = distance_shift(max((max(row) for row in base), default=0.0))
        return [[math.ldexp(v, -2 * shift) for v in row] for row in base], shift
    top = max((max(row) for row in d), default=0)
    shift = distance_shift(Fraction(top) / unit)
    if shift == 0:
        return true_distances(d, unit), 0
    scale = Fraction(unit) * Fraction(4) ** shift
    return [[float(Fraction(v) / scale) for v in row] for row in d], shift


def fsum_scaled(terms: Sequence[float]) -> float:
    """The correctly rounded sum of finite ``terms``, without intermediate overflow (C6.9).

    math.fsum raises OverflowError when a partial sum leaves the float range; the same sum
    of the terms scaled by a power of two (exact but for subnormal terms, whose loss is far
    below the sum's last bit) is then scaled back (inf only if the sum itself overflows).
    """
    try:
        return math.fsum(terms)
    except OverflowError:
        shift = len(terms).bit_length() + 1
        return math.fsum(math.ldexp(t, -shift) for t in terms) * 2.0**shift


def fsum_mean(values: Sequence[float], count: int) -> float:
    """fsum(values) / count, finite for finite values (C6.9): scaled when the sum overflows."""
    try:
        return math.fsum(values) / count
    except OverflowError:
        shift = len(values).bit_length() + 1
        return math.ldexp(math.fsum(math.ldexp(v, -shift) for v in values) / count, shift)


def mean_of_rows(x: Sequence[Sequence[float]], rows: Sequence[int]) -> list[float]:
    """The coordinate-wise mean of the selected rows, each sum correctly rounded (fsum) and
    without overflow for finite inputs (C6.9)."""
    return [fsum_mean([x[i][k] for i in rows], len(rows)) for k in range(len(x[0]))]


def check_positive_int(rule: str, name: str, value: object, clause: str, low: int = 1) -> int:
    """An int hyperparameter >= low, else ParameterError citing ``clause``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(rule, name, f"an int {name} >= {low}", clause, shown(value))
    return value


def check_positive_real(rule: str, name: str, value: object, clause: str) -> float:
    """A finite real hyperparameter > 0, else ParameterError citing ``clause``. The value is
    used as a double: an int beyond the float range is none (float() and math.isfinite would
    raise OverflowError on it), in both trees, which share this check."""
    v = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:
            v = math.inf
    if not (math.isfinite(v) and v > 0):
        raise ParameterError(rule, name, f"a finite real {name} > 0", clause, shown(value))
    return v


def need_workers(
    rule: str, function: str, n: int, f: int, condition: str, ok: bool, clause: str
) -> None:
    """Raise InsufficientWorkersError citing ``clause`` unless the rule's precondition holds."""
    if not ok:
        raise InsufficientWorkersError(
            function, "n", condition, clause, f"n={shown(n)}, f={shown(f)}"
        )


def check_f(rule: str, f: int) -> None:
    """Implements C6.2: f is an int >= 0."""
    if isinstance(f, bool) or not isinstance(f, int) or f < 0:
        raise ParameterError(rule, "f", "an int f >= 0", "C6.2", shown(f))


def check_distance_matrix(function: str, d: Sequence[Sequence[Number]]) -> int:
    """Implements D6.2: D is square, symmetric, zero on the diagonal, finite and >= 0."""
    n = len(d)
    if n == 0:
        raise ShapeError(function, "D", "an n x n matrix with n >= 1", "D6.2", "0 rows")
    for i, row in enumerate(d):
        if len(row) != n:
            raise ShapeError(function, f"D[{i}]", f"length n={n}", "D6.2", f"length {len(row)}")
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, int | float | Fraction):
                raise ShapeError(function, f"D[{i}][{j}]", "a real number", "D6.2", shown(v))
            if (isinstance(v, float) and not math.isfinite(v)) or v < 0:
                raise ShapeError(function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", shown(v))
    for i in range(n):
        if d[i][i] != 0:
            raise ShapeError(function, f"D[{i}][{i}]", "a zero diagonal", "D6.2", shown(d[i][i]))
        for j in range(i + 1, n):
            if d[i][j] != d[j][i]:
                raise ShapeError(
                    function,
                    f"D[{i}][{j}]",
                    "D symmetric",
                    "D6.2",
                    f"{shown(d[i][j])} vs {shown(d[j][i])}",
                )
    return n


class NeedsMajority:
    """Base of the rules that take f and require n > 2f; subclasses name their clause."""

    name = ""
    clause = ""

    def __init__(self, f: int = 0):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "") -> None:
        """The precondition n > 2f, citing the subclass's clause."""
        need_workers(
            self.name, function or self.name, n, self.f, "n > 2f", n > 2 * self.f, self.clause
        )


CONVENTIONS = {"blanchard": 2, "byzfl": 1}


def is_float_matrix(d: Sequence[Sequence[Number]]) -> bool:
    """C6.7: D is a float matrix (scores in floating point) when any entry is a float."""
    return any(isinstance(v, float) for row in d for v in row)


def sequential_sum(values: Sequence[float]) -> float:
    """Left to right in float64, as np.cumsum does: both trees get the same double (C6.7)."""
    total = 0.0
    for v in values:
        total += v
    return total


def krum_scores(d: Sequence[Sequence[Number]], f: int, offset: int = 2) -> list[Number]:
    """Implements D6.3: score(i) = sum of the n - f - offset smallest D_ij over j != i.

    ``offset`` is 2 (Blanchard et al.) or 1 (ByzFL's convention, C6.6). Exact entries give
    exact sums; a float D gives the sum of the doubles in ascending order, left to right
    (C6.7), so that a huge entry elsewhere in D cannot change how small scores compare.
    """
    n = len(d)
    keep = n - f - offset
    if is_float_matrix(d):
        return [
            sequential_sum(sorted(float(d[i][j]) for j in range(n) if j != i)[:keep])
            for i in range(n)
        ]
    return [sum(sorted(d[i][j] for j in range(n) if j != i)[:keep], start=0) for i in range(n)]


FLOAT_TIE_TOLERANCE = 1e-9


def first_near_minimum(scores: Sequence[float], rel: float = FLOAT_TIE_TOLERANCE) -> int:
    """Implements C10.5: the first index whose score is within ``rel`` (relative) of the minimum.

    For scores computed in floating point, where two trees (or two evaluation orders) may
    round exact ties differently.
    """
    best = min(scores)
    limit = best + rel * abs(best)
    return next(i for i, s in enumerate(scores) if s <= limit)


def tolerant_lowest(scores: Sequence[float], m: int, rel: float = FLOAT_TIE_TOLERANCE) -> list[int]:
    """Implements C6.7: m indices, one at a time the first remaining one within ``rel`` of the
    smallest remaining score (C10.5's rule, repeated)."""
    remaining = list(range(len(scores)))
    chosen = []
    for _ in range(m):
        best = min(scores[i] for i in remaining)
        limit = best + rel * abs(best)
        pick = next(i for i in remaining if scores[i] <= limit)
        chosen.append(pick)
        remaining.remove(pick)
    return chosen


def lowest(scores: Sequence[Number], m: int) -> list[int]:
    """Implements C6.4: the m indices of lowest score, ties broken by the lower index."""
    return sorted(range(len(scores)), key=lambda i: (scores[i], i))[:m]


def choose_lowest(scores: Sequence[Number], m: int, floats: bool) -> list[int]:
    """The m lowest scores: exact comparisons (C6.4), or C6.7's tolerant order for floats."""
    if floats:
        return tolerant_lowest([float(v) for v in scores], m)
    return lowest(scores, m)


class Krum:
    """Krum (Blanchard et al., NeurIPS 2017). Implements D6.3.

    score(i) = sum_{j in N_i} ||x_i - x_j||^2, where N_i holds the n - f - 2 indices
    j != i of smallest distance to x_i; the output is x_{i*} with i* the lowest score (ties:
    lowest index, C6.4). Requires n > 2f + 2 (C6.3). With ``convention="byzfl"`` N_i holds
    n - f - 1 indices and the requirement is n > 2f, as in ByzFL 0.0.11 (C6.6).

    Args:
        f: the number of Byzantine workers tolerated, an int >= 0 (C6.2).
        convention: ``"blanchard"`` (default) or ``"byzfl"`` (C6.6).
    """

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

    def _select(self, d: Sequence[Sequence[Number]]) -> list[int]:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        return choose_lowest(krum_scores(d, self.f, self.offset), 1, is_float_matrix(d))

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        """Implements D6.3 on distances: p = e_{i*}."""
        chosen = self._select(d)
        return [1.0 if i in chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        """Implements D6.3 in the clear: returns a copy of x_{i*}."""
        check_matrix(self.name, "x", x)
        (chosen,) = self._select(sq_distances(x))
        return [float(v) for v in x[chosen]]


class MultiKrum(Krum):
    """Multi-Krum (El Mhamdi et al., ICML 2018). Implements D6.5.

    The output is the mean of the m vectors of lowest Krum score (D6.3, ties C6.4).
    Requires n > 2f + 2 (C6.3) and 1 <= m <= n (C6.5); m defaults to n - f, as in ByzFL.

    Args:
        f: the number of Byzantine workers tolerated, an int >= 0 (C6.2).
        m: how many vectors to average, an int >= 1, or None for n - f (C6.5).
        convention: as for Krum (C6.6).
    """

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

    def _select(self, d: Sequence[Sequence[Number]]) -> list[int]:
        n = check_distance_matrix(self.name, d)
        self.check_n(n, self.name)
        scores = krum_scores(d, self.f, self.offset)
        return choose_lowest(scores, self.selected_count(n), is_float_matrix(d))

    def weights(
        self, d: Sequence[Sequence[Number]], *, unit: int = 1, rng: Any = None
    ) -> list[float]:
        """Implements D6.5 on distances: p_i = 1/m on the selected indices."""
        chosen = set(self._select(d))
        share = 1.0 / len(chosen)
        return [share if i in chosen else 0.0 for i in range(len(d))]

    def __call__(self, x: Sequence[Sequence[float]], *, rng: Any = None) -> list[float]:
        """Implements D6.5 in the clear: the mean of the selected vectors (fsum per coordinate)."""
        check_matrix(self.name, "x", x)
        return mean_of_rows(x, self._select(sq_distances(x)))
