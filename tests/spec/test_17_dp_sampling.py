"""Sections 17-18: sampling as accounted (C17.4) and CSPRNG noise by default (C17.5)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.privacy as privacy
import sbrml.simulation.train as train
from sbrml.attacks import normal_draws
from sbrml.core.errors import ParameterError, ShapeError
from sbrml.privacy import GaussianMechanism, poisson_batch
from sbrml.simulation.config import Config
from sbrml.simulation.report import SEEDED_NOISE, write_outputs


@pytest.mark.spec("C17.4")
def test_poisson_batch_keeps_each_example_independently() -> None:
    # 4000 draws over N = 50 at q = 0.2: the batch size is Binomial(50, 0.2) (mean 10, var 8)
    # and every index is kept about 800 times. Bounds: 5 standard errors (fixed seed).
    gen = np.random.default_rng(1)
    draws = [poisson_batch(50, 0.2, gen) for _ in range(4000)]
    sizes = np.array([len(b) for b in draws])
    assert abs(sizes.mean() - 10) < 5 * math.sqrt(8 / 4000)
    assert abs(sizes.var() / 8 - 1) < 5 * math.sqrt(2 / 4000)
    counts = np.bincount(np.concatenate(draws), minlength=50)
    assert np.all(np.abs(counts - 800) < 5 * math.sqrt(4000 * 0.2 * 0.8))
    assert all(np.all(np.diff(b) > 0) for b in draws)  # sorted, no repeats
    assert any(len(b) == 0 for b in (poisson_batch(3, 0.01, gen) for _ in range(50)))


@pytest.mark.spec("C17.4")
@pytest.mark.parametrize(
    ("size", "rate"), [(0, 0.5), (5, 0.0), (5, 1.5), (5, math.nan), (True, 0.5)]
)
def test_poisson_batch_parameters(size: Any, rate: float) -> None:
    with pytest.raises(ParameterError) as info:
        poisson_batch(size, rate, np.random.default_rng(0))
    assert info.value.clause == "C17.4"


@pytest.mark.spec("D17.1", "C17.4")
def test_mechanism_divides_by_the_expected_batch() -> None:
    g = np.array([[3.0, 4.0], [0.3, 0.4]])
    mech = GaussianMechanism(clip=1.0, sigma=2.0)
    noisy = mech(g, rng=opt.DeterministicRandomSource(3), expected_batch=4.0)
    noise = normal_draws(opt.DeterministicRandomSource(3), 2)
    assert np.allclose(noisy, (np.array([0.9, 1.2]) + 2.0 * noise) / 4.0)
    empty = mech(np.zeros((0, 2)), rng=opt.DeterministicRandomSource(3), expected_batch=4.0)
    assert np.allclose(empty, 2.0 * noise / 4.0)
    with pytest.raises(ParameterError) as info:
        mech(g, rng=opt.DeterministicRandomSource(3), expected_batch=0.0)
    assert info.value.clause == "C17.4"
    with pytest.raises(ShapeError):  # without expected_batch a batch must have rows
        mech(np.zeros((0, 2)), rng=opt.DeterministicRandomSource(3))


@pytest.mark.spec("C17.4", "C18.4")
def test_simulation_samples_as_it_accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float, int]] = []
    expected: list[float] = []

    def spy(size: int, rate: float, gen: np.random.Generator) -> Any:
        batch = poisson_batch(size, rate, gen)
        calls.append((size, rate, len(batch)))
        return batch

    real_call = GaussianMechanism.__call__

    def mechanism(self: GaussianMechanism, g: Any, **kw: Any) -> Any:
        expected.append(kw["expected_batch"])
        return real_call(self, g, **kw)

    monkeypatch.setattr(train, "poisson_batch", spy)
    monkeypatch.setattr(GaussianMechanism, "__call__", mechanism)
    result = train.run(Config(rule="mean", attack=None, epsilon=2.0, rounds=3, batch=16))
    assert len(calls) == 3 * 10 and len(expected) == len(calls)
    for (size, rate, _), b in zip(calls, expected, strict=True):
        assert rate == min(1.0, 16 / size) and b == pytest.approx(rate * size)
    assert len({kept for *_, kept in calls}) > 1  # batch sizes vary, as Poisson sampling does
    # The accounted rate is the largest worker rate (C18.4).
    largest = max(rate for _, rate, _ in calls)
    assert result.epsilon_spent == pytest.approx(
        privacy.epsilon(result.sigma or 0.0, 1e-5, largest, 3)
    )
    assert result.as_dict()["sampling"] == "poisson"


@pytest.mark.spec("C17.5")
def test_mechanism_noise_defaults_to_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    real = opt.SystemRandomSource

    def system() -> Any:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(privacy, "SystemRandomSource", system)  # the name privacy.py calls
    mech = GaussianMechanism(clip=1.0, sigma=1.0)
    a, b = mech(np.ones((2, 8))), mech(np.ones((2, 8)))
    assert len(made) == 2 and not np.array_equal(a, b)


@pytest.mark.spec("C17.5", "D18.5")
def test_seeded_noise_is_labelled_where_results_are_written(tmp_path: Path) -> None:
    dp = train.run(Config(rule="mean", attack=None, epsilon=4.0, rounds=2))
    table = write_outputs([dp], tmp_path / "dp")
    assert SEEDED_NOISE in table and "UNSAFE for real privacy" in SEEDED_NOISE
    document = json.loads((tmp_path / "dp" / "results.json").read_text())
    assert document["dp_noise"] == SEEDED_NOISE
    plain = train.run(Config(rule="mean", attack=None, rounds=2))
    assert SEEDED_NOISE not in write_outputs([plain], tmp_path / "plain")
    assert "dp_noise" not in json.loads((tmp_path / "plain" / "results.json").read_text())


@pytest.mark.spec("C17.6", "D16.2")
def test_truncated_noise_bounds_the_claimed_epsilon() -> None:
    # The largest radius Box-Muller can draw from 53-bit uniforms, and the cut-off tail.
    assert max(np.abs(normal_draws(opt.DeterministicRandomSource(2), 20_000))) < 8.58
    assert pytest.approx(8.5717, abs=1e-4) == privacy.NORMAL_RADIUS
    assert privacy.truncation_slack(650, 40) == 40 * 325 * 2.0**-53
    privacy.check_noise_tails("t", 4.0, 1e-5, 650, 40)
    privacy.check_noise_tails("t", 13.3, 1e-5, 650, 40)
    for eps in (13.5, 32.0, 800.0):
        with pytest.raises(ParameterError) as info:
            privacy.check_noise_tails("t", eps, 1e-5, 650, 40)
        assert info.value.clause == "C17.6" and "eps <= 13.4" in str(info.value)
    with pytest.raises(ParameterError):
        train.run(Config(rule="mean", attack=None, epsilon=32.0, rounds=2))
