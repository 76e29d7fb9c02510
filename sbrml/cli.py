"""The ``sbrml`` command line (README, "Command line"): ``aggregate`` and ``demo``.

The options, output files and JSON fields documented in the README are a public contract.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.backend import IMPLEMENTATIONS, implementation
from sbrml.reference.errors import SpecError
from sbrml.rulespec import LIBRARY_SPECS, RuleSpecError, build_rule

RULE_NAMES = (
    "mean",
    "median",
    "trimmed-mean",
    "meamed",
    "krum",
    "multikrum",
    "geomed",
    "mda",
    "medoid",
    "bulyan",
    "cc",
    "smea",
    "caf",
)
PRE_NAMES = ("nnm", "bucketing", "clip", "arc")
# name -> (type, help); each applies to the rules listed in sbrml.rulespec.
HYPERPARAMETERS: dict[str, tuple[type, str]] = {
    "m": (int, "multikrum: how many lowest-score vectors to average (default n - f)"),
    "convention": (
        str,
        "krum, multikrum: neighbours 'blanchard' (n-f-2, default) or 'byzfl' (n-f-1)",
    ),
    "nu": (float, "geomed: Weiszfeld smoothing (default 1e-6)"),
    "tol": (float, "geomed: relative step that stops the iteration (default 1e-10)"),
    "max_iter": (int, "geomed: iteration cap (default 500)"),
    "tau": (float, "cc: clipping radius (default 1.0)"),
    "iterations": (int, "cc: clipping iterations (default 3)"),
    "s": (int, "bucketing: bucket size (default 2)"),
    "c": (float, "clip: clipping threshold (default 1.0)"),
}
VARIANTS = ("gram", "pairwise")


class CliError(Exception):
    """A usage or input problem reported as ``sbrml: error: ...`` with exit status 2."""


def pick_rng(tree: Any, seed: int | None) -> Any:
    """SystemRandomSource, or a seeded source with a warning on stderr (spec C2.1, C2.2)."""
    if seed is None:
        return tree.SystemRandomSource()
    print(
        f"sbrml: --seed {seed}: DeterministicRandomSource, UNSAFE for real secrets "
        "(anyone who knows the seed can reconstruct every share)",
        file=sys.stderr,
    )
    return tree.DeterministicRandomSource(seed)


def load_matrix(path: str) -> NDArray[np.float64]:
    """Read an n x d float array from a .npy file, with errors that name the problem."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise CliError(f"INPUT {path!r}: no such file") from err
    except (ValueError, OSError) as err:
        raise CliError(
            f"INPUT {path!r}: not a readable .npy array without pickles ({err})"
        ) from err
    if not isinstance(arr, np.ndarray) or arr.ndim != 2:
        raise CliError(
            f"INPUT {path!r}: need an n x d array (one row per worker); "
            f"got shape {getattr(arr, 'shape', None)}"
        )
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise CliError(f"INPUT {path!r}: need real numbers; got dtype {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CliError(
            f"INPUT {path!r}: need n >= 1 workers and d >= 1 coordinates; got shape {arr.shape}"
        )
    return arr.astype(np.float64, copy=False)


def make_rule(tree: Any, args: argparse.Namespace) -> Any:
    """The rule object of the chosen tree, from --rule and its hyperparameter options."""
    options = {name: getattr(args, name) for name in HYPERPARAMETERS}
    try:
        return build_rule(tree, args.rule, args.f, options)
    except RuleSpecError as err:
        raise CliError(str(err)) from err


MASK_ROUNDS = ("advertise", "share", "input", "unmask")


def parse_dropouts(items: list[str] | None, n: int) -> dict[int, str]:
    """``--dropout I:ROUND`` entries as spec C20.1's mapping, with errors naming the entry."""
    dropouts: dict[int, str] = {}
    for item in items or []:
        worker, _, stage = item.partition(":")
        if not worker.isdigit() or stage not in MASK_ROUNDS or not int(worker) < n:
            raise CliError(
                f"--dropout {item!r}: need WORKER:ROUND with 0 <= WORKER < n={n} and ROUND one of "
                f"{', '.join(MASK_ROUNDS)} (the first round the worker misses)"
            )
        if int(worker) in dropouts:
            raise CliError(f"--dropout {item!r}: worker {worker} is given twice")
        dropouts[int(worker)] = stage
    return dropouts


def run_masks(args: argparse.Namespace, x: NDArray[np.float64]) -> dict[str, Any]:
    """``--protocol masks``: pairwise-mask secure aggregation (spec section 20); the mean."""
    if args.plaintext:
        raise CliError("--plaintext runs a rule in the clear; it does not combine with --protocol")
    if args.rule not in (None, "mean") or args.f not in (None, 0):
        raise CliError(
            "--protocol masks computes the mean of the surviving workers and has no robust rule: "
            f"drop --rule {args.rule} / -f {args.f} (or use the two-server protocol)"
        )
    ignored = [o for o in ("m", *HYPERPARAMETERS) if getattr(args, o, None) is not None]
    if ignored or args.triples != "dealer" or args.variant != "gram":
        raise CliError(
            "--protocol masks takes no rule hyperparameters, --triples or --variant; got "
            f"{ignored or [args.triples, args.variant]}"
        )
    n = int(x.shape[0])
    t = args.threshold if args.threshold is not None else max(2, n // 2 + 1)
    dropouts = parse_dropouts(args.dropout, n)
    tree = implementation(args.impl)
    module = importlib.import_module(f"sbrml.{args.impl}.mask_protocol")
    data: Any = x if args.impl == "optimized" else x.tolist()
    rng = pick_rng(tree, args.seed)
    result = module.masked_aggregate(data, t=t, rng=rng, dropouts=dropouts)
    links = result.channel.bytes_by_link()
    counted = result.counted
    if args.transcript:
        with open(args.transcript, "wb") as stream:
            result.channel.write_transcript(stream)
    return {
        "rule": "mean",
        "mode": "masks",
        "protocol": "masks",
        "output": "mean",
        "impl": args.impl,
        "variant": None,
        "triples": None,
        "paillier_obfuscators": None,
        "n": n,
        "d": int(x.shape[1]),
        "f": None,
        "m": None,
        "threshold": t,
        "dropouts": {str(i): r for i, r in sorted(dropouts.items())},
        "survivors": result.survivors,
        "notes": result.notes,
        "rng": "system" if args.seed is None else "deterministic",
        "seed": args.seed,
        "weights": [1.0 / len(counted) if i in counted else 0.0 for i in range(n)],
        "valid": counted,
        "excluded": [{"worker": i, "reason": r} for i, r in sorted(result.excluded.items())],
        "bytes": links,
        "bytes_total": sum(links.values()),
        "seconds": dict(result.seconds),
        "transcript_sha256": result.channel.transcript_digest(),
        "_z": np.asarray(result.mean, dtype=np.float64),
    }


def run_aggregate(args: argparse.Namespace) -> dict[str, Any]:
    """Run one aggregation as the options say; returns the JSON report (README contract)."""
    x = load_matrix(args.input)
    if args.protocol == "masks":
        masks = run_masks(args, x)
        if args.out:
            np.save(args.out, masks["_z"])
        masks["out"] = args.out
        masks["transcript"] = args.transcript
        return masks
    if args.rule is None or args.f is None:
        raise CliError("the two-server protocol needs --rule and -f")
    if args.triples != "paillier" and args.paillier_obfuscators != "key-holder":
        raise CliError(
            f"--paillier-obfuscators {args.paillier_obfuscators} applies only with "
            f"--triples paillier; got --triples {args.triples}"
        )
    tree = implementation(args.impl)
    rule = make_rule(tree, args)
    if not args.plaintext and not tree.is_distance_rule(rule):
        secure = ", ".join(n for n in tree.RULES if tree.is_distance_rule(tree.RULES[n](0)))
        raise CliError(
            f"--rule {args.rule} has no distance form: coordinate-wise and norm-based rules need "
            f"secure comparison, which is not available yet (spec C8.11). Run it with --plaintext, "
            f"or choose a secure-capable rule: {secure}, optionally after nnm or bucketing"
        )
    data: Any = x if args.impl == "optimized" else x.tolist()
    report: dict[str, Any] = {
        "rule": args.rule,
        "mode": "plaintext" if args.plaintext else "secure",
        "protocol": None if args.plaintext else "two-server",
        "impl": args.impl,
        "variant": None if args.plaintext else args.variant,
        "triples": None if args.plaintext else args.triples,
        "paillier_obfuscators": (
            args.paillier_obfuscators if args.triples == "paillier" and not args.plaintext else None
        ),
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "f": args.f,
        "m": args.m,
    }
    if args.plaintext:
        if args.transcript:
            raise CliError("--transcript records the secure round's messages; drop --plaintext")
        root = pick_rng(tree, args.seed)
        start = time.perf_counter()
        z = np.asarray(rule(data, rng=root.derive("rule")), dtype=np.float64)
        elapsed = time.perf_counter() - start
        weights = None
        if tree.is_distance_rule(rule):
            # The same derived stream, so a randomized rule reports the weights it used.
            d = tree.sq_distances(data)
            weights = [float(w) for w in rule.weights(d, rng=root.derive("rule"))]
        report.update(
            {
                "rng": "system" if args.seed is None else "deterministic",
                "seed": args.seed,
                "weights": weights,
                "valid": list(range(x.shape[0])),
                "excluded": [],
                "bytes": {},
                "bytes_total": 0,
                "seconds": {"plaintext": elapsed},
                "transcript_sha256": None,
            }
        )
    else:
        rng = pick_rng(tree, args.seed)
        provider = None  # the default: the dealer of spec P4.1
        if args.triples == "paillier":
            module = importlib.import_module(f"sbrml.{args.impl}.paillier_triples")
            provider = module.PaillierTripleProvider(
                rng=rng.derive("triples"),
                bits=args.paillier_bits,
                obfuscators=args.paillier_obfuscators,
            )
        result = tree.secure_aggregate(data, rule, rng=rng, variant=args.variant, provider=provider)
        z = np.asarray(result.z, dtype=np.float64)
        seconds = dict(result.seconds)
        seconds["total_online"] = sum(
            v for k, v in result.seconds.items() if not k.startswith("offline")
        )
        links = result.channel.bytes_by_link()
        report.update(
            {
                "rng": "system" if args.seed is None else "deterministic",
                "seed": args.seed,
                "weights": [float(w) for w in result.weights],
                "valid": result.valid,
                "excluded": [
                    {"worker": i, "reason": r} for i, r in sorted(result.excluded.items())
                ],
                "bytes": links,
                "bytes_total": sum(links.values()),
                "seconds": seconds,
                "transcript_sha256": result.channel.transcript_digest(),
            }
        )
        if args.transcript:
            with open(args.transcript, "wb") as stream:
                result.channel.write_transcript(stream)
    if args.out:
        np.save(args.out, z)
    report["out"] = args.out
    report["transcript"] = args.transcript
    report["_z"] = z
    return report


def print_summary(report: dict[str, Any]) -> None:
    """The human-readable form of an aggregate report."""
    z = report["_z"]
    if report["mode"] == "masks":
        print(
            f"pairwise-mask secure aggregation (impl={report['impl']}): n={report['n']}, "
            f"d={report['d']}, t={report['threshold']}; output: the MEAN of the "
            f"{len(report['valid'])} workers counted {report['valid']} "
            "(not robust: any well-formed input is summed)"
        )
        for note in report["notes"]:
            print(f"note: {note}")
    else:
        print(
            f"{report['mode']} {report['rule']} (impl={report['impl']}, "
            f"variant={report['variant']}): n={report['n']}, d={report['d']}, f={report['f']}"
        )
    if report["weights"] is not None and report["mode"] != "masks":
        chosen = [i for i, w in enumerate(report["weights"]) if w > 0]
        print(f"workers with positive weight: {chosen}")
    for item in report["excluded"]:
        print(f"excluded W{item['worker']}: {item['reason']}")
    head = ", ".join(f"{v:.6g}" for v in z[:5])
    print(
        f"z[:5] = [{head}{', ...' if len(z) > 5 else ''}]  ||z|| = {float(np.linalg.norm(z)):.6g}"
    )
    if report["bytes_total"]:
        print(f"bytes sent: {report['bytes_total']:,} in total")
    print("seconds: " + ", ".join(f"{k}={v:.4f}" for k, v in report["seconds"].items()))
    if report["out"]:
        print(f"wrote {report['out']}")
    if report["transcript"]:
        print(f"wrote transcript {report['transcript']} (sha256 {report['transcript_sha256']})")


def run_kappa(args: argparse.Namespace) -> str:
    """``sbrml kappa``: the worst empirical kappa found, beside the published and lower bounds."""
    from sbrml.robustness import kappa_table
    from sbrml.tables import format_table

    specs = list(LIBRARY_SPECS) if args.rule == "all" else args.rule.split(",")
    if args.n < 1 or args.f < 0 or 2 * args.f >= args.n:
        raise CliError(f"kappa: need 0 <= f < n/2 (spec D12.1); got n={args.n}, f={args.f}")
    for name in (args.dim, args.restarts, args.steps):
        if name < 1:
            raise CliError("kappa: --dim, --restarts and --steps must be >= 1")
    import sbrml.optimized as opt

    skipped = []
    for spec in list(specs):
        try:
            build_rule(opt, spec, args.f).check_n(args.n)
        except (RuleSpecError, SpecError) as err:
            if args.rule != "all":
                raise CliError(f"kappa: {spec}: {err}") from err
            specs.remove(spec)  # 'all' lists what this n and f allow, and says what it left out
            skipped.append(f"{spec} ({getattr(err, 'condition', err)})")
    rows = kappa_table(
        specs,
        args.n,
        args.f,
        dim=args.dim,
        restarts=args.restarts,
        steps=args.steps,
        seed=args.seed,
    )
    if args.json:
        keys = ("rule", "kappa_found", "published_bound", "lower_bound", "verdict")
        return "\n".join(json.dumps(dict(zip(keys, row, strict=True))) for row in rows)
    title = (
        f"Worst empirical kappa found (n={args.n}, f={args.f}, d={args.dim}, "
        f"{args.restarts} restarts x {args.steps} steps, seed {args.seed})"
    )
    table = format_table(
        ["rule", "kappa found", "published bound", "lower bound f/(n-2f)", "verdict"],
        rows,
        title=title,
    )
    return table + ("\nnot applicable at this n, f: " + "; ".join(skipped) if skipped else "")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sbrml", description="Secure, Byzantine-robust aggregation."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    agg = sub.add_parser("aggregate", help="aggregate the rows of an n x d .npy array")
    agg.add_argument("input", metavar="INPUT.npy", help="n x d float array, one row per worker")
    agg.add_argument(
        "--rule",
        default=None,
        help=f"a rule ({', '.join(RULE_NAMES)}), optionally after pre-aggregations "
        f"({', '.join(PRE_NAMES)}) joined by '+', e.g. nnm+krum (required unless --protocol masks)",
    )
    agg.add_argument(
        "-f",
        type=int,
        default=None,
        help="number of Byzantine workers tolerated (required unless --protocol masks)",
    )
    agg.add_argument(
        "--protocol",
        choices=("two-server", "masks"),
        default="two-server",
        help="the secure two-server round (default) or pairwise-mask secure aggregation, "
        "which outputs the mean and is not robust",
    )
    agg.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="masks: Shamir threshold t, 2 <= t <= n (default max(2, n // 2 + 1))",
    )
    agg.add_argument(
        "--dropout",
        action="append",
        metavar="WORKER:ROUND",
        help="masks: worker WORKER goes silent from ROUND on (advertise, share, input, unmask); "
        "repeatable",
    )
    for name, (kind, text) in HYPERPARAMETERS.items():
        agg.add_argument(
            f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=text
        )
    agg.add_argument(
        "--triples",
        choices=("dealer", "paillier"),
        default="dealer",
        help="Beaver material from a trusted dealer (default) or from S0 and S1 with Paillier",
    )
    agg.add_argument(
        "--paillier-bits",
        type=int,
        choices=(2048, 3072),
        default=2048,
        help="key size for --triples paillier (default 2048)",
    )
    agg.add_argument(
        "--paillier-obfuscators",
        choices=("key-holder", "short-exponent"),
        default="key-holder",
        help="encryption randomness for --triples paillier: key-holder (default, spec D13.4) "
        "or short-exponent (faster, stronger assumption, spec D13.5)",
    )
    agg.add_argument(
        "--variant", choices=VARIANTS, default="gram", help="secure distance variant (default gram)"
    )
    agg.add_argument(
        "--impl",
        choices=IMPLEMENTATIONS,
        default="optimized",
        help="implementation tree (default optimized)",
    )
    agg.add_argument(
        "--plaintext",
        action="store_true",
        help="run the rule in the clear instead of the secure round",
    )
    agg.add_argument(
        "--seed",
        type=int,
        default=None,
        help="deterministic randomness from this seed "
        "(UNSAFE for real secrets; default: the OS CSPRNG)",
    )
    agg.add_argument("--out", metavar="Z.npy", default=None, help="write the aggregate z here")
    agg.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )
    agg.add_argument(
        "--transcript", metavar="T", default=None, help="write the canonical transcript (spec D7.3)"
    )
    kappa = sub.add_parser(
        "kappa", help="search for the worst (f, kappa)-robustness ratio of rules"
    )
    kappa.add_argument(
        "--rule", required=True, help="a rule or composition, a comma-separated list, or 'all'"
    )
    kappa.add_argument("-n", type=int, required=True, help="number of inputs")
    kappa.add_argument("-f", type=int, required=True, help="number of Byzantine inputs")
    kappa.add_argument(
        "--dim", type=int, default=2, help="dimension of the searched inputs (default 2)"
    )
    kappa.add_argument("--restarts", type=int, default=4, help="search restarts (default 4)")
    kappa.add_argument(
        "--steps", type=int, default=300, help="hill-climbing steps per start (default 300)"
    )
    kappa.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    kappa.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    sim = sub.add_parser(
        "simulate", help="train on digits with n workers, f Byzantine (the main job)"
    )
    sim.add_argument(
        "--out", required=True, metavar="DIR", help="write results.json, results.csv, accuracy.png"
    )
    sim.add_argument("--grid", metavar="FILE.toml", help="a TOML grid of runs (see the README)")
    sim.add_argument(
        "--rules", help="comma-separated rules or compositions (a grid; default: the small sweep)"
    )
    sim.add_argument("--attacks", help="comma-separated attacks, 'none' for no Byzantine workers")
    sim.add_argument("--modes", help="comma-separated modes: plaintext, secure, paillier, masks")
    sim.add_argument(
        "--epsilon", type=float, default=None, help="DP budget per worker (calibrates sigma)"
    )
    sim.add_argument(
        "--sigma", type=float, default=None, help="DP noise multiplier (epsilon is then reported)"
    )
    sim.add_argument("--delta", type=float, default=1e-5, help="DP delta (default 1e-5)")
    sim.add_argument(
        "--model",
        choices=("logreg", "mlp"),
        default="logreg",
        help="logistic regression (650 parameters, default) or a 32-unit MLP (2,410)",
    )
    sim.add_argument("-n", type=int, default=10, help="workers (default 10)")
    sim.add_argument("-f", type=int, default=2, help="Byzantine workers (default 2)")
    sim.add_argument(
        "--alpha", type=float, default=1.0, help="Dirichlet heterogeneity (default 1.0)"
    )
    sim.add_argument("--rounds", type=int, default=40, help="training rounds (default 40)")
    sim.add_argument(
        "--seed", type=int, default=0, help="seed of data, batches and protocol draws (default 0)"
    )
    demo = sub.add_parser("demo", help="the self-contained example: n=9, f=2, two attackers")
    demo.add_argument("--dim", type=int, default=100_000, help="model dimension d (default 100000)")
    demo.add_argument(
        "--seed", type=int, default=1, help="seed of the synthetic updates (default 1)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "aggregate":
            report = run_aggregate(args)
            if args.json:
                report.pop("_z")
                print(json.dumps(report, sort_keys=True))
            else:
                print_summary(report)
        elif args.command == "kappa":
            print(run_kappa(args))
        elif args.command == "simulate":
            print(run_simulate(args))
        else:
            from sbrml.demo import run_demo

            print(run_demo(dim=args.dim, seed=args.seed))
    except (CliError, SpecError, ValueError) as err:
        print(f"sbrml: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
