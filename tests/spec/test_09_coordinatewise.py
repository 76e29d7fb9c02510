"""Section 9: mean and coordinate-wise rules (spec/09-coordinatewise.md)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import sbrml.reference as ref
from sbrml.core.errors import InsufficientWorkersError
from tests.helpers import as_list

X = [[1.0, 10.0], [2.0, -5.0], [3.0, 0.0], [100.0, 2.0], [-50.0, 1.0]]


@pytest.mark.spec("D9.1", "D9.2", "D9.3", "D9.4")
def test_known_answers(impl: ModuleType) -> None:
    assert as_list(impl.Mean(0)(X)) == [56 / 5, 8 / 5]
    assert as_list(impl.CoordinateMedian(2)(X)) == [2.0, 1.0]
    assert as_list(impl.CoordinateMedian(1)(X[:4])) == [2.5, 1.0]  # even n: mean of the middle two
    assert as_list(impl.TrimmedMean(1)(X)) == [2.0, 1.0]
    assert as_list(impl.TrimmedMean(2)(X)) == [2.0, 1.0]
    # Meamed, f = 1: column 0 has median 2 and drops 100 (98 away); column 1 drops 10.
    assert as_list(impl.Meamed(1)(X)) == [
        pytest.approx((2 + 1 + 3 - 50) / 4),
        pytest.approx((1 + 2 + 0 - 5) / 4),
    ]


@pytest.mark.spec("C9.1")
@pytest.mark.parametrize("name", ["median", "trimmed-mean", "meamed"])
def test_need_n_above_2f(impl: ModuleType, name: str) -> None:
    with pytest.raises(InsufficientWorkersError) as info:
        impl.RULES[name](3)(X[:6] if len(X) >= 6 else X + X[:1])
    assert info.value.clause == "C9.1"


@pytest.mark.spec("C9.2")
def test_meamed_ties_take_the_lower_index(impl: ModuleType) -> None:
    # Median 0; values -1 and 1 are equally far: with n - f = 2 the lower index (value 1) joins 0.
    x = [[1.0], [-1.0], [0.0]]
    assert as_list(impl.Meamed(1)(x)) == [0.5]
    x = [[-1.0], [1.0], [0.0]]
    assert as_list(impl.Meamed(1)(x)) == [-0.5]


@pytest.mark.spec("C9.3", "D9.5")
def test_bulyan_selection_known_answer(impl: ModuleType) -> None:
    # n = 7, f = 1: theta = 5 by repeated Krum, beta = 3 around the median.
    x = [[0.0], [1.0], [2.0], [3.0], [4.0], [100.0], [-100.0]]
    d = impl.sq_distances(x)
    chosen = impl.Bulyan(1).select(d)
    # First step keeps 4 neighbours: score(2) = 1+1+4+4 beats score(1) = 1+1+4+9.
    assert chosen == [2, 1, 3, 0, 4]
    assert as_list(impl.Bulyan(1)(x)) == [2.0]


@pytest.mark.spec("C9.4")
def test_bulyan_needs_4f_plus_3(impl: ModuleType) -> None:
    with pytest.raises(InsufficientWorkersError) as info:
        impl.Bulyan(1)([[float(i)] for i in range(6)])
    assert info.value.clause == "C9.4"
    impl.Bulyan(1)([[float(i)] for i in range(7)])


@pytest.mark.spec("C9.6", "C8.11", "C8.15")
@pytest.mark.parametrize("name", ["median", "trimmed-mean", "meamed", "bulyan"])
def test_coordinatewise_rules_have_no_distance_form(impl: ModuleType, name: str) -> None:
    from sbrml.core.errors import ParameterError

    rule = impl.RULES[name](0)
    assert not impl.is_distance_rule(rule)
    x = [[float(i)] for i in range(5)]
    if name == "bulyan":
        with pytest.raises(ParameterError) as info:
            impl.secure_aggregate(x, rule, rng=impl.DeterministicRandomSource(0))
        assert info.value.clause == "C8.11" and "does not run on shares" in str(info.value)
        return
    # Since spec 0.6 they run on shares (P22.2): no D, no weights, leakage "output" only.
    result = impl.secure_aggregate(x, rule, rng=impl.DeterministicRandomSource(0))
    assert result.leakage == "output" and result.weights is None and result.distances is None
    assert as_list(result.z) == as_list(rule(x if impl is ref else np.asarray(x)))
    for leakage in ("distances", "index", "nonsense"):
        with pytest.raises(ParameterError) as info:
            impl.secure_aggregate(x, rule, rng=impl.DeterministicRandomSource(0), leakage=leakage)
        assert info.value.clause == "C8.15"


@pytest.mark.spec("D9.2", "D9.3")
@pytest.mark.parametrize("n", range(1, 17))
def test_sorting_network_sorts_every_01_input(n: int) -> None:
    """The optimized coordinate-wise rules sort short columns with Batcher's network; by the
    0-1 principle it sorts every input once it sorts all 2^n columns of zeros and ones."""
    from sbrml.optimized.coordinatewise import sort_columns

    columns = (np.arange(2**n)[None, :] >> np.arange(n)[:, None]) & 1
    assert np.array_equal(sort_columns(columns.astype(np.float64)), np.sort(columns, axis=0))
    x = np.random.default_rng(n).standard_normal((n, 50))
    assert np.array_equal(sort_columns(x), np.sort(x, axis=0))
