"""Section 17: the Gaussian mechanism and its accounting (spec/17-privacy.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dp_accounting import dp_event, rdp

import sbrml.optimized as opt
from sbrml.attacks import normal_draws
from sbrml.core.errors import ParameterError
from sbrml.privacy import GaussianMechanism, calibrate_sigma, epsilon


@pytest.mark.spec("D17.1")
def test_clipping_and_noise_known_answer() -> None:
    g = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    mech = GaussianMechanism(clip=1.0, sigma=2.0)
    clipped = (np.array([0.6, 0.8]) + np.array([0.3, 0.4])) / 3
    assert np.allclose(mech.clipped_mean(g), clipped)
    noisy = mech(g, rng=opt.DeterministicRandomSource(3))
    assert np.allclose(
        noisy, clipped + (2.0 * 1.0 / 3) * normal_draws(opt.DeterministicRandomSource(3), 2)
    )
    assert np.array_equal(
        GaussianMechanism(1.0, 0.0)(g, rng=opt.DeterministicRandomSource(3)), mech.clipped_mean(g)
    )


@pytest.mark.spec("D17.1")
def test_noise_mean_and_variance() -> None:
    # 4000 draws of the mechanism on a zero gradient: mean ~ 0, variance (sigma C / b)^2.
    mech = GaussianMechanism(clip=2.0, sigma=1.5)
    draws = mech(np.zeros((5, 4000)), rng=opt.DeterministicRandomSource(11))
    expected_sd = 1.5 * 2.0 / 5
    # Fixed seed; the bounds are 4 standard errors of the sample mean and variance.
    assert abs(draws.mean()) < 4 * expected_sd / math.sqrt(draws.size)
    assert abs(draws.var() / expected_sd**2 - 1) < 4 * math.sqrt(2 / draws.size)


@pytest.mark.spec("C17.1")
@pytest.mark.parametrize(
    ("clip", "sigma"), [(0.0, 1.0), (-1.0, 1.0), (1.0, -0.1), (math.inf, 1.0), (1.0, math.nan)]
)
def test_bad_mechanism_parameters(clip: float, sigma: float) -> None:
    with pytest.raises(ParameterError) as info:
        GaussianMechanism(clip, sigma)
    assert info.value.clause == "C17.1"


@pytest.mark.spec("C17.2")
def test_epsilon_is_the_libraries() -> None:
    accountant = rdp.RdpAccountant()
    accountant.compose(dp_event.PoissonSampledDpEvent(0.01, dp_event.GaussianDpEvent(1.1)), 500)
    assert epsilon(1.1, 1e-5, 0.01, 500) == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-12)
    assert epsilon(1.1, 1e-5, 1.0, 10) > epsilon(
        1.1, 1e-5, 0.5, 10
    )  # subsampling amplifies privacy
    for args in (
        (1.1, 0.0, 0.01, 10),
        (1.1, 1.0, 0.01, 10),
        (1.1, 1e-5, 0.0, 10),
        (1.1, 1e-5, 1.5, 10),
        (1.1, 1e-5, 0.1, 0),
        (0.0, 1e-5, 0.1, 10),
    ):
        with pytest.raises(ParameterError) as info:
            epsilon(*args)
        assert info.value.clause == "C17.2"


@pytest.mark.spec("C17.3")
@pytest.mark.parametrize(
    ("target", "q", "steps"), [(1.0, 0.01, 1000), (4.0, 0.1, 100), (0.5, 1.0, 5)]
)
def test_calibration_round_trips(target: float, q: float, steps: int) -> None:
    sigma = calibrate_sigma(target, 1e-5, q, steps)
    spent = epsilon(sigma, 1e-5, q, steps)
    assert spent <= target * (1 + 1e-9) and spent >= target * (1 - 1e-3)
    with pytest.raises(ParameterError) as info:
        calibrate_sigma(0.0, 1e-5, q, steps)
    assert info.value.clause == "C17.3"


@pytest.mark.spec("C17.3")
@pytest.mark.parametrize(
    ("target", "delta", "q", "steps"),
    [
        (0.005, 1e-5, 1.0, 1000),  # the inputs: sigma ~ 18 484, above the old 1e4 ...
        (1e6, 1e-5, 1.0, 1),  # ... and sigma ~ 7.4e-4, below the old 1e-3
        (0.01, 1e-5, 0.001, 10),
        (50.0, 1e-9, 0.5, 3),
        (1e100, 1e-5, 1.0, 1),
    ],
)
def test_calibration_searches_the_bracket(
    target: float, delta: float, q: float, steps: int
) -> None:
    sigma = calibrate_sigma(target, delta, q, steps)
    spent = epsilon(sigma, delta, q, steps)
    assert target * (1 - 1e-3) <= spent <= target
    # The smallest such sigma: a hair smaller spends too much.
    assert epsilon(sigma * (1 - 1e-6), delta, q, steps) > target


@pytest.mark.spec("C17.3")
def test_calibration_below_the_conversion_floor_returns_the_drop_to_zero() -> None:
    # At delta = 1e-5 the accountant's epsilon floors near 0.0035, then drops to 0 (KL bound).
    sigma = calibrate_sigma(0.001, 1e-5, 1.0, 1000)
    assert epsilon(sigma, 1e-5, 1.0, 1000) == 0.0
    assert epsilon(sigma * (1 - 1e-6), 1e-5, 1.0, 1000) > 0.003


@pytest.mark.spec("C17.3")
def test_unreachable_targets_name_the_reachable_epsilon() -> None:
    # delta^2 underflows at 1e-200, so no sigma brings epsilon below ~0.442 (q = 1, T = 1).
    least = epsilon(1e100, 1e-200, 1.0, 1)
    assert 0.44 < least < 0.45
    with pytest.raises(ParameterError) as info:
        calibrate_sigma(0.1, 1e-200, 1.0, 1)
    assert info.value.clause == "C17.3" and repr(least) in str(info.value)
    assert calibrate_sigma(0.45, 1e-200, 1.0, 1) > 0  # just above it: reachable
    most = epsilon(1e-100, 1e-5, 1.0, 1)
    with pytest.raises(ParameterError) as info:
        calibrate_sigma(most * 2, 1e-5, 1.0, 1)
    assert info.value.clause == "C17.3" and repr(most) in str(info.value)


@pytest.mark.spec("C17.2")
@pytest.mark.parametrize("sigma", [1e300, 1e-300, 1e101, 9e-101])
def test_epsilon_refuses_sigma_outside_the_accountants_range(sigma: float) -> None:
    # Far out, dp-accounting overflows (1e300) or divides by zero (1e-300 with q < 1).
    for q in (1.0, 0.01):
        with pytest.raises(ParameterError) as info:
            epsilon(sigma, 1e-5, q, 10)
        assert info.value.clause == "C17.2" and "sigma" in str(info.value)
    assert epsilon(1e100, 1e-5, 0.01, 10) == 0.0 and epsilon(1e-100, 1e-5, 0.01, 10) > 1e100
