"""Robust D-SGD on scikit-learn's digits with n workers, f Byzantine (spec/18-simulation.md).

Public randomness comes from seeded NumPy generators: the data split and the model's
initialisation from one generator of the seed, each worker's batches in each round from a
generator keyed by (seed, round, worker) (``batch_generator``), so that a worker in another
process draws the same batches (``sbrml.flower``). Protocol and DP randomness comes from a
seeded ChaCha20 source, so a run is reproducible from its seed. Such seeds are for simulation
only: they are public, so they protect nothing (C2.2).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_digits

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml import modes
from sbrml.api import AggregationResult
from sbrml.attacks import ATTACKS
from sbrml.core.errors import SpecError
from sbrml.core.params import DEFAULT_FRAC_BITS
from sbrml.core.registry import exact_weights
from sbrml.optimized import paillier
from sbrml.privacy import (
    GaussianMechanism,
    calibrate_sigma,
    check_noise_tails,
    epsilon,
    poisson_batch,
)
from sbrml.rulespec import build_rule
from sbrml.simulation.config import LABEL_FLIP, Config
from sbrml.simulation.models import MODELS

F64 = NDArray[np.float64]
CLASSES = 10
W_BITS = 30


class SimulationError(RuntimeError):
    """A run stopped: the secure aggregate left the spec's bound (C18.3)."""


@dataclass
class RunResult:
    """D18.2: one run's per-round record."""

    config: Config
    accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    sigma: float | None = None
    epsilon_spent: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.as_dict(),
            "label": self.config.label,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "seconds": self.seconds,
            "bytes": self.bytes,
            "sigma": self.sigma,
            "epsilon": self.epsilon_spent,
            "final_accuracy": self.accuracy[-1] if self.accuracy else None,
            # C17.4, C18.4: how batches were drawn, so the reported epsilon can be checked.
            "sampling": "fixed-size" if self.sigma is None else "poisson",
        }


def load_data(seed: int) -> tuple[F64, NDArray[np.int64], F64, NDArray[np.int64]]:
    """D18.3: digits scaled to [0, 1], a seeded 80/20 train/test split."""
    digits = load_digits()
    x = digits.data / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def dirichlet_split(
    y: NDArray[np.int64], workers: int, alpha: float, gen: np.random.Generator
) -> list[NDArray[np.intp]]:
    """D18.3: per class, shares over workers ~ Dirichlet(alpha); every worker gets >= 1 example."""
    parts: list[list[int]] = [[] for _ in range(workers)]
    for c in range(CLASSES):
        idx = gen.permutation(np.flatnonzero(y == c))
        cuts = (np.cumsum(gen.dirichlet([alpha] * workers))[:-1] * len(idx)).astype(int)
        for w, chunk in enumerate(np.split(idx, cuts)):
            parts[w].extend(chunk.tolist())
    for w in range(workers):  # a worker left empty by a skewed draw borrows one example
        if not parts[w]:
            donor = max(range(workers), key=lambda k: len(parts[k]))
            parts[w].append(parts[donor].pop())
    return [np.asarray(p, dtype=np.intp) for p in parts]


def batch_generator(seed: int, t: int, worker: int) -> np.random.Generator:
    """D18.2: the generator of worker ``worker``'s batch draws in round ``t`` (from 0).

    NumPy's ``SeedSequence(seed, spawn_key=(t, worker))``: a stream of its own for every
    (seed, round, worker), unrelated to the data generator ``default_rng(seed)`` (which has no
    spawn key), so that the worker's batches do not depend on which process draws them or in
    what order the workers run.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(t, worker)))


def flip_labels(y: NDArray[np.int64]) -> NDArray[np.int64]:
    """D16.9: label c becomes 9 - c."""
    return np.asarray(CLASSES - 1 - y, dtype=np.int64)


def evaluate(model: Any, theta: F64, x: F64, y: NDArray[np.int64]) -> tuple[float, float]:
    p = model.probabilities(theta, x)
    loss = float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())
    return float((p.argmax(axis=1) == y).mean()), loss


def encodable(row: F64) -> bool:
    """Whether an honest worker would share ``row`` (P8.1 step 1: C1.1, C1.2, C8.2, C8.13)."""
    try:
        opt.encode_update(row)
    except SpecError:
        return False
    return True


def check_secure(result: AggregationResult, x: F64, rule_spec: str, f: int, rng: Any) -> None:
    """C18.3: the secure aggregate equals the plaintext rule on the decoded inputs within C8.5
    (a distance rule), or exactly as C22.1 says (a coordinate-wise rule on shares)."""
    decoded = [ref.decode(ref.encode(row.tolist())) for row in x]
    if result.weights is None:
        check_coordinatewise(result, np.asarray(decoded), rule_spec, f)
        return
    p = np.asarray(result.weights)
    if exact_weights(rule_spec):  # float weights agree to rounding only (C10.3)
        # The oracle runs on the workers the round kept (C8.5: on V).
        kept = [decoded[i] for i in result.valid]
        on_v = build_rule(ref, rule_spec, f).weights(ref.sq_distances(kept), rng=rng)
        exact = [0.0] * len(decoded)
        for i, w in zip(result.valid, on_v, strict=True):
            exact[i] = w
        if exact != p.tolist():
            raise SimulationError(
                f"secure weights {p.tolist()} differ from the plaintext rule's {exact} (C18.3)"
            )
    xd = np.asarray(decoded)
    z = result.aggregate
    bound = 2.0**-W_BITS * np.abs(xd[p > 0]).sum(axis=0) + 2.0**-52 * np.abs(z) + 1e-300
    if np.any(np.abs(z - p @ xd) > bound * (1 + 1e-9) + 1e-15):
        raise SimulationError(
            "the secure aggregate left the fixed-point bound of spec C8.5 (C18.3)"
        )


def check_coordinatewise(result: AggregationResult, xd: F64, rule_spec: str, f: int) -> None:
    """C18.3 for P22.2: the plaintext rule's output exactly; for Meamed, a coordinate may
    differ only where the k-th and (k+1)-th nearest values to the median tie (C22.1)."""
    rows = xd[result.valid]
    plain = np.asarray(build_rule(opt, rule_spec, f)(rows), dtype=np.float64)
    differ = result.aggregate != plain
    if rule_spec == "meamed" and differ.any():
        keep = len(rows) - f
        cols = np.sort(rows[:, differ], axis=0)
        mid = len(rows) // 2
        centre = cols[mid] if len(rows) % 2 else (cols[mid - 1] + cols[mid]) / 2
        gaps = np.sort(np.abs(cols - centre), axis=0)
        differ[differ] = gaps[keep - 1] != gaps[keep] if keep < len(rows) else True
    if differ.any():
        raise SimulationError(
            f"the secure {rule_spec} differs from the plaintext rule in "
            f"{int(differ.sum())} coordinates (C18.3, C22.1)"
        )


def run(config: Config, *, progress: bool = False, processes: int = 1) -> RunResult:
    """Implements D18.2: one robust D-SGD run; see the module docstring for the randomness.

    ``processes`` is the most worker processes the paillier mode may use (C0.2); the run's
    record does not depend on it.
    """
    config.validate()
    gen = np.random.default_rng(config.seed)  # public data randomness
    rng = opt.DeterministicRandomSource(config.seed)  # protocol and DP randomness (simulation)
    x_train, y_train, x_test, y_test = load_data(config.seed)
    honest = config.n if config.attack is None else config.n - config.f
    # Label flipping is a data attack (D16.9): the f Byzantine workers train on flipped labels.
    label_flip = config.attack == LABEL_FLIP
    training = config.n if label_flip else honest
    shards = dirichlet_split(y_train, training, config.alpha, gen)
    labels = [
        flip_labels(y_train) if label_flip and i >= honest else y_train for i in range(training)
    ]
    rule = build_rule(opt, config.rule, config.f)
    attack = (
        None
        if config.attack in (None, LABEL_FLIP)
        else ATTACKS[config.attack](config.f, **_attack_args(config, rule))
    )
    result = RunResult(config)
    mechanism = None
    if config.epsilon is not None or config.sigma is not None:
        # C18.4: the largest sampling rate of any worker bounds every worker's privacy loss.
        q = min(1.0, config.batch / min(len(s) for s in shards))
        sigma = (
            config.sigma
            if config.sigma is not None
            else calibrate_sigma(config.epsilon or 0.0, config.delta, q, config.rounds)
        )
        result.sigma = sigma
        result.epsilon_spent = epsilon(sigma, config.delta, q, config.rounds)
        # C17.6: the accountant's guarantee must survive the truncated noise of D16.2.
        check_noise_tails(
            "simulate", result.epsilon_spent, config.delta, MODELS[config.model].dim, config.rounds
        )
        mechanism = GaussianMechanism(config.clip, sigma)
    keys = None
    if config.mode == "paillier":
        keys = paillier.generate_keypair(2048, rng=rng.derive("paillier"))
    model = MODELS[config.model]
    theta = model.init(gen)
    momenta = np.zeros((training, model.dim))
    rounds = range(config.rounds)
    if progress:
        from tqdm import tqdm

        rounds = tqdm(rounds, desc=config.label, leave=False)
    for t in rounds:
        grads = np.empty((training, model.dim))
        for i, shard in enumerate(shards):
            draws = batch_generator(config.seed, t, i)
            if mechanism is None:
                batch = draws.choice(shard, size=min(config.batch, len(shard)), replace=False)
                g = model.per_example_grads(theta, x_train[batch], labels[i][batch])
                grads[i] = g.mean(axis=0)
                continue
            # C17.4: sample as accounted (Poisson, rate q_i), normalise by the expected size.
            rate = min(1.0, config.batch / len(shard))
            batch = shard[poisson_batch(len(shard), rate, draws)]
            g = (
                model.per_example_grads(theta, x_train[batch], labels[i][batch])
                if len(batch)
                else np.zeros((0, model.dim))
            )
            grads[i] = mechanism(g, rng=rng.derive(f"dp/{t}/{i}"), expected_batch=rate * len(shard))
        momenta = config.momentum * momenta + (1 - config.momentum) * grads
        sent = (
            momenta
            if attack is None
            else np.vstack([momenta, attack(momenta, rng=rng.derive(f"attack/{t}"))])
        )
        start = time.perf_counter()
        step = aggregate_round(config, sent, rule, rng, t, keys, processes)
        result.seconds.append(time.perf_counter() - start)
        result.bytes.append(modes.total_bytes(step))
        theta = theta - config.lr * step.aggregate
        acc, loss = evaluate(model, theta, x_test, y_test)
        result.accuracy.append(acc)
        result.loss.append(loss)
    return result


def aggregate_round(
    config: Config,
    sent: F64,
    rule: Any,
    rng: Any,
    t: int,
    keys: tuple[Any, Any] | None,
    processes: int,
) -> AggregationResult:
    """Round t's aggregation in the configured mode (``sbrml.modes``), checked as spec section
    18 says (C18.3, C18.5); each mode draws from its own stream of ``rng``."""
    if config.mode == "plaintext":
        # The rows an honest encoder refuses (C1.1, C1.2, C8.2, C8.13) are dropped, as the
        # secure round excludes them, so that both modes run the same experiment (D18.2).
        kept = [i for i, row in enumerate(sent) if encodable(row)]
        return modes.plaintext(sent[kept], rule, rng=rng.derive(f"rule/{t}"))
    if config.mode == "secure":
        # C18.3's check replays S1's stream of this round (bucketing draws from it): the
        # simulation keys the round's source itself, then re-keys a copy for the oracle,
        # since no source hands out a stream twice (C2.9).
        round_key = rng.derive(f"round/{t}").random_bytes(32)
        secure = modes.secure(sent, rule, rng=opt.ChaCha20RandomSource(round_key))
        replay = opt.ChaCha20RandomSource(round_key).derive("S1")
        check_secure(secure, sent, config.rule, config.f, replay)
        return secure
    if config.mode == "masks":
        masked = modes.masks(sent, threshold=len(sent) // 2 + 1, rng=rng.derive(f"masks/{t}"))
        check_masks(masked.aggregate, sent)
        return masked
    if keys is None:  # generated by run() whenever the mode is paillier
        raise SimulationError("paillier mode without a key pair")
    return modes.paillier(
        sent, keys=keys, rng=rng.derive(f"he/{t}"), int_bits=_int_bits(sent), processes=processes
    )


def check_masks(mean: F64, x: F64) -> None:
    """C18.5: the mask protocol's mean is the plaintext mean within 2^-(F+1) per coordinate."""
    gap = float(np.max(np.abs(mean - x.mean(axis=0))))
    if not gap <= 2.0 ** -(DEFAULT_FRAC_BITS + 1) + 1e-12:
        raise SimulationError(
            f"the mask protocol's mean is {gap:.3g} from the plaintext mean (C18.5)"
        )


def _int_bits(x: F64) -> int:
    # Integer bits for packing (C14.2): enough for the largest magnitude sent this round.
    return max(1, int(np.ceil(np.log2(np.abs(x).max() + 1))) + 1)


def _attack_args(config: Config, rule: Any) -> dict[str, Any]:
    if config.attack in ("optimal-ipm", "optimal-alie"):
        return {"aggregator": rule}
    return {}


__all__ = ["RunResult", "SimulationError", "batch_generator", "run"]
