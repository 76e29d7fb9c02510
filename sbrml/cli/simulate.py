"""``sbrml simulate``: the training simulation's runs and outputs (spec section 18).

The runs come from the default sweep, from --rules/--attacks/--modes/--epsilon/--sigma, or
from a grid file; a value given twice (a grid key and its option) is an error, and so is an
option that applies to none of the runs. Every configuration and the output folder are
checked before the first round trains. The simulation is the ``sim`` extra: without it the
command stops first, naming the extra to install (exit status 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from sbrml.cli import progress
from sbrml.cli.common import check_rule_text
from sbrml.cli.errors import CliError
from sbrml.cli.files import check_output_dir, same_file
from sbrml.cli.parser import SIMULATE_DEFAULTS
from sbrml.extras import MissingExtraError, require

# Options that choose the runs themselves: a grid file replaces them all.
RUN_OPTIONS = {
    "rules": "--rules",
    "attacks": "--attacks",
    "modes": "--modes",
    "epsilon": "--epsilon",
    "sigma": "--sigma",
}
SCALAR_FLAGS = {"n": "-n", "f": "-f", "alpha": "--alpha", "rounds": "--rounds", "seed": "--seed"}
OUTPUTS = ("results.json", "results.csv", "accuracy.png")


def common_values(args: argparse.Namespace, grid: dict[str, Any] | None) -> dict[str, Any]:
    """The scalars every run shares: the option, else the default; with a grid, an option
    the grid also sets, or one that chooses runs, is an error."""
    from sbrml.simulation.grid import GRID_LISTS, GRID_SCALARS

    if grid is not None:
        for dest, flag in RUN_OPTIONS.items():
            if getattr(args, dest) is not None:
                raise CliError(
                    f"{flag} does not combine with --grid: the grid file chooses the runs "
                    f"(its lists: {', '.join(GRID_LISTS)})"
                )
        for key, flag in SCALAR_FLAGS.items():
            if key in grid and getattr(args, key) is not None:
                raise CliError(
                    f"{flag} {getattr(args, key)} and {key} = {grid[key]!r} in --grid "
                    f"{args.grid!r} both set {key}; give it in one place"
                )
        if "models" in grid and args.model is not None:
            raise CliError(
                f"--model {args.model} and models = {grid['models']!r} in --grid {args.grid!r} "
                "both set the model; give it in one place"
            )
    keys = ("model", "delta", *GRID_SCALARS)
    return {k: SIMULATE_DEFAULTS[k] if getattr(args, k) is None else getattr(args, k) for k in keys}


def simulate_configs(args: argparse.Namespace) -> list[Any]:
    """The runs ``sbrml simulate`` asked for, all validated before any training (C18.1)."""
    from sbrml.simulation import Config, ConfigError, default_sweep
    from sbrml.simulation.grid import GridError, grid_configs, read_grid

    try:
        grid = read_grid(args.grid) if args.grid else None
    except GridError as err:
        raise CliError(str(err)) from err
    common = common_values(args, grid)
    if grid is not None:
        for spec in grid.get("rules", []):
            if isinstance(spec, str):  # other types are Config's to refuse (C18.1)
                check_rule_text(f"--grid {args.grid!r}: rules item", spec, spec)
        configs = grid_configs(grid, common)
    elif all(getattr(args, dest) is None for dest in RUN_OPTIONS):
        sweep = default_sweep(common["rounds"], common["seed"])
        configs = [Config(**{**c.as_dict(), **common}) for c in sweep]
    else:
        rules = (args.rules or "krum").split(",")
        for spec in rules:
            check_rule_text("--rules", args.rules, spec)
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
            raise CliError(str(err)) from err
    if args.delta is not None and all(c.epsilon is None and c.sigma is None for c in configs):
        raise CliError(
            "--delta applies only to runs with differential privacy (--epsilon, --sigma, or "
            "epsilons in the grid); none of these runs has it"
        )
    return configs


def run_simulate(args: argparse.Namespace) -> str:
    """``sbrml simulate``: run the configurations and write the outputs (spec section 18)."""
    from pathlib import Path

    try:
        require("sim", "sbrml simulate")
    except MissingExtraError as err:  # the user's install, not a bug: exit 2 with the fix
        raise CliError(str(err)) from err

    from sbrml.optimized.processes import available_processes
    from sbrml.simulation import run
    from sbrml.simulation.report import write_outputs

    configs = simulate_configs(args)
    for name in OUTPUTS:  # `--out . --grid results.csv` would replace the grid file
        if args.grid and Path(args.grid).is_file() and same_file(args.grid, f"{args.out}/{name}"):
            raise CliError(
                f"--out {args.out!r}: {name} inside it is the --grid file {args.grid!r}, which "
                "the run would overwrite: give another folder"
            )
    check_output_dir("--out", args.out, OUTPUTS)
    show = progress.enabled()
    results = []
    with progress.bar(len(configs), "simulate: runs", show=show and len(configs) > 1) as runs:
        for config in configs:
            # The command line chooses the processes the paillier mode may use (C0.2).
            results.append(run(config, progress=show, processes=available_processes()))
            runs.update(1)
    table = write_outputs(results, Path(args.out))
    return f"{table}\nwrote {args.out}/results.json, results.csv, accuracy.png"
