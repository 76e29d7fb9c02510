"""C6.8 and D5.3 at every magnitude: selections in the clear beside far and tiny rows.

Issue 13, item 7's kind, found again by a review: a row of 1e300 made the optimized tree's
distances overflow, D5.3 then rescaled the whole matrix, the honest rows' squared differences
underflowed to 0 and the lowest index won the "tie" (a Byzantine worker can hold it); rows
near 1e-162 lost their squares without any overflow. The exact selections here come from
rational distances (every double is a dyadic rational); both trees must make them, in any
row order, wherever the other rows lie between the subnormals and the float maximum.
"""

from __future__ import annotations

import decimal
import functools
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import sbrml
import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.optimized.distances import checked_distances
from sbrml.optimized.rules import krum_float_scores, settle_lowest, settle_rows
from sbrml.rulespec import build_rule
from tests.helpers import as_list
from tests.helpers.examples import budget

TOL = Fraction(2, 10**9)  # exact scores this far apart must be told apart (C6.8: 1.05e-9)

# The review's inputs (f = 2, then f = 1): a row of 1e300, a row of 1e100, rows near 1e-162.
FAR_2 = [[1e100], [0.0], [5.0], [3.0], [3.0], [1.0], [2.0], [4.0], [1e300]]
FAR_1 = [[0.0], [5.0], [3.0], [3.0], [1.0], [2.0], [1e300]]
TINY_1 = [
    [8.216e-163],
    [3.304e-163],
    [-1.303e-162],
    [1e-50],
    [4.464e-163],
    [-5.370e-163],
    [5.811e-163],
]


def _data(tree: ModuleType, x: list[list[float]]) -> Any:
    return x if tree is ref else np.array(x)


def _orders(n: int) -> list[list[int]]:
    """The identity, the reversal and two rotations: the far row first, last and between."""
    base = list(range(n))
    return [base, base[::-1], base[2:] + base[:2], base[n // 2 :] + base[: n // 2]]


@pytest.mark.spec("C6.8", "C6.9")
@pytest.mark.parametrize("order", range(4))
def test_review_examples_select_as_exact_arithmetic(impl: ModuleType, order: int) -> None:
    perm = _orders(len(FAR_2))[order]
    x = [FAR_2[i] for i in perm]
    # Krum, f = 2 (five neighbours): the row 3 has the lowest exact score (two 3s, 2 and 4).
    assert as_list(impl.Krum(2)(_data(impl, x))) == [3.0]
    # Multi-Krum, MDA and nnm+krum average 0..5 with 3 twice: 18/7 (not 1.43e99).
    for spec in ("multikrum", "mda", "nnm+krum"):
        got = as_list(build_rule(impl, spec, 2)(_data(impl, x)))
        assert got == pytest.approx([18 / 7], rel=1e-15), spec
    perm = _orders(len(FAR_1))[order]
    y = [FAR_1[i] for i in perm]
    assert as_list(impl.Krum(1)(_data(impl, y))) == [2.0]
    # Bulyan: exact ties between the 3s make its answer depend on the order (C6.4); the
    # reference's exact distances give it for each order.
    assert as_list(impl.Bulyan(1)(_data(impl, y))) == ref.Bulyan(1)(y)
    perm = _orders(len(TINY_1))[order]
    z = [TINY_1[i] for i in perm]
    # Exact Krum scores (f = 1, four neighbours): 3.304e-163 has 1.07e-324, 8.216e-163 2.29e-324.
    assert as_list(impl.Krum(1)(_data(impl, z))) == [3.304e-163]


@pytest.mark.spec("C5.3", "D5.3")
def test_a_row_of_1e300_leaves_the_small_distances_exact() -> None:
    for perm in _orders(len(FAR_1)):
        x = np.array([FAR_1[i] for i in perm])
        got = opt.sq_distances(x)
        exact = ref.sq_distances(x.tolist())
        for i, j in itertools.product(range(len(x)), repeat=2):
            e = exact[i][j]
            if e > Fraction(1.7976931348623157e308):
                assert got[i, j] == math.inf
            else:
                assert abs(Fraction(float(got[i, j])) - e) <= Fraction(1, 10**10) * e
    # The review's entry: D_12 (5 against 3) was 0 beside the row of 1e300; exact: 4.
    assert opt.sq_distances(np.array(FAR_1))[1, 2] == 4.0


# ---- Random inputs: honest rows at one magnitude, Byzantine rows anywhere ----------------


def _byzantine(draw: Any, d: int, near: float) -> list[float]:
    kind = draw(st.sampled_from(["huge", "max", "subnormal", "tiny", "near", "zero"]))
    if kind == "huge":
        e = draw(st.floats(-300.0, 308.0))
        return [draw(st.sampled_from([-1.0, 1.0])) * 10.0**e for _ in range(d)]
    if kind == "max":
        return [draw(st.floats(-1.7976931348623157e308, 1.7976931348623157e308)) for _ in range(d)]
    if kind == "subnormal":
        return [draw(st.integers(-1000, 1000)) * 5e-324 for _ in range(d)]
    if kind == "tiny":
        return [draw(st.floats(-1e-300, 1e-300)) for _ in range(d)]
    if kind == "near":
        return [near * draw(st.integers(-40, 40)) / 7 for _ in range(d)]
    return [0.0] * d


@st.composite
def magnitude_cases(draw: Any) -> tuple[list[list[float]], int]:
    """(x, f): n - b honest rows k/7 * 10^a (k a small integer) around a centre, and up to f
    Byzantine rows from the subnormals to the float maximum, in a random order."""
    n = draw(st.integers(5, 11))
    f = draw(st.integers(1, (n - 3) // 2))
    d = draw(st.integers(1, 3))
    scale = 10.0 ** draw(st.integers(-160, 150))
    centre = [scale * draw(st.integers(-30, 30)) for _ in range(d)]
    rows = [[c + scale * draw(st.integers(-20, 20)) / 7 for c in centre] for _ in range(n)]
    for i in draw(st.permutations(range(n)))[: draw(st.integers(0, f))]:
        rows[i] = _byzantine(draw, d, scale)
    return [[float(v) for v in row] for row in rows], f


def _lowest_set(values: Sequence[Any], m: int) -> list[int] | None:
    """The m lowest (ties: lower index), or None when the cut is a near tie (C6.8)."""
    order = sorted(range(len(values)), key=lambda i: (values[i], i))
    if m < len(values):
        a, b = values[order[m - 1]], values[order[m]]
        if a != b and b - a <= TOL * a:
            return None
        # An exact tie goes to the lower index in both orders, unless a third value is near.
        if a == b and any(v != a and abs(v - a) <= TOL * a for v in values):
            return None
    return sorted(order[:m])


def _medoid_exact(dist: list[list[Fraction]]) -> list[int] | None:
    decimal.getcontext().prec = 80
    roots = [
        sum(
            (
                decimal.Decimal(v.numerator).sqrt() / decimal.Decimal(v.denominator).sqrt()
                for v in r
            ),
            decimal.Decimal(0),
        )
        for r in dist
    ]
    low = min(roots)
    # Equal rows have equal exact scores (the 80-digit sums may differ in their last digits):
    # the lower index wins those (C6.4); a score merely near the lowest is a near tie.
    same = decimal.Decimal(10) ** -60 * low
    best = min(i for i in range(len(roots)) if roots[i] - low <= same)
    tol = decimal.Decimal(2) / decimal.Decimal(10**9)
    if any(same < roots[i] - low <= tol * low for i in range(len(roots))):
        return None
    return [best]


def _exact_selection(spec: str, x: list[list[float]], f: int) -> Any:
    n = len(x)
    dist = ref.sq_distances(x)
    if spec in ("krum", "multikrum"):
        scores = [
            sum(sorted(dist[i][j] for j in range(n) if j != i)[: n - f - 2]) for i in range(n)
        ]
        return _lowest_set(scores, 1 if spec == "krum" else n - f)
    if spec == "medoid":
        return _medoid_exact(dist)
    if spec == "mda":
        subsets = list(itertools.combinations(range(n), n - f))
        diam = [
            max((dist[i][j] for i, j in itertools.combinations(s, 2)), default=0) for s in subsets
        ]
        best = _lowest_set(diam, 1)
        return None if best is None else list(subsets[best[0]])
    if spec == "nnm":
        rows = [_lowest_set(dist[i], n - f) for i in range(n)]
        return None if any(r is None for r in rows) else rows
    if spec == "bulyan":
        remaining, chosen = list(range(n)), []
        for _ in range(n - 2 * f):
            keep = max(1, len(remaining) - f - 2)
            scores = [
                sum(sorted(dist[i][j] for j in remaining if j != i)[:keep], Fraction(0))
                for i in remaining
            ]
            best = _lowest_set(scores, 1)
            if best is None:
                return None
            chosen.append(remaining.pop(best[0]))
        return chosen
    raise AssertionError(spec)


def _reference_selection(spec: str, x: list[list[float]], f: int) -> Any:
    dist = ref.sq_distances(x)
    if spec == "nnm":
        mixing = ref.NearestNeighborMixing(f).mixing(dist)
        return [[j for j, c in enumerate(row) if c] for row in mixing.numerators]
    if spec == "bulyan":
        return ref.Bulyan(f).select(dist)
    rule = build_rule(ref, spec, f)
    return sorted(i for i, w in enumerate(rule.weights(dist)) if w)


def _optimized_selection(spec: str, x: list[list[float]], f: int) -> Any:
    arr = np.array(x)
    n = len(x)
    if spec in ("krum", "multikrum"):
        return sorted(build_rule(opt, spec, f)._select_in_clear(arr)[1].tolist())
    if spec == "medoid":
        got = opt.Medoid(f)(arr)
        return [min(i for i in range(n) if np.array_equal(arr[i], got))]
    _, dist = checked_distances(spec, arr)
    if spec == "mda":
        return list(opt.MinimumDiameterAveraging(f)._select_in_clear(dist))
    if spec == "nnm":
        return [sorted(r) for r in settle_rows(dist, n - f).tolist()]
    if spec == "bulyan":

        def best(remaining: list[int], keep: int) -> int:
            score = functools.partial(krum_float_scores, keep=keep)
            rows = np.asarray(remaining, dtype=np.intp)
            return int(settle_lowest(dist, score, 1, rows, keep=keep)[0])

        return opt.Bulyan(f)._repeat(n, best)
    raise AssertionError(spec)


SPECS = ["krum", "multikrum", "medoid", "mda", "nnm", "bulyan"]


@pytest.mark.spec("C6.8", "C6.4")
@pytest.mark.parametrize("spec", SPECS)
@budget(300)
@given(magnitude_cases(), st.randoms(use_true_random=False))
def test_selections_are_exact_at_every_magnitude(
    spec: str, case: tuple[list[list[float]], int], rnd: Any
) -> None:
    x, f = case
    if spec == "bulyan":
        f = min(f, (len(x) - 3) // 4)
        assume(f >= 1)
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    for data in (x, [x[i] for i in perm]):
        want = _exact_selection(spec, data, f)
        assume(want is not None)
        assert _reference_selection(spec, data, f) == want
        assert _optimized_selection(spec, data, f) == want


def _exact_mean(x: list[list[float]], rows: Sequence[int]) -> list[Fraction]:
    return [
        sum((Fraction(x[i][k]) for i in rows), Fraction(0)) / len(rows) for k in range(len(x[0]))
    ]


@pytest.mark.spec("C6.8")
@pytest.mark.parametrize("spec", ["krum", "multikrum", "mda", "nnm"])
@given(magnitude_cases())
def test_outputs_are_the_exact_selections(spec: str, case: tuple[list[list[float]], int]) -> None:
    """rule(x) through the public call (the old code fails here too): the chosen rows'
    mean, to the rounding of a mean of the rows chosen."""
    x, f = case
    want = _exact_selection(spec, x, f)
    assume(want is not None)
    sets = want if spec == "nnm" else [want]
    for tree in (ref, opt):
        if spec == "nnm":
            got = as_list(tree.NearestNeighborMixing(f).mix(_data(tree, x)))
        else:
            got = [as_list(build_rule(tree, spec, f)(_data(tree, x)))]
        for row, chosen in zip(got, sets, strict=True):
            top = max(abs(x[i][k]) for i in chosen for k in range(len(x[0])))
            for g, e in zip(row, _exact_mean(x, chosen), strict=True):
                assert abs(Fraction(g) - e) <= Fraction(1, 10**12) * Fraction(top), tree.__name__


@pytest.mark.spec("C5.3")
@given(magnitude_cases())
def test_distances_are_exact_at_every_magnitude(case: tuple[list[list[float]], int]) -> None:
    x, _ = case
    got = opt.sq_distances(np.array(x))
    exact = ref.sq_distances(x)
    largest = Fraction(1.7976931348623157e308)
    for i, j in itertools.product(range(len(x)), repeat=2):
        e = exact[i][j]
        if e > largest:
            assert got[i, j] == math.inf
        else:
            slack = Fraction(1, 10**10) * e + Fraction(2.0**-1074)
            assert abs(Fraction(float(got[i, j])) - e) <= slack


@pytest.mark.spec("D5.3")
@given(magnitude_cases(), st.integers(-1100, 1100))
def test_every_view_bounds_every_entry(case: tuple[list[list[float]], int], shift: int) -> None:
    """D5.3 steps 2-6: at any scale, lo <= 4^-s D <= hi for every entry, before and after
    refinement, and the refined entries keep their relative bound."""
    x, _ = case
    _, dist = checked_distances("test", np.array(x))
    exact = ref.sq_distances(x)
    n = len(x)
    for stage in range(3):
        if stage == 1:
            dist.rescale(shift - shift % 64)
        if stage == 2:
            dist.refine(np.ones((n, n), dtype=bool))
        scale = Fraction(4) ** dist.shift
        for i, j in itertools.product(range(n), repeat=2):
            value = exact[i][j] / scale
            assert Fraction(float(dist.lo[i, j])) <= value
            assert dist.hi[i, j] == math.inf or value <= Fraction(float(dist.hi[i, j]))
            assert dist.lo[i, j] <= dist.value[i, j] <= dist.hi[i, j]
    for i, j in itertools.product(range(n), repeat=2):
        q, e = Fraction(float(dist.q[i, j])), int(dist.e[i, j])
        assert abs(q * Fraction(4) ** e - exact[i][j]) <= Fraction(1, 10**12) * exact[i][j]


@pytest.mark.spec("C6.8")
def test_a_byzantine_row_cannot_force_slow_work() -> None:
    """A row of 1e300 (or 1e-300 beside rows near 1e-160) costs a few Gram passes and one
    row of differences, not n^2 d work in Python: Krum at n = 9, d = 200000 stays within a
    small multiple of the ordinary call."""
    import time

    gen = np.random.default_rng(5)
    x = gen.standard_normal((9, 200_000))

    def seconds(data: np.ndarray) -> float:
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            opt.Krum(2)(data)
            best = min(best, time.perf_counter() - start)
        return best

    ordinary = seconds(x)
    far = x.copy()
    far[0] = 1e300
    tiny = x * 1e-160
    tiny[3] = 1e300
    tiny[5] = -1e-300
    assert seconds(far) < 40 * ordinary + 0.5
    assert seconds(tiny) < 40 * ordinary + 0.5


# ---- Identical honest rows: an exact 0 at the cut against an entry that underflowed ----


def _review_twins() -> list[tuple[list[list[float]], int]]:
    """The review's inputs: every honest row equal, a far row and a near one (f = 2)."""
    wide = [[0.0] * 10 for _ in range(9)]
    wide[0], wide[6] = [1e308] * 10, [1e140] * 10
    line = [[1e200], [1.0], [1.0], [1.0], [1.0], [1.0], [0.5], [1.0], [1.0]]
    # No far row needed: beside a row at 1, a distance of 3e-600 is 0 at the first view.
    tiny = [[0.0] * 3 for _ in range(9)]
    tiny[0], tiny[6] = [1.0] * 3, [1e-300] * 3
    return [(wide, 2), (line, 2), (tiny, 2)]


@pytest.mark.spec("C6.8", "C6.9")
@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("order", range(4))
def test_identical_honest_rows_keep_their_twins(impl: ModuleType, case: int, order: int) -> None:
    """NNM, D11.2: each honest row's n - f nearest are itself and its identical twins (exact
    0) before the near Byzantine row (a positive distance, however small beside the far
    row's). The optimized tree decided a row whose cut was an exact 0 at the view of that 0,
    where the near row's distance had underflowed to 0 too: the lower index won, and every
    honest row mixed in the near row (nnm+krum gave 1.43e139 for 0, 0.9286 for 1.0)."""
    x, f = _review_twins()[case]
    perm = _orders(len(x))[order]
    y = [x[i] for i in perm]
    honest = [i for i, row in enumerate(y) if row == x[1]]
    assert len(honest) == len(x) - f
    mixed = as_list(impl.NearestNeighborMixing(f).mix(_data(impl, y)))
    for i in honest:
        assert mixed[i] == x[1]
    for spec in ("nnm+krum", "nnm+multikrum", "nnm+medoid", "nnm+mda"):
        assert as_list(build_rule(impl, spec, f)(_data(impl, y))) == x[1], spec


@pytest.mark.spec("C6.8")
def test_identical_honest_rows_beside_a_far_row_in_many_blocks() -> None:
    """The same at d = 16385 (two Gram blocks, D5.3 step 3's h)."""
    x = np.zeros((9, 16385))
    x[0], x[6] = 1e308, 1e140
    assert not sbrml.rule("nnm+krum", f=2)(x).any()
    assert settle_rows(checked_distances("test", x)[1], 7)[1].tolist().count(6) == 0


def _near(draw: Any, point: list[float], scale: float) -> list[float]:
    """A row next to an honest point: a few ulps (subnormals at 0), a tiny step or a small
    step away."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return [v + draw(st.integers(-3, 3)) * (math.ulp(v) if v else 5e-324) for v in point]
    if kind == 1:
        return [v + scale * 10.0 ** -draw(st.integers(150, 330)) for v in point]
    return [v + scale * draw(st.integers(-20, 20)) / 7 for v in point]


@st.composite
def twin_cases(draw: Any) -> tuple[list[list[float]], int]:
    """(x, f): honest rows that are mostly one point repeated (some a second point), and up
    to f Byzantine rows far out or near the repeated point, in a random order."""
    n = draw(st.integers(5, 11))
    f = draw(st.integers(1, (n - 3) // 2))
    d = draw(st.integers(1, 3))
    scale = 10.0 ** draw(st.integers(-160, 150))
    # Coordinates at 0 half the time: there a near row can differ by a subnormal.
    first = [scale * draw(st.just(0) | st.integers(-30, 30)) for _ in range(d)]
    second = [v + scale * draw(st.integers(-20, 20)) / 7 for v in first]
    b = draw(st.integers(1, f))
    others = draw(st.just(0) | st.integers(0, max(0, (n - b) // 3)))
    rows = [list(first) for _ in range(n - b - others)] + [list(second) for _ in range(others)]
    for k in range(b):
        if k % 2 == 0 and draw(st.integers(0, 3)):
            top = draw(st.floats(math.log10(scale) + 20, 308.0))
            rows.append([draw(st.sampled_from([-1.0, 1.0])) * 10.0**top for _ in range(d)])
        else:
            rows.append(_near(draw, first, scale))
    order = draw(st.permutations(range(n)))
    return [[float(v) for v in rows[i]] for i in order], f


@pytest.mark.spec("C6.8", "C6.4")
@pytest.mark.parametrize("spec", SPECS)
@budget(300)
@given(twin_cases(), st.randoms(use_true_random=False))
def test_selections_with_identical_honest_rows(
    spec: str, case: tuple[list[list[float]], int], rnd: Any
) -> None:
    """C6.8 where the cut is an exact 0 (equal rows) against a positive distance that a
    coarse view holds as 0: both trees select as exact arithmetic, in any row order. For NNM
    each row whose own cut is no near tie is checked (the far row's rarely is one)."""
    x, f = case
    if spec == "nnm":
        _check_nnm_rows(x, f, rnd)
        return
    if spec == "bulyan":
        f = min(f, (len(x) - 3) // 4)
        assume(f >= 1)
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    for data in (x, [x[i] for i in perm]):
        want = _exact_selection(spec, data, f)
        assume(want is not None)
        assert _reference_selection(spec, data, f) == want
        assert _optimized_selection(spec, data, f) == want


def _check_nnm_rows(x: list[list[float]], f: int, rnd: Any) -> None:
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    checked = 0
    for data in (x, [x[i] for i in perm]):
        dist = ref.sq_distances(data)
        want = [_lowest_set(row, len(data) - f) for row in dist]
        got = [_reference_selection("nnm", data, f), _optimized_selection("nnm", data, f)]
        for i, row in enumerate(want):
            if row is not None:
                checked += 1
                assert got[0][i] == row, ("reference", i)
                assert got[1][i] == row, ("optimized", i)
    assume(checked > 0)
