"""The Flower example's apps (issue 17): ``sbrml simulate``'s training on Flower's Message API.

The same experiment as ``sbrml.simulation.run`` (spec section 18) — digits, the seeded 80/20
split, the Dirichlet(alpha) split over the training workers, the model and its initialisation,
worker momentum, the rule, the attack, the aggregation mode — with each worker a Flower
``ClientApp`` and the server a ``ServerApp`` running ``SecureRobustStrategy``:

- Worker ``i`` is the node of ``partition-id`` ``i``. It rebuilds the split from the seed,
  draws its batch of round ``t`` from ``batch_generator(seed, t, i)`` (D18.2), keeps its
  momentum ``m_i`` in the node's context state (``sbrml-momentum``) and replies ``m_i``
  through ``sbrml.flower.reply`` (in mode ``two-server``: sealed shares).
- With an attack, the last ``f`` partitions are Byzantine. Label flipping (D16.9) runs in
  them (they train on flipped labels); a vector attack (D16.1-D16.6) runs in the ServerApp as
  a SIMULATED omniscient adversary (``sbrml.flower.adversary``), the Byzantine nodes replying
  a marker.
- The ServerApp moves ``theta <- theta - lr * aggregate`` (``server_lr``) and evaluates on the
  test split after every round, as the simulation does.

Randomness. The experiment's public randomness — the split, the initial model, each worker's
batches — comes from the public seed (D18.2), as in ``sbrml simulate``. The secret randomness
does not, unless asked for: each ClientApp draws its shares and ephemeral sealing keys from
the OS CSPRNG (``sbrml.flower.reply``'s default, C2.1), and the strategy — the servers' keys,
the dealer, ``S1``'s draws, the masks, the Paillier key, the simulated adversary's draws —
from the ``rng`` given to ``run``, ``train_on_grid`` or ``make_strategy``: by default a
``SystemRandomSource`` (the OS CSPRNG, C2.1). A seeded run is the caller's explicit choice:
``rng=DeterministicRandomSource(seed)`` (``examples/flower/run.py`` passes it to reproduce
``sbrml simulate`` draw for draw, e.g. bucketing's shuffles and the Gaussian attack; the tests
do), or ``seeded = true`` in a ``flwr run`` run config. The strategy's secrets then all derive
from the public seed (C2.2): a reproduction, unsafe for real secrets. The aggregates of the
deterministic rules do not depend on the secret randomness (the round is exact in fixed
point), so an unseeded run reaches the same accuracy for them.

``run`` starts the example on Flower's simulation engine (Ray); ``client_app`` and
``server_app`` serve ``flwr run`` (the example's ``pyproject.toml``), where the settings come
from the run config.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

import sbrml.optimized as opt
from sbrml.attacks import ATTACKS
from sbrml.core.errors import shown
from sbrml.core.randomness import RandomSource
from sbrml.extras import MissingExtraError
from sbrml.flower.adversary import OmniscientAdversary, byzantine_reply
from sbrml.flower.client import reply
from sbrml.flower.records import Template
from sbrml.flower.settings import MAX_SERVER_LR
from sbrml.flower.strategy import SecureRobustStrategy
from sbrml.rulespec import build_rule
from sbrml.simulation.config import LABEL_FLIP, Config, ConfigError
from sbrml.simulation.models import MODELS
from sbrml.simulation.train import (
    SimulationError,
    batch_generator,
    dirichlet_split,
    evaluate,
    flip_labels,
    load_data,
)

__all__ = [
    "FlowerRun",
    "client_app",
    "flower_config",
    "initial_arrays",
    "make_strategy",
    "run",
    "server_app",
    "server_app_for",
]

# The strategy's modes and the simulation's names for them (D18.1: "secure" is the two-server
# round).
SIMULATION_MODE = {
    "two-server": "secure",
    "plaintext": "plaintext",
    "masks": "masks",
    "paillier": "paillier",
}
FLOWER_MODE = {v: k for k, v in SIMULATION_MODE.items()}
# The model's arrays, in the order of the simulation's flat theta (models.py).
LAYOUT = {
    "logreg": (("weights", (64, 10)), ("bias", (10,))),
    "mlp": (("w1", (64, 32)), ("b1", (32,)), ("w2", (32, 10)), ("b2", (10,))),
}
SETTINGS = (
    "rule",
    "model",
    "attack",
    "mode",
    "n",
    "f",
    "alpha",
    "rounds",
    "lr",
    "momentum",
    "batch",
    "seed",
)
MOMENTUM = "sbrml-momentum"
# Ray on this project's two cores: one CPU per ClientApp, two actors, no dashboard.
DEFAULT_BACKEND: dict[str, Any] = {
    "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
    "init_args": {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False},
}


def flower_config(config: Config) -> Config:
    """``config``, checked as C18.1 checks it, for the Flower example: without DP (the example
    does not run the DP mechanism) and with the simulation's mode names; and what
    ``SecureRobustStrategy`` refuses of ``make_strategy(config)`` though ``sbrml simulate``
    takes it (``lr`` is the strategy's ``server_lr``, at most ``MAX_SERVER_LR``), so that it is
    refused here, before Ray starts, and not inside the ServerApp. Mode ``masks`` with ``n = 1``
    (C20.1) is refused by ``config.validate()`` itself."""
    config.validate()
    if config.epsilon is not None or config.sigma is not None:
        raise ConfigError("flower example: DP (epsilon, sigma) is not supported; drop them (C18.1)")
    if config.lr > MAX_SERVER_LR:
        raise ConfigError(
            f"flower example: lr is the strategy's server_lr, at most {MAX_SERVER_LR:g}; "
            f"got {shown(config.lr)} (C18.1)"
        )
    return config


def public_settings(config: Config) -> dict[str, Any]:
    """``config``'s settings under the strategy's names, as the instruction, the run config
    and the record show them: ``mode`` as ``SecureRobustStrategy`` names it (``two-server``,
    not the simulation's ``secure``) and ``attack`` ``"none"`` for no attack."""
    values = asdict(config)
    values["mode"] = FLOWER_MODE.get(config.mode, config.mode)
    values["attack"] = "none" if config.attack is None else config.attack
    return values


def settings_record(config: Config) -> ConfigRecord:
    """The settings every ClientApp needs, in the train instruction (``public_settings``)."""
    values = public_settings(config)
    return ConfigRecord({k: values[k] for k in SETTINGS if values[k] is not None})


def config_of(record: Mapping[str, Any]) -> Config:
    """The ``Config`` of a settings record or a ``flwr run`` run config."""
    types = {f.name: f.type for f in fields(Config)}
    values: dict[str, Any] = {}
    for key in SETTINGS:
        if key not in record:
            continue
        value = record[key]
        if key == "attack":
            values[key] = None if value in ("", "none") else str(value)
        elif key == "mode":
            values[key] = SIMULATION_MODE.get(str(value), str(value))
        elif "float" in str(types[key]):
            values[key] = float(value)
        elif "int" in str(types[key]):
            values[key] = int(value)
        else:
            values[key] = str(value)
    return Config(**values)


def model_arrays(model: str, theta: Any) -> ArrayRecord:
    """``theta`` (the simulation's flat vector) as the model's named arrays."""
    template = Template(
        tuple(name for name, _ in LAYOUT[model]),
        tuple(shape for _, shape in LAYOUT[model]),
        tuple("float64" for _ in LAYOUT[model]),
    )
    return template.unflatten(np.asarray(theta, dtype=np.float64))


def _roles(config: Config) -> tuple[int, int, bool]:
    """(honest workers, training workers, label flipping), as ``sbrml.simulation.run``."""
    honest = config.n if config.attack is None else config.n - config.f
    label_flip = config.attack == LABEL_FLIP
    return honest, config.n if label_flip else honest, label_flip


@lru_cache(maxsize=4)
def _split(seed: int, alpha: float, training: int) -> tuple[Any, Any, list[Any]]:
    # Every worker of a process rebuilds the same split from the seed (D18.3); cached per actor.
    x_train, y_train, _, _ = load_data(seed)
    shards = dirichlet_split(y_train, training, alpha, np.random.default_rng(seed))
    return x_train, y_train, shards


def initial_arrays(config: Config) -> ArrayRecord:
    """The simulation's initial theta (D18.2): the data generator after the split, as run()."""
    _, y_train, _, _ = load_data(config.seed)
    gen = np.random.default_rng(config.seed)
    dirichlet_split(y_train, _roles(config)[1], config.alpha, gen)
    return model_arrays(config.model, MODELS[config.model].init(gen))


client_app = ClientApp()


@client_app.train()
def train(message: Message, context: Context) -> Message:
    """One worker's round (D18.2): a batch gradient, the momentum update, the reply."""
    settings = message.content.config_records["config"]
    config = config_of(settings)
    i = int(context.node_config["partition-id"])
    honest, training, label_flip = _roles(config)
    if i >= training:  # a Byzantine node of a vector attack: the adversary fills its row
        return byzantine_reply(message, context)
    x_train, y_train, shards = _split(config.seed, config.alpha, training)
    labels = flip_labels(y_train) if label_flip and i >= honest else y_train
    arrays = message.content.array_records["arrays"]
    template = Template.of(arrays)
    theta = template.flatten(arrays)
    t = int(settings["server-round"]) - 1  # type: ignore[arg-type]
    shard = shards[i]
    batch = batch_generator(config.seed, t, i).choice(
        shard, size=min(config.batch, len(shard)), replace=False
    )
    model = MODELS[config.model]
    g = model.per_example_grads(theta, x_train[batch], labels[batch]).mean(axis=0)
    stored = context.state.array_records.get(MOMENTUM)
    m = np.zeros(template.dim) if stored is None else template.flatten(stored)
    m = config.momentum * m + (1 - config.momentum) * g
    context.state[MOMENTUM] = template.unflatten(m)
    return reply(message, context, template.unflatten(m), num_examples=len(batch))


def make_strategy(config: Config, *, rng: RandomSource | None = None) -> SecureRobustStrategy:
    """The strategy of ``config``: every node trains every round, ``server_lr = lr``, and a
    simulated omniscient adversary for a vector attack. ``rng``: the strategy's and the
    adversary's randomness (default: a fresh ``SystemRandomSource``, the OS CSPRNG, C2.1;
    ``DeterministicRandomSource(config.seed)`` for a seeded reproduction, C2.2)."""
    rng = opt.SystemRandomSource() if rng is None else rng
    adversary = None
    if config.attack is not None and config.attack != LABEL_FLIP:
        extra = {}
        if config.attack in ("optimal-ipm", "optimal-alie"):
            extra = {"aggregator": build_rule(opt, config.rule, config.f)}
        adversary = OmniscientAdversary(ATTACKS[config.attack](config.f, **extra), rng=rng)
    return SecureRobustStrategy(
        config.rule,
        f=config.f,
        mode=FLOWER_MODE[config.mode],
        server_lr=config.lr,
        adversary=adversary,
        rng=rng,
        fraction_evaluate=0.0,
        min_train_nodes=config.n,
        min_available_nodes=config.n,
    )


@dataclass
class FlowerRun:
    """The Flower example's record: per round as ``RunResult`` (D18.2), plus the exclusions
    by node and ``wall_seconds``: under ``run``, the whole run's (Ray's start included); under
    ``flwr run``, the ServerApp's training only (``train_on_grid``: the SuperLink's and the
    SuperNodes' start-up are not seen from the ServerApp). ``as_dict`` names the mode and the
    attack as the strategy does (``public_settings``)."""

    config: Config
    accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    excluded: list[dict[int, str]] = field(default_factory=list)
    wall_seconds: float | None = None

    @property
    def final_accuracy(self) -> float | None:
        return self.accuracy[-1] if self.accuracy else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["config"] = public_settings(self.config)
        out["final_accuracy"] = self.final_accuracy
        out["excluded"] = [{str(k): v for k, v in e.items()} for e in self.excluded]
        return out


def train_on_grid(grid: Grid, config: Config, *, rng: RandomSource | None = None) -> FlowerRun:
    """The ServerApp's work: ``config.rounds`` rounds of ``make_strategy(config, rng=rng)`` on
    ``grid``."""
    start = time.perf_counter()
    strategy = make_strategy(config, rng=rng)
    model = MODELS[config.model]
    _, _, x_test, y_test = load_data(config.seed)
    record = FlowerRun(config)

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord | None:
        if server_round == 0:
            return None
        accuracy, loss = evaluate(model, Template.of(arrays).flatten(arrays), x_test, y_test)
        record.accuracy.append(accuracy)
        record.loss.append(loss)
        return MetricRecord({"accuracy": accuracy, "loss": loss})

    strategy.start(
        grid=grid,
        initial_arrays=initial_arrays(config),
        num_rounds=config.rounds,
        train_config=settings_record(config),
        evaluate_fn=evaluate_fn,
    )
    for r in strategy.rounds:
        result = r.result
        record.seconds.append(0.0 if result is None else float(sum(result.seconds.values())))
        record.bytes.append(0 if result is None else sum(result.bytes.values()))
        record.excluded.append(dict(r.excluded))
    record.wall_seconds = time.perf_counter() - start
    return record


def server_app_for(
    config: Config, sink: list[FlowerRun], *, rng: RandomSource | None = None
) -> ServerApp:
    """A ServerApp that trains ``config`` (the strategy's randomness ``rng``) and appends its
    ``FlowerRun`` to ``sink``."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        sink.append(train_on_grid(grid, config, rng=rng))

    return app


server_app = ServerApp()


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """``flwr run``: the settings from the run config (the example's pyproject.toml); with
    ``out``, the record is written there as JSON. The strategy's secrets come from the OS
    CSPRNG unless the run config says ``seeded = true`` (then from ``seed``: a reproduction,
    unsafe for real secrets)."""
    config = flower_config(config_of(context.run_config))
    seeded = context.run_config.get("seeded") is True
    rng = opt.DeterministicRandomSource(config.seed) if seeded else None
    record = train_on_grid(grid, config, rng=rng)
    out = context.run_config.get("out")
    if out:
        Path(str(out)).write_text(json.dumps(record.as_dict(), indent=1), encoding="utf-8")


def run(
    config: Config,
    *,
    rng: RandomSource | None = None,
    backend_config: Mapping[str, Any] | None = None,
    verbose: bool = False,
) -> FlowerRun:
    """The Flower example on Flower's simulation engine (Ray): ``config.n`` SuperNodes.

    ``rng`` is the strategy's randomness (``make_strategy``): the OS CSPRNG by default,
    ``DeterministicRandomSource(config.seed)`` for a seeded reproduction of ``sbrml simulate``.

    ``backend_config`` is Flower's (default ``DEFAULT_BACKEND``: one CPU per ClientApp, Ray
    limited to two CPUs; ``{"init_args": {"address": "auto"}}`` joins a running Ray cluster).
    Raises ``ConfigError`` before any work (C18.1) and ``SimulationError`` if the run ends
    without a record.
    """
    from flwr.simulation import run_simulation

    flower_config(config)
    if importlib.util.find_spec("ray") is None:
        raise MissingExtraError(
            "sbrml.flower.app.run needs Flower's simulation engine: pip install 'sbrml[flower]' "
            "(missing: ray)",
            name="ray",
        )
    sink: list[FlowerRun] = []
    start = time.perf_counter()
    run_simulation(
        server_app=server_app_for(config, sink, rng=rng),
        client_app=client_app,
        num_supernodes=config.n,
        backend_config=dict(backend_config or DEFAULT_BACKEND),
        verbose_logging=verbose,
    )
    if not sink:
        raise SimulationError("the Flower run ended without a record; see Flower's log")
    sink[0].wall_seconds = time.perf_counter() - start
    return sink[0]
