"""Clipping rules at the float's limits: no division by ~0, no norm lost (issue 13).

Every clipping rule scales a row by min(1, threshold / norm). Dividing first and taking the
minimum afterwards overflows to inf (with "overflow encountered in divide") when the norm is
zero or tiny and the threshold is large; the result was right but the warning is a fault, and
under ``-W error`` a crash. A norm beyond the float maximum, or a difference x_i - v that
overflows, turned a row into 0 or NaN (items 8 and 12). These tests turn every warning into
an error.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.optimized.preaggregation as opt_pre
import sbrml.reference as ref
import sbrml.reference.preaggregation as ref_pre
from sbrml.privacy import GaussianMechanism
from tests.helpers import as_list

pytestmark = pytest.mark.filterwarnings("error")

SUBNORMAL = 5e-324  # the smallest positive float: tau / SUBNORMAL overflows for any tau > 1e-16
ZEROS = [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
TINY = [[SUBNORMAL, 0.0], [0.0, -SUBNORMAL], [1e-150, 1e-150]]


@pytest.fixture(params=[ref, opt], ids=["reference", "optimized"])
def tree(request: pytest.FixtureRequest) -> ModuleType:
    return request.param  # type: ignore[no-any-return]


@pytest.mark.spec("D10.6")
@pytest.mark.parametrize("tau", [1e-150, 1.0, 10.0, 1e300])
def test_centered_clipping_at_zero_and_tiny_norms(tree: ModuleType, tau: float) -> None:
    # The input: CenteredClipping(0, tau=10.0)(np.zeros((3, 2))) warned in optimized.
    assert as_list(tree.CenteredClipping(0, tau=tau)(np.zeros((3, 2)))) == [0.0, 0.0]
    assert as_list(tree.CenteredClipping(0, tau=tau)(ZEROS)) == [0.0, 0.0]
    # Rows within tau are not scaled; the centre at a row gives that row a zero norm.
    got = as_list(tree.CenteredClipping(0, tau=tau, iterations=1)(TINY))
    # The third row has norm 1e-150 * sqrt(2): scaled only by the smallest tau.
    third = 1e-150 * min(1.0, tau / (1e-150 * 2**0.5))
    expected = [(SUBNORMAL + third) / 3, (third - SUBNORMAL) / 3]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-315)
    centred = tree.CenteredClipping(0, tau=tau, iterations=2)(ZEROS, center=[0.0, 0.0])
    assert as_list(centred) == [0.0, 0.0]


@pytest.mark.spec("D10.6")
def test_centered_clipping_trees_agree_on_tiny_rows() -> None:
    x = [[1e-310, 3.0], [0.0, 0.0], [2.0, -1e-320], [0.5, 0.5]]
    for tau in (1e-320, 0.7, 10.0, 1e308):
        a = as_list(ref.CenteredClipping(1, tau=tau)(x))
        b = as_list(opt.CenteredClipping(1, tau=tau)(np.array(x)))
        assert a == pytest.approx(b, rel=1e-12, abs=1e-300)


@pytest.mark.spec("D11.4")
@pytest.mark.parametrize("module", [ref_pre, opt_pre], ids=["reference", "optimized"])
@pytest.mark.parametrize("c", [1e-150, 10.0, 1e300])
def test_static_clipping_at_zero_and_tiny_norms(module: ModuleType, c: float) -> None:
    rule = module.StaticClipping(c=c)
    assert [as_list(r) for r in rule.mix(ZEROS)] == ZEROS
    got = [as_list(r) for r in rule.mix(TINY)]
    assert got[:2] == TINY[:2]  # norms at most SUBNORMAL: within every c
    third = 1e-150 * min(1.0, c / (1e-150 * 2**0.5))
    assert got[2] == pytest.approx([third, third], rel=1e-12)


@pytest.mark.spec("D11.5")
@pytest.mark.parametrize("module", [ref_pre, opt_pre], ids=["reference", "optimized"])
def test_adaptive_clipping_with_zero_rows(module: ModuleType) -> None:
    x = [[0.0, 0.0], [0.0, 0.0], [3e-150, 4e-150], [3.0, 4.0]]
    got = [as_list(r) for r in module.AdaptiveClipping(1).mix(x)]
    # k = floor(2 * 1 * 3 / 4) = 1: the largest row is clipped to the next norm, 5e-150.
    assert got[:3] == x[:3] and got[3] == pytest.approx(x[2], rel=1e-12, abs=0.0)
    # All rows zero: the threshold is 0 and nothing is divided by it.
    four = [*ZEROS, [0.0, 0.0]]
    assert [as_list(r) for r in module.AdaptiveClipping(1).mix(four)] == four


@pytest.mark.spec("D17.1")
@pytest.mark.parametrize("clip", [1e-300, 10.0, 1e300])
def test_gaussian_mechanism_clips_zero_and_tiny_gradients(clip: float) -> None:
    mech = GaussianMechanism(clip=clip, sigma=0.0)
    assert mech.clipped_mean(np.zeros((3, 2))).tolist() == [0.0, 0.0]
    tiny = mech.clipped_mean(np.array([[0.0, 4 * SUBNORMAL], [0.0, 0.0]])).tolist()
    assert tiny == [0.0, 2 * SUBNORMAL]  # within every clip: unscaled, then averaged
    one = mech.clipped_mean(np.array([[3.0, 4.0]])).tolist()
    assert one == ([3.0, 4.0] if clip >= 5 else pytest.approx([0.6 * clip, 0.8 * clip]))


@pytest.mark.spec("D10.6")
def test_centered_clipping_counts_squares_that_under_or_overflow(tree: ModuleType) -> None:
    # ||(1e200, 0)||^2 overflows to inf: the row was scaled by tau / inf = 0 and vanished.
    huge = [[0.0, 0.0], [0.0, 0.0], [1e200, 0.0]]
    assert as_list(tree.CenteredClipping(0, tau=1.0, iterations=1)(huge)) == [1 / 3, 0.0]
    # ||(1e-200, 0)||^2 underflows to 0: the row passed unclipped although tau is smaller.
    tiny = [[0.0, 0.0], [0.0, 0.0], [0.0, -1e-200]]
    got = as_list(tree.CenteredClipping(0, tau=1e-201, iterations=1)(tiny))
    assert got == [0.0, pytest.approx(-1e-201 / 3, rel=1e-12)]


@pytest.mark.spec("D11.4", "D11.5")
@pytest.mark.parametrize("module", [ref_pre, opt_pre], ids=["reference", "optimized"])
def test_clipping_counts_squares_that_under_or_overflow(module: ModuleType) -> None:
    clipped = [as_list(r) for r in module.StaticClipping(c=1.0).mix([[1e200, 1e200], [3.0, 4.0]])]
    assert clipped == [pytest.approx([0.5**0.5] * 2, rel=1e-12), pytest.approx([0.6, 0.8])]
    tiny = [as_list(r) for r in module.StaticClipping(c=1e-201).mix([[3e-200, 4e-200]])]
    assert tiny == [pytest.approx([6e-202, 8e-202], rel=1e-12)]
    # ARC, n = 4, f = 1: k = 1, the largest row is clipped to the next norm, 1e200.
    x = [[1.0, 0.0], [2.0, 0.0], [1e200, 0.0], [0.0, 3e200]]
    got = [as_list(r) for r in module.AdaptiveClipping(1).mix(x)]
    assert got[:3] == x[:3] and got[3] == [0.0, pytest.approx(1e200, rel=1e-12)]


@pytest.mark.spec("D17.1")
def test_gaussian_mechanism_clips_huge_and_tiny_gradients() -> None:
    mech = GaussianMechanism(clip=1.0, sigma=0.0)
    assert mech.clipped_mean(np.array([[1e200, 0.0]])).tolist() == [1.0, 0.0]
    small = GaussianMechanism(clip=1e-201, sigma=0.0)
    got = small.clipped_mean(np.array([[0.0, 1e-200]])).tolist()
    assert got == [0.0, pytest.approx(1e-201, rel=1e-12)]


# ||(1.7e308, 1.7e308)|| = 2.4e308 is beyond the float maximum (1.8e308); the row's direction
# is (1, 1)/sqrt(2).
BEYOND = [1.7e308, 1.7e308]
HALF = 0.5**0.5


@pytest.mark.spec("D10.6", "C6.9")
@pytest.mark.parametrize("tau", [1e-300, 1.0, 1e300])
def test_centered_clipping_of_a_norm_beyond_the_range(tree: ModuleType, tau: float) -> None:
    # The row counted as 0 (scaled by tau / inf) in both trees.
    x = [BEYOND, [0.0, 0.0], [1e-301, 0.0]]
    got = as_list(tree.CenteredClipping(0, tau=tau, iterations=1)(x))
    third = 1e-301 * min(1.0, tau / 1e-301)
    assert got == [
        pytest.approx((tau * HALF + third) / 3, rel=1e-14, abs=0.0),
        pytest.approx(tau * HALF / 3, rel=1e-14, abs=0.0),
    ]


@pytest.mark.spec("D10.6", "C6.9")
def test_centered_clipping_whose_scale_underflows(tree: ModuleType) -> None:
    # tau / ||x_0|| = 1e-300 / 1e100 underflows to 0: the row did not move v at all.
    x = [[0.0, 1e100], [0.0, 0.0], [0.0, 0.0]]
    got = as_list(tree.CenteredClipping(0, tau=1e-300, iterations=1)(x))
    assert got == [0.0, pytest.approx(1e-300 / 3, rel=1e-15, abs=0.0)]


@pytest.mark.spec("D10.6", "C6.9")
def test_centered_clipping_of_a_difference_that_overflows(tree: ModuleType) -> None:
    # x_0 - v = (3.4e308, 3.4e308) overflows: the reference gave NaN, the optimized tree NaN
    # with "overflow encountered in subtract". The move is tau along (1, 1)/sqrt(2).
    x = [BEYOND, [-1.7e308, -1.7e308], [-1.7e308, -1.7e308]]
    v = tree.CenteredClipping(0, tau=1e307, iterations=1)(x, center=[-1.7e308, -1.7e308])
    assert as_list(v) == [pytest.approx(-1.7e308 + 1e307 * HALF / 3, rel=1e-14, abs=0.0)] * 2
    # One coordinate overflows, the other is small: the direction is still the row's.
    y = [[1.7e308, 3e307], [0.0, 0.0]]
    w = as_list(tree.CenteredClipping(0, tau=1e300, iterations=1)(y, center=[-1e308, 0.0]))
    unit = [2.7 / math.hypot(2.7, 0.3), 0.3 / math.hypot(2.7, 0.3)]  # x_0 - v = (2.7, 0.3)e308
    away = [1.0, 0.0]  # x_1 - v = (1e308, 0)
    expected = [-1e308 + 1e300 * (unit[0] + away[0]) / 2, 1e300 * (unit[1] + away[1]) / 2]
    assert w == [
        pytest.approx(expected[0], rel=1e-14, abs=0.0),
        pytest.approx(expected[1], rel=1e-14, abs=0.0),
    ]


@pytest.mark.spec("D10.6", "C6.9")
def test_centered_clipping_whose_moves_overflow_their_sum(tree: ModuleType) -> None:
    # Three moves of 1e308 sum to 3e308: fsum raised OverflowError in the reference, and
    # the optimized tree returned inf with "overflow encountered in matmul".
    x = [[1.7e308, 0.0]] * 3
    assert as_list(tree.CenteredClipping(0, tau=1e308, iterations=1)(x)) == [1e308, 0.0]
    # Squares of 1e154 are finite, their sum is not: the reference's fsum raised.
    y = [[1e154, 1e154], [0.0, 0.0]]
    got = as_list(tree.CenteredClipping(0, tau=1.0, iterations=1)(y))
    assert got == [pytest.approx(HALF / 2, rel=1e-15, abs=0.0)] * 2


@pytest.mark.spec("D10.6", "C6.9")
def test_centered_clipping_trees_agree_at_the_limits() -> None:
    x = [BEYOND, [-1.7e308, 1.7e308], [1.0, -2.0], [1e-310, 0.0], [1.6e308, -1e308]]
    for tau in (1e-300, 1.0, 1e300, 1.7e308):
        for center in (None, [1.7e308, -1.7e308], [-1.7e308, 0.0]):
            rule = (ref.CenteredClipping(1, tau=tau), opt.CenteredClipping(1, tau=tau))
            a = as_list(rule[0](x, center=center))
            b = as_list(rule[1](np.array(x), center=center))
            assert all(math.isfinite(v) for v in a + b)
            assert a == pytest.approx(b, rel=1e-12, abs=0.0)


@pytest.mark.spec("D11.4", "C6.9")
@pytest.mark.parametrize("module", [ref_pre, opt_pre], ids=["reference", "optimized"])
@pytest.mark.parametrize("c", [1e-300, 1.0, 1e300])
def test_static_clipping_of_a_norm_beyond_the_range_to_any_threshold(
    module: ModuleType, c: float
) -> None:
    # The threshold was scaled by 2^-1024 alongside the row: c = 1e-300 underflowed to 0 and
    # the row vanished. Squares of 1e154 overflowed fsum in the reference.
    got = [as_list(r) for r in module.StaticClipping(c=c).mix([BEYOND, [1e154, -1e154]])]
    assert got[0] == pytest.approx([c * HALF, c * HALF], rel=1e-15, abs=0.0)
    side = min(1e154, c * HALF)  # within c = 1e300 the row is kept
    assert got[1] == pytest.approx([side, -side], rel=1e-15, abs=0.0)


@pytest.mark.spec("D11.5", "C6.9")
@pytest.mark.parametrize("module", [ref_pre, opt_pre], ids=["reference", "optimized"])
def test_adaptive_clipping_beside_a_norm_beyond_the_range(module: ModuleType) -> None:
    # n = 4, f = 1: k = 1, the row beyond the range is clipped to the next norm, 1e-10. All
    # norms were compared at the scale of 1.7e308, where 1e-10 keeps only 17 bits: the
    # clipped row came out at 7.07105e-11 instead of 7.07107e-11.
    x = [[1e-10, 0.0], [0.0, 1e-10], [-1e-10, 0.0], BEYOND]
    got = [as_list(r) for r in module.AdaptiveClipping(1).mix(x)]
    assert got[:3] == x[:3]
    assert got[3] == [pytest.approx(1e-10 * HALF, rel=1e-15, abs=0.0)] * 2
    # A finite norm, but threshold / norm = 7e-401 underflowed to 0: the row vanished.
    small = [[1e-300, 0.0], [0.0, 1e-300], [-1e-300, 0.0], [1e100, 1e100]]
    clipped = [as_list(r) for r in module.AdaptiveClipping(1).mix(small)]
    assert clipped[3] == [pytest.approx(1e-300 * HALF, rel=1e-15, abs=0.0)] * 2
    # n = 5, f = 2: k = 2, the threshold (row 4) is beyond the range too; rows 2 and 3 (equal
    # norms, the lower index first) are clipped to its norm.
    y = [[1.0, 0.0], [1.0, 0.0], BEYOND, [1.7e308, -1.7e308], [1.7e308, 1e308]]
    ratio = math.hypot(1.7, 1.0) / math.hypot(1.7, 1.7)
    out = [as_list(r) for r in module.AdaptiveClipping(2).mix(y)]
    assert out[:2] == y[:2] and out[4] == y[4]
    assert out[2] == [pytest.approx(1.7e308 * ratio, rel=1e-14, abs=0.0)] * 2
    assert out[3] == [
        pytest.approx(1.7e308 * ratio, rel=1e-14, abs=0.0),
        pytest.approx(-1.7e308 * ratio, rel=1e-14, abs=0.0),
    ]


@pytest.mark.spec("D17.1")
@pytest.mark.parametrize("clip", [1e-300, 1.0, 1e300])
def test_gaussian_mechanism_clips_a_norm_beyond_the_range(clip: float) -> None:
    # The gradient was scaled by clip / inf = 0 and dropped from the sum.
    mech = GaussianMechanism(clip=clip, sigma=0.0)
    got = mech.clipped_sum(np.array([BEYOND, [-1.7e308, 1.0], [0.0, 0.0]])).tolist()
    left = clip * 1.7 / math.hypot(1.7, 1e-308)  # the second row's norm is within the range
    assert got == [
        pytest.approx(clip * HALF - left, rel=1e-14, abs=0.0),
        pytest.approx(clip * HALF, rel=1e-14, abs=0.0),
    ]
