"""Section 16: each attack sends exactly what the spec says (spec/16-attacks.md)."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.attacks import (
    ALIE,
    IPM,
    Gaussian,
    InconsistentShares,
    MalformedShare,
    Mimic,
    MissingShare,
    NonFiniteInput,
    OptimalALIE,
    OptimalIPM,
    RingWrap,
    SignFlip,
    alie_z,
    normal_draws,
)
from sbrml.core.errors import ParameterError
from sbrml.core.round import Tamper
from tests.statistical.test_uniformity import chi2_critical

HONEST = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])


@pytest.mark.spec("D16.1", "D16.3", "D16.4", "D16.5")
def test_deterministic_attacks_known_answers() -> None:
    mean, std = HONEST.mean(axis=0), HONEST.std(axis=0)
    assert np.array_equal(SignFlip(2)(HONEST), [-mean, -mean])
    assert np.allclose(IPM(1, 0.5)(HONEST), [-0.5 * mean])
    assert np.allclose(ALIE(2, z=1.5)(HONEST), [mean - 1.5 * std] * 2)
    assert np.array_equal(Mimic(2, 1)(HONEST), [HONEST[1], HONEST[1]])


@pytest.mark.spec("C16.4")
def test_alie_z_from_n_and_f() -> None:
    # n = 10, f = 2: s = 6 - 2 = 4, z = Phi^-1(0.6).
    assert alie_z(10, 2) == pytest.approx(NormalDist().inv_cdf(0.6))
    z = alie_z(3 + 2, 2)  # n = 5, s = 1, Phi^-1(0.8)
    mean, std = HONEST.mean(axis=0), HONEST.std(axis=0)
    assert np.allclose(ALIE(2)(HONEST), [mean - z * std] * 2)
    with pytest.raises(ParameterError) as info:
        alie_z(4, 3)
    assert info.value.clause == "C16.4"


@pytest.mark.spec("D16.2")
def test_gaussian_draws_known_answer_and_moments() -> None:
    rng = opt.DeterministicRandomSource(1)
    raw = opt.ring_elements(opt.DeterministicRandomSource(1), 2)
    u = ((raw >> np.uint64(11)).astype(np.float64) + 1) / 2.0**53
    expected = math.sqrt(-2 * math.log(u[0])) * math.cos(2 * math.pi * u[1])
    assert normal_draws(rng, 1)[0] == pytest.approx(expected, rel=1e-15)
    z = normal_draws(opt.DeterministicRandomSource(2), 200_000)
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.01
    # Chi-squared against the normal's deciles (alpha = 0.001, fixed seed).
    edges = [NormalDist().inv_cdf(q / 10) for q in range(1, 10)]
    counts = np.bincount(np.searchsorted(edges, z), minlength=10)
    stat = float(((counts - z.size / 10) ** 2 / (z.size / 10)).sum())
    assert stat < chi2_critical(9)
    g = Gaussian(2, mu=5.0, sigma=3.0)(HONEST, rng=opt.DeterministicRandomSource(2))
    assert np.allclose(
        g, 5.0 + 3.0 * normal_draws(opt.DeterministicRandomSource(2), 4).reshape(2, 2)
    )


@pytest.mark.spec("D16.6", "C16.6")
def test_optimal_attacks_maximise_damage() -> None:
    gen = np.random.default_rng(0)  # public test data
    honest = gen.standard_normal((7, 5)) + 1.0
    for cls in (OptimalIPM, OptimalALIE):
        attack = cls(2, opt.Mean(0))
        tau = attack.best_tau(honest)
        grid = [0.0] + [2.0**k for k in range(-8, 9)]
        assert attack.damage(honest, tau) >= max(attack.damage(honest, t) for t in grid) - 1e-12
        sent = attack(honest)
        assert sent.shape == (2, 5)
    # Against the mean, IPM's damage grows with tau: the search ends at the top of the grid.
    assert OptimalIPM(2, opt.Mean(0)).best_tau(honest) >= 2.0**8


@pytest.mark.spec("C16.1")
@pytest.mark.parametrize(
    "build",
    [
        lambda: SignFlip(0),
        lambda: Gaussian(1, sigma=0.0),
        lambda: IPM(1, -1.0),
        lambda: ALIE(1, z=math.nan),
        lambda: Mimic(1, -1),
        lambda: OptimalIPM(1, "mean"),
        lambda: MalformedShare(0, "S2"),
        lambda: MissingShare(-1),
    ],
)
def test_bad_hyperparameters(build: object) -> None:
    with pytest.raises(ParameterError) as info:
        build()  # type: ignore[operator]
    assert info.value.clause == "C16.1"


def _round(tamper: Tamper | None) -> Any:
    x = [[math.sin(i + k) for k in range(3)] for i in range(6)]
    rule = opt.MultiKrum(1, 3)
    return opt.secure_aggregate(x, rule, rng=opt.DeterministicRandomSource(4), tamper=tamper)


@pytest.mark.spec("D16.8", "C16.8")
def test_protocol_attacks() -> None:
    clean = _round(None)
    rng = opt.DeterministicRandomSource(9)
    for attack, excluded in (
        (MalformedShare(2), True),
        (MissingShare(2, None), True),
        (MissingShare(2, "S0"), True),
        (InconsistentShares(2, [5.0, 5.0, 5.0], rng=rng), True),  # C8.14 since spec 0.6
        (RingWrap(2, [math.sin(2 + k) for k in range(3)], [1], rng=rng), True),
    ):
        result = _round(attack)
        assert (2 in result.excluded) == excluded and set(result.excluded) <= {2}
        others = [m for m in result.channel.messages if m.label == "share" and m.sender != "W2"]
        assert others == [
            m for m in clean.channel.messages if m.label == "share" and m.sender != "W2"
        ]
    x = np.array([[math.sin(i + k) for k in range(3)] for i in range(6)])
    for value in (math.nan, math.inf):
        poisoned = NonFiniteInput(2, value)(x)
        assert np.isnan(poisoned[2, 0]) or np.isinf(poisoned[2, 0])
        assert np.array_equal(np.delete(poisoned, 2, axis=0), np.delete(x, 2, axis=0))
        result = opt.secure_aggregate(
            poisoned, opt.MultiKrum(1, 3), rng=opt.DeterministicRandomSource(4)
        )
        assert set(result.excluded) == {2} and "C1.1" in result.excluded[2]
    with pytest.raises(ParameterError):
        NonFiniteInput(2, 1.0)
    wrapped = _round(RingWrap(2, [math.sin(2 + k) for k in range(3)], [1], rng=rng))
    # C8.9: invisible to D, so range validation on shares (C8.14) is what excludes it.
    assert list(wrapped.excluded) == [2] and "C8.14" in wrapped.excluded[2]
    with pytest.raises(ParameterError):
        RingWrap(2, [1.0, 2.0], [5], rng=rng)


@pytest.mark.spec("C16.1")
@pytest.mark.parametrize(
    "build",
    [
        lambda v: RingWrap(v, [1.0], [0], rng=opt.DeterministicRandomSource(1)),
        lambda v: RingWrap(0, [1.0], [v], rng=opt.DeterministicRandomSource(1)),
        lambda v: MalformedShare(v),
        lambda v: MalformedShare(0, cut=v),
        lambda v: MissingShare(v),
        lambda v: NonFiniteInput(0, value=v),
    ],
    ids=["wrap-worker", "wrap-coordinates", "malformed-worker", "malformed-cut", "missing", "nan"],
)
def test_protocol_attacks_show_a_huge_int_by_its_size(build: Any) -> None:
    """A protocol attack's refusal of an int Python will not print names it by its size (C0.1),
    not a bare ValueError from building the message."""
    with pytest.raises(ParameterError) as info:
        build(-(10**5000))
    assert info.value.clause == "C16.1"
    assert "an int of 16610 bits" in str(info.value) or "a list that cannot be printed" in str(
        info.value
    )
