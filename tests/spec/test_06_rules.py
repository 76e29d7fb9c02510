"""Section 6: Krum and Multi-Krum (spec/06-rules.md)."""

from __future__ import annotations

import math
from fractions import Fraction
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from tests.helpers import as_list

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


def matrices(min_n: int = 5, max_n: int = 8) -> st.SearchStrategy[list[list[float]]]:
    return st.integers(min_n, max_n).flatmap(
        lambda n: st.integers(1, 4).flatmap(
            lambda d: st.lists(st.lists(finite, min_size=d, max_size=d), min_size=n, max_size=n)
        )
    )


def rule_cases() -> st.SearchStrategy[tuple[list[list[float]], int, int | None, str]]:
    return matrices().flatmap(
        lambda x: st.tuples(
            st.just(x),
            st.integers(0, (len(x) - 3) // 2),
            st.one_of(st.none(), st.integers(1, len(x))),
            st.sampled_from(["krum", "multikrum"]),
        )
    )


def _exact_weighted(p: list[float], x: list[list[float]], k: int) -> float:
    """sum_i p_i x_ik in exact arithmetic; weights are k/m with m <= n, so recover them exactly."""
    n = len(x)
    return float(
        sum(
            Fraction(pi).limit_denominator(n) * Fraction(row[k])
            for pi, row in zip(p, x, strict=True)
        )
    )


def _rule(tree: ModuleType, name: str, f: int, m: int | None) -> object:
    return tree.Krum(f) if name == "krum" else tree.MultiKrum(f, m)


@pytest.mark.spec("C6.1")
@given(rule_cases())
def test_rule_equals_weighted_sum_of_its_weights_reference(
    case: tuple[list[list[float]], int, int | None, str],
) -> None:
    x, f, m, name = case
    rule = _rule(ref, name, f, m)
    p = rule.weights(ref.sq_distances(x))  # type: ignore[attr-defined]
    z = rule(x)  # type: ignore[operator]
    for k, zk in enumerate(z):
        assert abs(zk - _exact_weighted(p, x, k)) <= 2 * math.ulp(max(abs(r[k]) for r in x))


@pytest.mark.spec("C6.1")
@given(rule_cases())
def test_rule_equals_weighted_sum_of_its_weights_optimized(
    case: tuple[list[list[float]], int, int | None, str],
) -> None:
    x, f, m, name = case
    rule = _rule(opt, name, f, m)
    p = rule.weights(opt.sq_distances(x))  # type: ignore[attr-defined]
    z = as_list(rule(x))  # type: ignore[operator]
    for k, zk in enumerate(z):
        assert abs(zk - _exact_weighted(as_list(p), x, k)) <= 8 * math.ulp(
            max(abs(r[k]) for r in x)
        )


@pytest.mark.spec("C6.2")
@pytest.mark.parametrize("f", [-1, 1.5, True, "2", None])
def test_f_must_be_a_nonnegative_int(impl: ModuleType, f: object) -> None:
    for cls in (impl.Krum, impl.MultiKrum):
        with pytest.raises(ParameterError) as info:
            cls(f)
        assert info.value.clause == "C6.2"


@pytest.mark.spec("C6.3")
@pytest.mark.parametrize(("n", "f"), [(6, 2), (4, 1), (2, 0), (1, 0)])
def test_krum_needs_n_above_2f_plus_2(impl: ModuleType, n: int, f: int) -> None:
    x = [[float(i)] for i in range(n)]
    for cls in (impl.Krum, impl.MultiKrum):
        rule = cls(f)
        with pytest.raises(InsufficientWorkersError) as info:
            rule(x)
        assert info.value.clause == "C6.3"
        assert str(info.value) == f"{rule.name}: n: need n > 2f + 2 (C6.3); got n={n}, f={f}"
        with pytest.raises(InsufficientWorkersError):
            rule.weights([[0.0] * n for _ in range(n)])
    impl.Krum(f)([[float(i)] for i in range(2 * f + 3)])  # the smallest valid n works


@pytest.mark.spec("C6.4")
def test_ties_go_to_the_lower_index(impl: ModuleType) -> None:
    x = [[1.0, 2.0]] * 7
    assert as_list(impl.Krum(2).weights(impl.sq_distances(x))) == [1.0] + [0.0] * 6
    p = as_list(impl.MultiKrum(2, 3).weights(impl.sq_distances(x)))
    assert p == [1 / 3] * 3 + [0.0] * 4


@pytest.mark.spec("D6.3")
def test_krum_known_answer(impl: ModuleType) -> None:
    # n = 5, f = 1: each score sums the 2 nearest squared distances.
    x = [[0.0], [1.0], [3.0], [10.0], [-2.0]]
    # scores: 0: 1+4=5; 1: 1+4=5; 2: 4+9=13; 3: 49+81=130; 4: 4+9=13 -> index 0 (tie with 1).
    assert as_list(impl.Krum(1)(x)) == [0.0]
    assert as_list(impl.MultiKrum(1, 2)(x)) == [0.5]
    assert as_list(impl.MultiKrum(1)(x)) == [pytest.approx(2.0 / 4)]


@pytest.mark.spec("C6.5")
@pytest.mark.parametrize("m", [0, -2, 1.0, True])
def test_multikrum_m_must_be_positive(impl: ModuleType, m: object) -> None:
    with pytest.raises(ParameterError) as info:
        impl.MultiKrum(1, m)
    assert info.value.clause == "C6.5"


@pytest.mark.spec("C6.5")
def test_multikrum_m_at_most_n(impl: ModuleType) -> None:
    with pytest.raises(ParameterError) as info:
        impl.MultiKrum(1, 6)([[float(i)] for i in range(5)])
    assert info.value.clause == "C6.5"


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize(
    "x",
    [
        [],
        [[]],
        [[1.0], [2.0, 3.0]],
        [[1.0], [math.nan]],
        [[1.0], [math.inf]],
        [["a"], ["b"]],
        [[1.0], [10**400]],  # an int beyond the float range (was a raw OverflowError, C6.9)
    ],
)
def test_bad_data_is_rejected(impl: ModuleType, x: object) -> None:
    with pytest.raises(ShapeError) as info:
        impl.Krum(0)(x)
    assert info.value.clause == "D6.1"


@pytest.mark.spec("D6.2")
@pytest.mark.parametrize(
    "d",
    [
        [],
        [[0.0, 1.0]],
        [[0.0, 1.0], [2.0, 0.0]],
        [[1.0, 1.0], [1.0, 0.0]],
        [[0.0, -1.0], [-1.0, 0.0]],
        [[0.0, math.nan], [math.nan, 0.0]],
    ],
)
def test_bad_distance_matrices_are_rejected(impl: ModuleType, d: object) -> None:
    with pytest.raises(ShapeError) as info:
        impl.Krum(0).weights(d)
    assert info.value.clause == "D6.2"


@pytest.mark.spec("C6.6")
def test_byzfl_convention(impl: ModuleType) -> None:
    # n = 5, f = 2: Blanchard's Krum refuses (n <= 2f + 2); ByzFL's needs only n > 2f and
    # sums the n - f - 1 = 2 nearest squared distances.
    x = [[0.0], [1.0], [3.0], [10.0], [-2.0]]
    with pytest.raises(InsufficientWorkersError):
        impl.Krum(2)(x)
    # scores with 2 neighbours: 0: 1+4=5, 1: 1+4=5, 2: 4+9=13, 3: 49+81=130, 4: 4+9=13.
    assert as_list(impl.Krum(2, convention="byzfl")(x)) == [0.0]
    assert as_list(impl.MultiKrum(2, 2, convention="byzfl")(x)) == [0.5]
    with pytest.raises(InsufficientWorkersError) as info:
        impl.Krum(2, convention="byzfl")(x[:4])
    assert info.value.clause == "C6.6"
    with pytest.raises(ParameterError) as perr:
        impl.Krum(1, convention="el-mhamdi")
    assert perr.value.clause == "C6.6"
    # n = 6, f = 1: 3 neighbours pick -12 (1 + 16 + 64 = 81); 4 neighbours pick -4
    # (64 + 81 + 144 + 225 = 514 against 610 for -12).
    y = [[-12.0], [16.0], [-16.0], [-4.0], [-13.0], [11.0]]
    assert as_list(impl.Krum(1)(y)) == [-12.0]
    assert as_list(impl.Krum(1, convention="byzfl")(y)) == [-4.0]


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_optimized_distance_rules_find_bad_values_through_the_distances(bad: float, n: int) -> None:
    """The optimized distance rules scan x once, through D; a bad entry anywhere, including
    in row 0 (the translation point) and with n = 1 (D is [[0]]), is still reported."""
    import sbrml.optimized as opt

    for row in sorted({0, n - 1}):
        x = np.ones((n, 3))
        x[row, 2] = bad
        for rule in (opt.GeometricMedian(0), opt.Medoid(0)):
            with pytest.raises(ShapeError) as info:
                rule(x)
            assert info.value.clause == "D6.1" and f"x[{row}][2]" in str(info.value)
