"""Clipping rules on zero and tiny norms: no division by ~0, so no RuntimeWarning (issue 13).

Every clipping rule scales a row by min(1, threshold / norm). Dividing first and taking the
minimum afterwards overflows to inf (with "overflow encountered in divide") when the norm is
zero or tiny and the threshold is large; the result was right but the warning is a fault, and
under ``-W error`` a crash. These tests turn every warning into an error.
"""

from __future__ import annotations

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
