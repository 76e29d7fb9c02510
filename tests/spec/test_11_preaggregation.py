"""Section 11: pre-aggregation and composition (spec/11-preaggregation.md)."""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.reference.preaggregation import mixed_distances
from tests.helpers import ScriptedSource, as_list


@pytest.mark.spec("D11.2")
def test_nnm_known_answer(impl: ModuleType) -> None:
    x = [[0.0], [1.0], [3.0], [10.0]]
    y = as_list(impl.NearestNeighborMixing(1).mix(x))
    assert y == [[4 / 3], [4 / 3], [4 / 3], [pytest.approx(14 / 3)]]


@pytest.mark.spec("C11.2")
@pytest.mark.parametrize("name", ["nnm", "arc"])
def test_need_n_above_2f(impl: ModuleType, name: str) -> None:
    with pytest.raises(InsufficientWorkersError) as info:
        impl.PREAGGREGATIONS[name](2).mix([[1.0]] * 4)
    assert info.value.clause == "C11.2"


@pytest.mark.spec("C11.3", "D11.3")
def test_bucketing_permutation_is_fisher_yates(impl: ModuleType) -> None:
    # n = 4: draws uniform_below(4), (3), (2); one byte each. Bytes 3, 0, 1 give j = 3, 0, 1.
    src = ScriptedSource(bytes([3, 0, 1]))
    mixing = impl.Bucketing(0, s=2).mixing_for(4, src)
    # perm: start [0,1,2,3]; i=3,j=3 -> same; i=2,j=0 -> [2,1,0,3]; i=1,j=1 -> same.
    # Buckets [2, 1] and [0, 3].
    assert mixing.numerators == [[0, 1, 1, 0], [1, 0, 0, 1]]
    assert mixing.denominator == 2  # each bucket mean weighs its members 1/2
    with pytest.raises(ParameterError) as info:
        impl.Bucketing(0, s=2).mix([[1.0]] * 4)
    assert info.value.clause == "C11.3"


@pytest.mark.spec("D11.3")
def test_uneven_buckets(impl: ModuleType) -> None:
    x = [[float(i)] for i in range(5)]
    y = as_list(impl.Bucketing(0, s=2).mix(x, rng=impl.DeterministicRandomSource(1)))
    assert len(y) == 3
    assert sorted(round(3 * v[0], 9) for v in y[:2]) != [] and math.fsum(
        2 * v[0] for v in y[:2]
    ) + y[2][0] == pytest.approx(10.0)


@pytest.mark.spec("C11.4")
@pytest.mark.parametrize(
    ("name", "kw", "value"),
    [("bucketing", "s", 0), ("bucketing", "s", 1.5), ("clip", "c", 0.0), ("clip", "c", math.inf)],
)
def test_bad_hyperparameters(impl: ModuleType, name: str, kw: str, value: object) -> None:
    with pytest.raises(ParameterError) as info:
        impl.PREAGGREGATIONS[name](0, **{kw: value})
    assert info.value.clause == "C11.4"


@pytest.mark.spec("D11.4", "D11.5")
def test_clipping_known_answers(impl: ModuleType) -> None:
    x = [[3.0, 4.0], [0.0, 0.0], [0.3, 0.4], [6.0, 8.0], [0.0, 1.0]]
    assert as_list(impl.StaticClipping(0, c=1.0).mix(x)) == [
        [pytest.approx(0.6), pytest.approx(0.8)],
        [0.0, 0.0],
        [0.3, 0.4],
        [pytest.approx(0.6), pytest.approx(0.8)],
        [0.0, 1.0],
    ]
    # ARC, n = 5, f = 1: k = floor(2 * 1 * 4 / 5) = 1: the largest (norm 10) is clipped to 5.
    y = as_list(impl.AdaptiveClipping(1).mix(x))
    assert y[3] == [pytest.approx(3.0), pytest.approx(4.0)] and y[0] == [3.0, 4.0]


@pytest.mark.spec("C11.5")
@given(
    st.lists(st.lists(st.integers(-50, 50), min_size=2, max_size=2), min_size=5, max_size=7),
    st.integers(0, 2**32),
)
def test_mixed_distances_are_exact(points: list[list[int]], seed: int) -> None:
    n = len(points)
    d = [[sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) for q in points] for p in points]
    for pre in (ref.NearestNeighborMixing(1), ref.Bucketing(0, s=2)):
        mixing = pre.mixing(d, rng=ref.DeterministicRandomSource(seed))
        ys = [
            [
                Fraction(
                    sum(m * p[k] for m, p in zip(row, points, strict=True)), mixing.denominator
                )
                for k in range(2)
            ]
            for row in mixing.numerators
        ]
        exact = [
            [
                (sum((a - b) ** 2 for a, b in zip(u, v, strict=True))) * mixing.denominator**2
                for v in ys
            ]
            for u in ys
        ]
        assert mixed_distances(mixing, d) == exact
        got = opt.preaggregation.mixed_distances(mixing, np.array(d, dtype=np.uint64))
        assert got.tolist() == exact
    assert n == len(d)


@pytest.mark.spec("C11.6", "D11.6")
def test_composition_weights_and_names(impl: ModuleType) -> None:
    rule = impl.compose(impl.NearestNeighborMixing(1), impl.Krum(1))
    assert rule.name == "nnm+krum" and impl.is_distance_rule(rule)
    assert not impl.is_distance_rule(impl.compose(impl.StaticClipping(0), impl.Krum(1)))
    x = [[0.0], [1.0], [3.0], [10.0], [4.0]]
    p = as_list(rule.weights(impl.sq_distances(x)))
    assert math.fsum(p) == pytest.approx(1.0)
    assert as_list(rule(x)) == [
        pytest.approx(math.fsum(pi * r[0] for pi, r in zip(p, x, strict=True)))
    ]
    with pytest.raises(InsufficientWorkersError):
        impl.compose(impl.Bucketing(0, s=2), impl.Krum(1)).check_n(8)  # 4 buckets, Krum needs 5


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_optimized_clipping_finds_bad_values_through_the_norms(bad: float) -> None:
    import numpy as np

    import sbrml.optimized as opt

    x = np.ones((5, 4))
    x[3, 1] = bad
    for pre in (opt.StaticClipping(1, c=1.0), opt.AdaptiveClipping(1)):
        with pytest.raises(ShapeError) as info:
            pre.mix(x)
        assert info.value.clause == "D6.1" and "x[3][1]" in str(info.value)


BUCKETS = "bucketing (s=2) turns 9 rows into 5"


@pytest.mark.spec("D11.6", "C6.3")
def test_composition_errors_name_the_buckets(impl: ModuleType) -> None:
    """Issue 13, item 19: bucketing+krum with f = 2 on 9 rows said "got n=5" (5 buckets)
    when used as a library rule; only the command line said what the 5 were."""
    rule = impl.compose(impl.Bucketing(2), impl.Krum(2))
    x = [[float(i), 1.0] for i in range(9)]
    data = x if impl is ref else np.array(x)
    calls: dict[str, Callable[[], object]] = {
        "check_n": lambda: rule.check_n(9),
        "call": lambda: rule(data, rng=impl.DeterministicRandomSource(1)),
        "weights": lambda: rule.weights(
            impl.sq_distances(data), rng=impl.DeterministicRandomSource(1)
        ),
        "secure_aggregate": lambda: impl.secure_aggregate(
            data, rule, rng=impl.DeterministicRandomSource(1)
        ),
    }
    for name, call in calls.items():
        with pytest.raises(InsufficientWorkersError) as info:
            call()
        err = info.value
        assert err.clause == "C6.3", name
        assert BUCKETS in str(err) and "got n=5 for krum from 9 rows, f=2" in str(err), name
        caller = "secure_aggregate" if name == "secure_aggregate" else "bucketing+krum"
        assert str(err).startswith(f"{caller}: n: need n > 2f + 2 for krum"), name
    # Nested: NNM keeps the 5 buckets, so the message names only bucketing's change.
    nested = impl.compose(
        impl.Bucketing(2), impl.compose(impl.NearestNeighborMixing(2), impl.Krum(2))
    )
    with pytest.raises(
        InsufficientWorkersError, match=r"bucketing \(s=2\) turns 9 rows into 5 \(C6\.3\)"
    ):
        nested.check_n(9)
    # Without a change of count each stage's own error stands, under the caller's name.
    with pytest.raises(InsufficientWorkersError) as plain:
        impl.compose(impl.NearestNeighborMixing(2), impl.Krum(2)).check_n(5, "secure_aggregate")
    assert str(plain.value) == "secure_aggregate: n: need n > 2f + 2 (C6.3); got n=5, f=2"
    impl.compose(impl.Bucketing(2), impl.Krum(2)).check_n(14)  # 7 buckets > 2f + 2
