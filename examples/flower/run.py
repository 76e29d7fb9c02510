"""Train `sbrml simulate`'s model on Flower's simulation engine (Ray) and compare (issue 17).

    python examples/flower/run.py --rule nnm+krum --attack alie --mode two-server -n 10 -f 2

runs the Flower example (``sbrml.flower.app``: one ClientApp per worker, the ServerApp with
``SecureRobustStrategy``), then ``sbrml simulate``'s run of the same configuration in this
process, and prints both accuracy curves' ends and their difference. ``--no-compare`` runs
Flower only; ``--json FILE`` writes both records; ``--ray-address auto`` joins a running Ray
cluster (``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others)
instead of starting Ray here with ``--cpus`` CPUs (1 to this machine's count). Exit status 1
if ``--tolerance`` is given and the final accuracies differ by more; 2, before Ray starts, for
an argument or configuration that cannot run (C18.1, and what the strategy refuses).

It says at the start what runs where — in mode ``two-server`` both servers and the dealer run
beside the ServerApp (a simulation of the trust model, not a deployment) — and which seed it
uses: a seeded reproduction of ``sbrml simulate``, the strategy's secrets (the servers' keys,
the dealer, the masks) derived from the public seed, unsafe for real secrets. ``--os-rng``
draws those secrets from the OS CSPRNG instead (the clients always do).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

# Flower's anonymous usage telemetry is off unless the caller turned it on.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
# Ray 2.55 warns at every start that it will stop overriding the GPU variables; none are used.
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

import sbrml.optimized as opt
from sbrml.flower.app import DEFAULT_BACKEND, SIMULATION_MODE, flower_config, run
from sbrml.simulation import Config, ConfigError
from sbrml.simulation import run as simulate


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, Config]:
    """The arguments and the run's ``Config``, every one checked before Ray starts (exit
    status 2 with the reason otherwise)."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--rule", default="nnm+krum", help="a rule of sbrml, e.g. krum, median")
    p.add_argument("--attack", default="alie", help="an attack of sbrml simulate, or 'none'")
    p.add_argument(
        "--mode", default="two-server", choices=sorted(SIMULATION_MODE), help="the aggregation"
    )
    p.add_argument("--model", default="logreg", choices=("logreg", "mlp"), help="the model")
    p.add_argument("-n", type=int, default=10, help="workers, one Flower SuperNode each")
    p.add_argument("-f", type=int, default=2, help="Byzantine workers")
    p.add_argument("--alpha", type=float, default=1.0, help="Dirichlet(alpha) split of the data")
    p.add_argument("--rounds", type=int, default=40, help="training rounds")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the split, initial model and batches; the strategy's secrets too unless --os-rng",
    )
    p.add_argument(
        "--cpus", type=int, default=min(2, os.cpu_count() or 1), help="CPUs Ray may use here"
    )
    p.add_argument("--ray-address", help="join this Ray cluster ('auto': the local one)")
    p.add_argument("--no-compare", action="store_true", help="skip sbrml simulate")
    p.add_argument("--json", help="write the records to this file")
    p.add_argument("--tolerance", type=float, help="fail if |final accuracies| differ more")
    p.add_argument(
        "--os-rng",
        action="store_true",
        help="draw the strategy's secrets from the OS CSPRNG, not from the seed",
    )
    args = p.parse_args(argv)
    # Counts and limits are checked before Ray starts. Ray's num_cpus bounds the ClientApp
    # actors (one CPU each): 0 leaves no actor to run a ClientApp, and more than this machine
    # has starts actors it cannot run; a cluster (--ray-address) brings its own CPUs.
    most = os.cpu_count() or 1
    if not 1 <= args.cpus <= most:
        p.error(f"--cpus: need an int in [1, {most}] (this machine's CPUs); got {args.cpus}")
    if args.tolerance is not None and not 0 <= args.tolerance < math.inf:
        # NaN would compare false and never fail; a negative tolerance would always fail.
        p.error(f"--tolerance: need a finite real >= 0; got {args.tolerance}")
    config = Config(
        rule=args.rule,
        model=args.model,
        attack=None if args.attack == "none" else args.attack,
        mode=SIMULATION_MODE[args.mode],
        n=args.n,
        f=args.f,
        alpha=args.alpha,
        rounds=args.rounds,
        seed=args.seed,
    )
    try:
        flower_config(config)
    except ConfigError as err:  # C18.1: refused before Ray starts, as a usage error
        p.error(str(err))
    return args, config


# What runs where, by the strategy's mode (SecureRobustStrategy's names).
WHERE = {
    "two-server": "the clients seal their shares to S0 and S1; S0, S1 and the dealer run beside "
    "the ServerApp, in this process: a SIMULATION of the trust model, not a deployment",
    "plaintext": "the rule runs in the clear in the ServerApp",
    "masks": "every party of the pairwise-mask protocol runs in the ServerApp, on updates "
    "sent in the clear: its output and cost, not its privacy",
    "paillier": "every party of the Paillier protocol runs in the ServerApp, on updates sent "
    "in the clear: its output and cost, not its privacy",
}


def notice(args: argparse.Namespace) -> str:
    """The run-time notice: the mode, what runs where, the seed and what it drives."""
    secrets = (
        "the strategy's secrets (servers' keys, dealer, masks) come from the OS CSPRNG"
        if args.os_rng
        else "the strategy's secrets (servers' keys, dealer, masks) are derived from it too: "
        "a seeded reproduction of sbrml simulate, UNSAFE for real secrets"
    )
    return (
        f"mode {args.mode}: {WHERE[args.mode]}.\n"
        f"seed {args.seed}: the split, the initial model and the batches; {secrets}; "
        "the clients' shares and sealing keys come from the OS CSPRNG."
    )


def main(argv: list[str] | None = None) -> int:
    args, config = parse(argv)
    backend: dict[str, Any] = {
        "client_resources": dict(DEFAULT_BACKEND["client_resources"]),
        "init_args": {**DEFAULT_BACKEND["init_args"], "num_cpus": args.cpus},
    }
    if args.ray_address:
        # A running cluster has its own resources: only the address is passed to ray.init.
        backend["init_args"] = {"address": args.ray_address}
    print(notice(args), flush=True)
    rng = None if args.os_rng else opt.DeterministicRandomSource(args.seed)
    flower = run(config, rng=rng, backend_config=backend)
    rows = [("flower", flower.accuracy, flower.wall_seconds)]
    record: dict[str, Any] = {"flower": flower.as_dict()}
    if not args.no_compare:
        start = time.perf_counter()
        sim = simulate(config)
        rows.append(("sbrml simulate", sim.accuracy, time.perf_counter() - start))
        record["simulate"] = sim.as_dict()
    # The strategy's names for the mode (config.label would say the simulation's "secure").
    model = "" if config.model == "logreg" else f" | {config.model}"
    label = f"{config.rule} | {config.attack or 'no attack'} | {args.mode}{model}"
    print(f"\n{label}, n={config.n}, f={config.f}, alpha={config.alpha:g}, seed={config.seed}")
    print(f"{'run':<16} {'final acc':>9} {'best acc':>9} {'wall s':>8}")
    for name, accuracy, wall in rows:
        print(f"{name:<16} {accuracy[-1]:>9.4f} {max(accuracy):>9.4f} {wall:>8.1f}")
    excluded = sum(len(e) for e in flower.excluded)
    print(f"flower exclusions over {config.rounds} rounds: {excluded}")
    status = 0
    if len(rows) == 2:
        gap = abs(rows[0][1][-1] - rows[1][1][-1])
        print(f"|final accuracy difference| = {gap:.4f}")
        if args.tolerance is not None and gap > args.tolerance:
            print(f"difference above the tolerance {args.tolerance}", file=sys.stderr)
            status = 1
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
