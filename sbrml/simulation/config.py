"""Simulation configurations, checked before any work starts (spec/18-simulation.md, C18.1)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import sbrml.optimized as opt
from sbrml.attacks import ATTACKS
from sbrml.core.errors import SpecError, shown
from sbrml.core.leakage import rule_leakages
from sbrml.modes import AVERAGING, MODES
from sbrml.rulespec import RuleSpecError, build_rule, check_workers

MODEL_NAMES = ("logreg", "mlp")
LABEL_FLIP = "label-flip"
# D18.3: scikit-learn's digits (1,797 images), 80% of them for training.
DIGITS_TRAINING = int(0.8 * 1797)  # a data attack (D16.9), handled by the training loop


class ConfigError(ValueError):
    """An invalid configuration, reported before any training, listing the valid choices."""


@dataclass(frozen=True)
class Config:
    """D18.1: one run. ``attack=None`` means the f Byzantine workers are absent (honest run)."""

    rule: str = "krum"
    model: str = "logreg"
    attack: str | None = "alie"
    mode: str = "plaintext"
    n: int = 10
    f: int = 2
    alpha: float = 1.0
    rounds: int = 40
    lr: float = 0.5
    momentum: float = 0.9
    batch: int = 32
    epsilon: float | None = None
    sigma: float | None = None
    delta: float = 1e-5
    clip: float = 1.0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        dp = "" if self.epsilon is None else f" eps={self.epsilon:g}"
        dp += "" if self.sigma is None else f" sigma={self.sigma:g}"
        model = "" if self.model == "logreg" else f" | {self.model}"
        return f"{self.rule} | {self.attack or 'no attack'} | {self.mode}{dp}{model}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Implements C18.1: every field, with the valid choices in the message."""
        for name, value, low in (
            ("n", self.n, 1),
            ("f", self.f, 0),
            ("rounds", self.rounds, 1),
            ("batch", self.batch, 1),
            ("seed", self.seed, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(
                    f"simulate: {name} must be an int >= {low}; got {shown(value)} (C18.1)"
                )
        if self.f >= self.n:
            raise ConfigError(
                f"simulate: need f < n; got n={shown(self.n)}, f={shown(self.f)} (C18.1)"
            )
        training = self.n if self.attack is None or self.attack == LABEL_FLIP else self.n - self.f
        if training > DIGITS_TRAINING:
            raise ConfigError(
                f"simulate: each of the {shown(training)} training workers needs at least one of "
                f"the {DIGITS_TRAINING} training examples (D18.3); got n={shown(self.n)}, "
                f"f={shown(self.f)} (C18.1)"
            )
        for real_name, real in (("alpha", self.alpha), ("lr", self.lr), ("clip", self.clip)):
            if (
                not isinstance(real, int | float)
                or isinstance(real, bool)
                or not 0 < real < math.inf
            ):
                raise ConfigError(
                    f"simulate: {real_name} must be a finite real > 0; got {shown(real)} (C18.1)"
                )
        if not 0 <= self.momentum < 1:
            raise ConfigError(
                f"simulate: momentum must be in [0, 1); got {shown(self.momentum)} (C18.1)"
            )
        if self.epsilon is not None and not self.epsilon > 0:
            raise ConfigError(f"simulate: epsilon must be > 0; got {shown(self.epsilon)} (C18.1)")
        if self.sigma is not None and not self.sigma > 0:
            raise ConfigError(f"simulate: sigma must be > 0; got {shown(self.sigma)} (C18.1)")
        if self.sigma is not None and self.epsilon is not None:
            raise ConfigError(
                "simulate: give epsilon (sigma is calibrated) or sigma (epsilon is reported), "
                "not both (C18.1)"
            )
        if not 0 < self.delta < 1:
            raise ConfigError(f"simulate: delta must be in (0, 1); got {shown(self.delta)} (C18.1)")
        if self.model not in MODEL_NAMES:
            raise ConfigError(
                f"simulate: unknown model {self.model!r}; choose one of "
                f"{', '.join(MODEL_NAMES)} (C18.1)"
            )
        if self.mode not in MODES:
            raise ConfigError(
                f"simulate: unknown mode {self.mode!r}; choose one of {', '.join(MODES)} (C18.1)"
            )
        if self.attack is not None and self.attack not in (*ATTACKS, LABEL_FLIP):
            raise ConfigError(
                f"simulate: unknown attack {self.attack!r}; choose one of "
                f"{', '.join((*ATTACKS, LABEL_FLIP))} (C18.1)"
            )
        if self.mode in AVERAGING and self.rule != "mean":
            raise ConfigError(
                f"simulate: mode {self.mode!r} averages; use rule 'mean' with it (C18.1)"
            )
        if self.mode == "masks" and self.n < 2:  # C20.1: a threshold 2 <= t <= n
            raise ConfigError(
                f"simulate: mode 'masks' needs at least 2 workers (C20.1); got n={self.n} (C18.1)"
            )
        try:
            rule = build_rule(opt, self.rule, self.f)
            check_workers(rule, self.n)  # names the bucket count when bucketing reduces n
        except (RuleSpecError, SpecError) as err:
            raise ConfigError(
                f"simulate: rule {self.rule!r} at n={self.n}, f={self.f}: {err} (C18.1)"
            ) from err
        if self.mode == "secure" and not rule_leakages(rule):
            raise ConfigError(
                f"simulate: rule {self.rule!r} does not run on shares, so no secure mode (C8.11)"
            )


def default_sweep(rounds: int = 40, seed: int = 0) -> list[Config]:
    """D18.4: the small default sweep `make demo` runs (and `sbrml simulate --out DIR`)."""
    configs = []
    for rule in ("mean", "krum", "nnm+krum"):
        for attack in (None, "alie", "optimal-ipm"):
            configs.append(Config(rule=rule, attack=attack, rounds=rounds, seed=seed))
    configs.append(Config(rule="nnm+krum", attack="alie", mode="secure", rounds=rounds, seed=seed))
    configs.append(Config(rule="mean", attack=None, mode="paillier", rounds=rounds, seed=seed))
    configs.append(Config(rule="mean", attack=None, mode="masks", rounds=rounds, seed=seed))
    for rule in ("mean", "krum"):
        configs.append(Config(rule=rule, attack=None, epsilon=4.0, rounds=rounds, seed=seed))
    return configs
