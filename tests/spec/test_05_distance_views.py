"""Section 5: D6.1's data check, C4.5's square pairs and D5.3's float views, clause by clause.

Issue 18 item 1: tests that kill the surviving mutants of ``reference/distances.py`` and
``optimized/distances.py`` (docs/assurance.md). They call the module's functions and the
``Distances`` class directly, on small inputs, so that mutation testing can run them per mutant.
"""

from __future__ import annotations

import warnings
from fractions import Fraction
from types import ModuleType
from typing import Any, cast

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import ShapeError, shown
from sbrml.core.params import pairs
from tests.helpers import as_list

M = 1 << 64
odist = opt.distances


def _refused(impl: ModuleType, x: Any) -> ShapeError:
    with pytest.raises(ShapeError) as err:
        impl.distances.check_matrix("f", "x", x)
    return err.value


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize(
    ("x", "parameter"),
    [
        ([[1.0, True]], "x[0][1]"),
        ([[1.0, 2.0], [3.0, "a"]], "x[1][1]"),
        ([[1.0, 10**400]], "x[0][1]"),
        ([[float("nan"), 1.0]], "x[0][0]"),
    ],
)
def test_a_refused_entry_is_named_with_its_clause(
    impl: ModuleType, x: list[list[Any]], parameter: str
) -> None:
    err = _refused(impl, x)
    assert (err.function, err.parameter, err.condition, err.clause) == (
        "f",
        parameter,
        "a finite real",
        "D6.1",
    )
    assert err.got == shown(x[int(parameter[2])][int(parameter[5])])


@pytest.mark.spec("D6.1")
def test_optimized_check_matrix_reads_rows_of_arrays_and_wide_ints() -> None:
    err = _refused(opt, [np.array([1.0, 2.0]), np.array([True, False])])
    assert (err.parameter, err.clause) == ("x[1][0]", "D6.1")
    wide = odist.check_matrix("f", "x", [[2**70, 1], [0, 1]])
    assert wide.dtype == np.float64 and wide.tolist() == [[2.0**70, 1.0], [0.0, 1.0]]
    rows = odist.check_matrix("f", "x", [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert rows.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    for bad in (np.array([["a", "b"]]), np.array([[True, False]])):
        err = _refused(opt, bad)
        assert (err.function, err.parameter, err.condition, err.clause) == (
            "f",
            "x",
            "real entries",
            "D6.1",
        )
        assert err.got == f"dtype {bad.dtype}"


@pytest.mark.spec("D6.1")
def test_optimized_check_matrix_scans_arrays_and_stays_silent_on_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = _refused(opt, np.array([[1.0, np.nan]]))
        assert err.parameter == "x[0][1]"
        err = _refused(opt, np.array([[np.inf, -np.inf]]))
        assert err.parameter == "x[0][0]"
        big = odist.check_matrix("f", "x", np.array([[1e308, 1e308]]))
        assert big.tolist() == [[1e308, 1e308]]
    unscanned = odist.check_matrix("f", "x", np.array([[np.nan]]), scan=False)
    assert np.isnan(unscanned[0, 0])


@pytest.mark.spec("C4.5")
def test_restricted_square_pairs_are_the_kept_pairs_slices(impl: ModuleType) -> None:
    n, d, keep = 4, 2, [0, 2, 3]
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(6))
    material = dealer.square_pairs(len(pairs(n)) * d, channel=impl.Channel())
    got = impl.distances.restrict_square_pairs(material, n, d, keep)
    index = {pair: k for k, pair in enumerate(pairs(n))}
    for s in (0, 1):
        for part in ("a", "b"):
            full = as_list(getattr(material[s], part))
            want = [
                v for a, b in pairs(len(keep)) for v in full[index[(keep[a], keep[b])] * d :][:d]
            ]
            assert as_list(getattr(got[s], part)) == want
    same = impl.distances.restrict_square_pairs(material, n, d, list(range(n)))
    assert [as_list(same[s].a) for s in (0, 1)] == [as_list(material[s].a) for s in (0, 1)]


@pytest.mark.spec("D23.1")
def test_restricted_square_pairs_of_an_unplayed_server_stay_absent() -> None:
    dealer = opt.Dealer(rng=opt.DeterministicRandomSource(6))
    material = dealer.square_pairs(len(pairs(3)) * 2, channel=opt.Channel())
    got = odist.restrict_square_pairs((cast(Any, None), material[1]), 3, 2, [0, 2])
    assert got[0] is None
    assert got[1].a.tolist() == material[1].a.reshape(-1, 2)[[1]].reshape(-1).tolist()


@pytest.mark.spec("D5.3")
def test_probe_centre_is_row_0_for_two_rows_or_an_overflowing_probe() -> None:
    assert odist.probe_centre(np.array([[5.0], [0.0]])) == 0
    # Three rows: the probe's distances overflow at scale 1, so the first row is kept.
    assert odist.probe_centre(np.array([[2e154], [0.0], [0.1]])) == 0
    # Otherwise the central row of the probe (D5.3 step 4's smallest median distance).
    assert odist.probe_centre(np.array([[0.0], [10.0], [4.0], [5.0]])) == 2
    # Every column counts when d is below the probe's width.
    assert odist.probe_centre(np.array([[0.0, 0.0], [0.0, 10.0], [0.0, 4.0], [0.0, 5.0]])) == 2


def _exact(x: list[list[float]]) -> list[list[float]]:
    return [[float(v) for v in row] for row in ref.sq_distances(x)]


def _view(x: list[list[float]]) -> Any:
    return odist.checked_distances("f", np.array(x))[1]


@pytest.mark.spec("D5.3")
def test_refined_rows_hold_exact_distances_at_every_scale() -> None:
    x = [[0.0, 1.0], [1e8 + 5, 3.0], [1e8 + 3, 2.0], [7.0, -1.0]]
    exact = _exact(x)
    dist = _view(x)
    dist.refine_rows([1])
    assert dist.refined[1].all() and dist.refined[:, 1].all() and dist.complete[1]
    assert not dist.complete[0] or dist.refined[0].all()
    assert dist.unscaled()[1].tolist() == exact[1]
    for shift in (3, -2, 0):
        dist.rescale(shift)
        assert dist.shift == shift
        assert dist.row_at(1, shift).tolist() == [v / 4.0**shift for v in exact[1]]
        lo, hi = dist.lower(), dist.upper()
        for i in range(4):
            for j in range(4):
                assert lo[i][j] <= exact[i][j] / 4.0**shift <= hi[i][j]
        assert dist.value[1].tolist() == [v / 4.0**shift for v in exact[1]]
    assert sorted(dist._views) == [-2, 0, 3]


@pytest.mark.spec("D5.3")
def test_twins_are_found_once_and_stored_as_exact_zeros() -> None:
    x = [[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [1.0, 2.5]]
    dist = _view(x)
    rows = np.arange(5, dtype=np.intp)
    assert dist.twins(rows).tolist() == [False, True, False, True, False]
    assert dist.refined[0, 1] and dist.refined[0, 3] and not dist.refined[0, 2]
    assert dist.unscaled()[0, 1] == 0.0 and dist.unscaled()[0, 3] == 0.0
    assert dist.equal(1, 3) and not dist.equal(0, 4)
    dist.refine(np.ones((5, 5), dtype=bool))
    assert dist.complete.all()
    assert dist.unscaled().tolist() == _exact(x)


@pytest.mark.spec("D5.3")
def test_a_row_equal_to_a_complete_row_copies_its_distances() -> None:
    x = [[0.0, 1.0], [5.0, 2.0], [0.0, 1.0], [-3.0, 8.0]]
    dist = _view(x)
    dist.refine_rows([0])
    assert dist._twin(2) == 0 and dist._twin(1) is None
    dist.refine_rows([2])
    assert dist.unscaled()[2].tolist() == _exact(x)[2]
    assert dist.q[2, 0] == 0.0 and dist.e[2, 0] == 0


@pytest.mark.spec("D5.3")
def test_magnitude_bounds_the_largest_entry_closely() -> None:
    # Two rows: the centre is row 0, so the bound is |x_0| + 1.01 |x_1 - x_0|.
    for x in ([[0.0], [10.0]], [[0.0], [1e-3]], [[0.0, 0.0], [0.0, -7.0]]):
        top = max(abs(v) for row in x for v in row)
        assert top <= _view(x).magnitude() <= 1.02 * top
    assert _view([[3.0, -4.0], [1.0, 1.0], [0.0, 10.0]]).magnitude() >= 10.0
    assert _view([[1e300], [-1e300], [0.0]]).magnitude() >= 1e300


@pytest.mark.spec("C5.3")
def test_ensure_relative_refines_only_entries_whose_bound_is_too_wide() -> None:
    x = [[0.0], [1e8 + 5], [1e8 + 3], [1e8 + 3], [1e8 + 1]]
    dist = _view(x)
    dist.ensure_relative(1e-10)
    assert dist.unscaled().tolist() == _exact(x)
    assert Fraction(dist.unscaled()[1][2]) == ref.sq_distances(x)[1][2]
