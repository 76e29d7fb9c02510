"""D18.2: each worker's batches are keyed by (seed, round, worker), so that a worker in another
process (a Flower client, tests/flower) draws exactly the batches of ``sbrml simulate``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sbrml.privacy import poisson_batch
from sbrml.simulation import Config, run
from sbrml.simulation import train as train_module
from sbrml.simulation.models import MODELS
from sbrml.simulation.train import dirichlet_split, load_data


def keyed(seed: int, t: int, worker: int) -> np.random.Generator:
    # Spelled out here rather than imported, so that the test states the spec's sentence.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t, worker)))


def recorded_batches(monkeypatch: pytest.MonkeyPatch, config: Config) -> list[Any]:
    """The feature rows of every gradient the run computed, in call order."""
    seen: list[Any] = []
    model = MODELS[config.model]
    original = model.per_example_grads

    def spy(theta: Any, x: Any, y: Any) -> Any:
        seen.append(np.array(x))
        return original(theta, x, y)

    monkeypatch.setattr(model, "per_example_grads", spy)
    run(config)
    return seen


def shards_of(config: Config) -> tuple[Any, list[Any]]:
    x_train, y_train, _, _ = load_data(config.seed)
    honest = config.n if config.attack is None else config.n - config.f
    return x_train, dirichlet_split(
        y_train, honest, config.alpha, np.random.default_rng(config.seed)
    )


@pytest.mark.spec("D18.2")
def test_fixed_size_batches_are_keyed_by_seed_round_and_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = Config(rule="mean", attack="alie", n=5, f=1, rounds=3, batch=8, seed=7)
    seen = recorded_batches(monkeypatch, config)
    x_train, shards = shards_of(config)
    expected = [
        x_train[keyed(7, t, i).choice(shard, size=8, replace=False)]
        for t in range(3)
        for i, shard in enumerate(shards)
    ]
    assert len(seen) == len(expected) == 12
    assert all(np.array_equal(a, b) for a, b in zip(seen, expected, strict=True))


@pytest.mark.spec("D18.2", "C17.4")
def test_poisson_batches_are_keyed_by_seed_round_and_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = Config(rule="mean", attack=None, n=4, f=1, rounds=2, batch=8, seed=3, sigma=1.0)
    seen = recorded_batches(monkeypatch, config)
    x_train, shards = shards_of(config)
    expected = []
    for t in range(2):
        for i, shard in enumerate(shards):
            rate = min(1.0, 8 / len(shard))
            batch = shard[poisson_batch(len(shard), rate, keyed(3, t, i))]
            if len(batch):  # an empty Poisson batch computes no gradient
                expected.append(x_train[batch])
    assert len(seen) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(seen, expected, strict=True))


@pytest.mark.spec("D18.2")
def test_a_workers_batches_do_not_depend_on_the_other_workers() -> None:
    # The keyed stream of worker 0 in round 1 is the same whether 3 or 30 workers draw.
    shard = np.arange(100)
    first = keyed(0, 1, 0).choice(shard, size=10, replace=False)
    again = train_module.batch_generator(0, 1, 0).choice(shard, size=10, replace=False)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, np.random.default_rng(0).choice(shard, 10, replace=False))
