"""``sbrml simulate``: the training simulation's runs and outputs (spec section 18)."""

from __future__ import annotations

import argparse
from typing import Any

from sbrml.cli.errors import CliError

GRID_KEYS = {"rules", "attacks", "modes", "epsilons", "models", "n", "f", "alpha", "rounds", "seed"}


def grid_configs(path: str, common: dict[str, Any]) -> list[Any]:
    """D18.6: a TOML grid file: lists rules, attacks ("none" allowed), modes, epsilons ("none"
    allowed), models, and scalars n, f, alpha, rounds, seed; every combination is one run."""
    import tomllib

    from sbrml.simulation import Config

    try:
        with open(path, "rb") as stream:
            grid = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CliError(f"--grid {path!r}: not a readable TOML file ({err}) (C18.1)") from err
    unknown = sorted(set(grid) - GRID_KEYS)
    if unknown:
        raise CliError(
            f"--grid {path!r}: unknown keys {unknown}; allowed: {sorted(GRID_KEYS)} (C18.1)"
        )
    for key in ("rules", "attacks", "modes", "epsilons", "models"):
        if key in grid and (not isinstance(grid[key], list) or not grid[key]):
            raise CliError(f"--grid {path!r}: {key} must be a non-empty list (C18.1)")
    scalars: dict[str, Any] = dict(common)
    scalars.update({k: grid[k] for k in ("n", "f", "alpha", "rounds", "seed") if k in grid})
    scalars.pop("model", None)
    attacks = [None if a == "none" else a for a in grid.get("attacks", ["alie"])]
    epsilons = [None if e == "none" else e for e in grid.get("epsilons", ["none"])]
    return [
        Config(rule=r, attack=a, mode=m, epsilon=e, model=mo, **scalars)
        for r in grid.get("rules", ["krum"])
        for a in attacks
        for m in grid.get("modes", ["plaintext"])
        for e in epsilons
        for mo in grid.get("models", [common["model"]])
    ]


def simulate_configs(args: argparse.Namespace) -> list[Any]:
    """The runs ``sbrml simulate`` asked for, all validated before any training (C18.1)."""
    from sbrml.simulation import MODES, Config, ConfigError, default_sweep

    common = {
        "model": args.model,
        "delta": args.delta,
        "n": args.n,
        "f": args.f,
        "alpha": args.alpha,
        "rounds": args.rounds,
        "seed": args.seed,
    }
    if args.grid:
        configs = grid_configs(args.grid, common)
    elif not any(
        (args.rules, args.attacks, args.modes, args.epsilon is not None, args.sigma is not None)
    ):
        configs = [
            Config(**{**c.as_dict(), **common}) for c in default_sweep(args.rounds, args.seed)
        ]
    else:
        rules = (args.rules or "krum").split(",")
        attacks = [None if a == "none" else a for a in (args.attacks or "alie").split(",")]
        modes = (args.modes or "plaintext").split(",")
        configs = [
            Config(rule=r, attack=a, mode=m, epsilon=args.epsilon, sigma=args.sigma, **common)
            for r in rules
            for a in attacks
            for m in modes
        ]
    for config in configs:
        try:
            config.validate()
        except ConfigError as err:
            raise CliError(f"{err}; modes: {', '.join(MODES)}") from err
    return configs


def run_simulate(args: argparse.Namespace) -> str:
    """``sbrml simulate``: run the configurations and write the outputs (spec section 18)."""
    from pathlib import Path

    from sbrml.simulation import run
    from sbrml.simulation.report import write_outputs

    configs = simulate_configs(args)
    results = [run(c, progress=True) for c in configs]
    table = write_outputs(results, Path(args.out))
    return f"{table}\nwrote {args.out}/results.json, results.csv, accuracy.png"
