"""Section 5: D5.3's float views step by step, and the distance protocols on 0 and 1 rows.

Issue 18 item 1: tests that kill the surviving mutants of ``optimized/distances.py``
(docs/assurance.md) that ``test_05_distance_views.py`` leaves: step 1's first scale and its
boundary, the single scan of x, step 2's probe centre, step 5's greedy refinement (equal rows
and twins without arithmetic, rows equal on the sample only), step 6's one pass per scale,
C5.3's strict rule, and P5.1/P5.2 on an empty or one-row subset (C4.5, C5.1) and on a
channel playing S1 alone (D23.1). They call the module's functions and ``Distances``
directly, on small inputs, so that mutation testing can run them per mutant.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from types import ModuleType
from typing import Any, cast

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.params import pairs
from sbrml.optimized.bounded_distances import View, direct_distances, gram_view
from tests.helpers import as_list
from tests.helpers.channels import OnlyS1

odist = opt.distances


def _view(x: list[list[float]]) -> Any:
    return odist.checked_distances("f", np.array(x, dtype=np.float64))[1]


def _float(v: Fraction) -> float:
    return float(v) if v < Fraction(2**1024) else math.inf


def _exact(x: list[list[float]]) -> list[list[float]]:
    return [[_float(v) for v in row] for row in ref.sq_distances(x)]


@pytest.mark.spec("D6.1")
def test_check_matrix_takes_a_float64_array_as_it_is() -> None:
    # No copy of an n x d model matrix that is already float64 (only other dtypes convert).
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert odist.check_matrix("f", "x", x) is x
    assert odist.check_matrix("f", "x", x, scan=False) is x
    ints = odist.check_matrix("f", "x", x.astype(np.int64))
    assert ints.dtype == np.float64 and ints.tolist() == x.tolist()


@pytest.mark.spec("D6.1")
def test_the_first_view_scans_x_only_when_its_distances_cannot_vouch_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # checked_distances checks shape and type once; the NaN/infinity scan runs only for one
    # row or non-finite distances (D6.1 through the Gram diagonal, one pass instead of two).
    scans: list[bool] = []
    real = odist.check_matrix

    def spy(function: str, parameter: str, x: Any, *, scan: bool = True) -> Any:
        scans.append(bool(scan))  # None would mean False to check_matrix
        return real(function, parameter, x, scan=scan)

    monkeypatch.setattr(odist, "check_matrix", spy)
    for x, want in (
        ([[0.0, 1.0], [2.0, 3.0], [4.0, 6.0]], [False]),
        ([[0.0, 1.0], [2.0, 3.0]], [False]),
        ([[5.0, 1.0]], [False, True]),
        ([[1e200], [-1e200]], [False, True]),  # overflow of finite inputs: scanned, accepted
    ):
        scans.clear()
        odist.checked_distances("f", np.array(x))
        assert scans == want, x
    scans.clear()
    with pytest.raises(opt.ShapeError) as err:
        odist.sq_distances(np.array([[0.0, 1.0], [np.nan, 2.0]]))
    assert scans == [False, True]
    assert (err.value.function, err.value.parameter, err.value.clause) == (
        "sq_distances",
        "x[1][0]",
        "D6.1",
    )


@pytest.mark.spec("D5.3")
def test_step_1_first_scale_is_0_unless_every_norm_is_below_2_to_the_minus_900() -> None:
    # N_1 = 2^-900 exactly is not below the threshold: s = 0.
    at_threshold = _view([[0.0], [2.0**-450]])
    assert at_threshold.shift == 0
    assert at_threshold.value[0, 1] == 2.0**-900
    # Below it: 2^(s-1) <= max |x_ik| = 2^-451 < 2^s, so s = -450 and 4^-s D = 1/4 exactly.
    below = _view([[0.0], [2.0**-451]])
    assert below.shift == -450
    assert below.value.tolist() == [[0.0, 0.25], [0.25, 0.0]]
    assert below.unscaled()[0, 1] == 2.0**-902
    # Three rows, d = 2: the same rule, and every entry accurate in the first view.
    x = [[0.0, 0.0], [3e-300, 0.0], [0.0, 4e-300]]
    view = _view(x)
    assert view.shift == math.frexp(4e-300)[1]
    assert (view.bound <= 1e-12 * view.lo + np.eye(3)).all()
    # The norms overflow: 2^(s-1) <= 1e200 < 2^s.
    assert _view([[0.0], [1e200], [-1e200]]).shift == math.frexp(1e200)[1]


@pytest.mark.spec("D5.3")
def test_step_2_probe_centre_of_three_rows_or_a_probe_finite_only_from_another_row() -> None:
    # Three rows: the central row (median distance 16 for rows 1 and 2; lowest index).
    assert odist.probe_centre(np.array([[0.0], [10.0], [6.0]])) == 1
    # The probe seen from row 0 overflows (so the centre stays row 0), though from row 1 or
    # at scale 4^-1 it would not.
    assert odist.probe_centre(np.array([[1e154], [0.0], [0.1], [0.2]])) == 0
    assert odist.probe_centre(np.array([[0.0], [1.0], [1.0], [1.0], [2e154]])) == 0


@pytest.mark.spec("D5.3")
def test_a_new_view_marks_the_diagonal_as_refined_and_a_single_row_complete() -> None:
    assert _view([[4.0, 2.0]]).complete.tolist() == [True]
    two = _view([[4.0, 2.0], [1.0, 1.0]])
    assert two.complete.tolist() == [False, False]
    assert two.refined.tolist() == [[True, False], [False, True]]


@pytest.mark.spec("D5.3")
def test_step_5_refines_the_pairs_of_a_one_sided_mask_and_nothing_else() -> None:
    x = [[0.0, 1.0], [2.0, 5.0], [-3.0, 2.0], [7.0, 7.0]]
    dist = _view(x)
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 1] = True  # the entry (0, 1) only, not its mirror
    dist.refine(mask)
    assert dist.refined.tolist() == [
        [True, True, False, False],
        [True, True, False, False],
        [False, False, True, False],
        [False, False, False, True],
    ]
    assert dist.unscaled()[1, 0] == _exact(x)[1][0]
    # refine_rows marks a row and its column; no rows, nothing.
    dist.refine_rows([])
    assert int(dist.refined.sum()) == 6
    dist.refine_rows([2])
    assert dist.refined[2].all() and dist.refined[:, 2].all() and not dist.refined[1, 3]
    assert dist.complete.tolist() == [False, False, True, False]


@pytest.mark.spec("D5.3")
def test_step_5_equal_rows_and_the_twin_of_a_complete_row_cost_no_pass_over_x(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "Rows equal bit for bit get 0 without arithmetic"; a row equal to a complete row copies
    # that row's refined entries instead of computing them.
    calls: list[tuple[int, list[int]]] = []
    real = direct_distances

    def spy(arr: Any, i: int, js: Any) -> Any:
        calls.append((i, js.tolist()))
        return real(arr, i, js)

    monkeypatch.setattr(odist, "direct_distances", spy)
    x = [[0.0, 1.0], [5.0, 2.0], [0.0, 1.0], [-3.0, 8.0]]
    dist = _view(x)
    assert dist.lo[0, 2] == 0.0
    dist.refine_rows([0])
    assert calls == [(0, [1, 3])]
    assert dist.q[0, 2] == 0.0 and dist.complete[0]
    dist.refine_rows([2])
    assert calls == [(0, [1, 3])]
    assert dist.unscaled().tolist() == _exact(x)


@pytest.mark.spec("D5.3")
def test_step_5_a_complete_row_whose_distance_underflows_is_no_twin() -> None:
    # D_01 = 2^-1080 is 0 at scale 1 (lower bound 0), but rows 0 and 1 differ: row 1's
    # entries must be computed, not copied from row 0 (D_12 is not D_02).
    x = [[0.0], [2.0**-540], [2.0**-500], [1.0]]
    dist = _view(x)
    assert dist.shift == 0
    dist.refine_rows([0])
    assert dist.complete[0] and dist.lo[1, 0] == 0.0
    assert dist._twin(1) is None
    dist.refine_rows([1])
    exact = _exact(x)
    assert exact[1][2] != exact[0][2]
    assert dist.unscaled()[1].tolist() == exact[1]


@pytest.mark.spec("D5.3")
def test_rows_equal_on_the_sample_but_not_elsewhere_are_not_twins() -> None:
    # d = 512: the sample holds the even columns; rows 3 and 4 differ in columns 1 and 3 only,
    # with the same norm, so the view cannot tell their distance 2 from 0.
    d = 512
    base = np.full(d, 1e8)
    other = base.copy()
    other[1], other[3] = 1e8 - 1, 1e8 + 1
    x = np.vstack([np.zeros((3, d)), base, other])
    dist = odist.checked_distances("f", x)[1]
    assert dist.lo[3, 4] == 0.0
    assert np.array_equal(dist.sample[3], dist.sample[4])
    assert not dist.equal(3, 4) and dist.equal(0, 2)
    assert dist.twins(np.arange(5, dtype=np.intp)).tolist() == [False, True, True, False, False]
    assert not dist.refined[3, 4]
    assert odist.sq_distances(x)[3, 4] == 2.0


@pytest.mark.spec("D5.3")
def test_step_6_each_scale_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[int] = []
    real = gram_view

    def spy(arr: Any, centre: int, shift: int) -> Any:
        passes.append(shift)
        return real(arr, centre, shift)

    x = [[0.0, 1.0], [3.0, 2.0], [1.0, -4.0]]
    dist = _view(x)
    first = dist.value.copy()
    monkeypatch.setattr(odist, "gram_view", spy)
    for shift in (64, 0, 64, -64, -64, 0):
        dist.rescale(shift)
        assert dist.shift == shift
    assert passes == [64, -64]
    assert dist.value.tolist() == first.tolist()


@pytest.mark.spec("C5.3")
def test_ensure_relative_keeps_an_entry_whose_bound_is_exactly_the_accuracy() -> None:
    # C5.3: refine where the value may be *further* than accuracy x lower bound from D.
    arr = np.array([[0.0], [1.1]])
    value = np.array([[0.0, 1.25], [1.25, 0.0]])
    lo, hi = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.0, 1.5], [1.5, 0.0]])
    dist = odist.Distances(arr, View(0, 0, np.zeros((2, 2)), value, lo, hi, True))
    dist.ensure_relative(0.25)
    assert not dist.refined[0, 1]
    dist.ensure_relative(0.24)
    assert dist.refined[0, 1] and dist.unscaled()[0, 1] == 1.1**2


@pytest.mark.spec("C5.3")
def test_far_rows_leave_near_distances_in_range_and_quiet() -> None:
    # The first view is at 4^-515 (row 0 is 1e155 away): D_12 = 1e300 comes back unscaled
    # from it, D_13 = 1e-300 (0 at that scale) from its refined value, D_0j is inf.
    x = [[0.0, 0.0], [1e155, 0.0], [1e155, 1e150], [1e155, 1e-150]]
    exact = _exact(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = _view(x)
        assert dist.shift == 515
        view = dist.unscaled()
        assert abs(view[1, 2] - exact[1][2]) <= 1e-10 * exact[1][2]
        assert view[0, 1] == view[0, 2] == math.inf
        got = odist.sq_distances(x)
    assert abs(got[1, 3] - exact[1][3]) <= 1e-10 * exact[1][3]
    assert abs(got[2, 3] - exact[2][3]) <= 1e-10 * exact[2][3]
    assert got[0].tolist() == [0.0, math.inf, math.inf, math.inf]


def _material(impl: ModuleType, n: int, d: int) -> tuple[Any, Any, Any]:
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(8))
    channel = impl.Channel()
    gram = dealer.gram_triple(n, d, channel=channel)
    squares = dealer.square_pairs(len(pairs(n)) * d, channel=channel)
    return gram, squares, channel


def _shares(impl: ModuleType, rows: list[list[int]], d: int) -> Any:
    shares = [impl.share(r, rng=impl.DeterministicRandomSource(k)) for k, r in enumerate(rows)]
    if impl is ref:
        return tuple([as_list(sh[s]) for sh in shares] for s in (0, 1))
    return tuple(np.asarray([sh[s] for sh in shares], np.uint64).reshape(-1, d) for s in (0, 1))


@pytest.mark.spec("C5.1")
@pytest.mark.parametrize("keep", [[], [2], [0, 2]])
def test_both_variants_agree_on_an_empty_or_one_row_subset(
    impl: ModuleType, keep: list[int]
) -> None:
    # C4.5's restriction of material made for 3 workers to V, then P5.1 and P5.2 on V: the
    # same D (0 x 0 for V = {}, [[0]] for one row), in both trees.
    n, d = 3, 2
    gram, squares, channel = _material(impl, n, d)
    rows = [[1, 2], [3, 5], [4, 4]]
    x = _shares(impl, [rows[i] for i in keep], d)
    triple = (gram[0].restrict(keep), gram[1].restrict(keep))
    g = impl.distances.secure_sq_distances_gram(x, triple, channel=channel)
    kept = impl.distances.restrict_square_pairs(squares, n, d, keep)
    p = impl.distances.secure_sq_distances_pairwise(x, kept, channel=channel)
    want = [
        [sum((a - b) ** 2 for a, b in zip(rows[i], rows[j], strict=True)) for j in keep]
        for i in keep
    ]
    for out in (g, p):
        flat = [[v for row in as_list(out[s]) for v in row] for s in (0, 1)]
        assert as_list(impl.reconstruct(*flat)) == [v for row in want for v in row]
        assert len(out[0]) == len(out[1]) == len(keep)


@pytest.mark.spec("D23.1")
def test_pairwise_distances_on_a_channel_playing_s1_alone() -> None:
    n, d = 3, 2
    _, squares, _ = _material(opt, n, d)
    x = _shares(opt, [[1, 2], [3, 5], [4, 4]], d)
    both = opt.Channel()
    expected = odist.secure_sq_distances_pairwise(x, squares, channel=both)
    got = odist.secure_sq_distances_pairwise(
        cast(Any, (None, x[1])), cast(Any, (None, squares[1])), channel=OnlyS1(both)
    )
    assert got[0] is None
    assert got[1].tolist() == expected[1].tolist()
