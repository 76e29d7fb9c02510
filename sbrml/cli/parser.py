"""The ``sbrml`` argument parser: every subcommand and option (README, "Command line")."""

from __future__ import annotations

import argparse

from sbrml.backend import IMPLEMENTATIONS
from sbrml.core.params import VARIANTS
from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES, hyperparameter_owners

RULE_NAMES = tuple(RULE_ENTRIES)
PRE_NAMES = tuple(PREAGGREGATION_ENTRIES)


def _hyperparameter_help() -> dict[str, tuple[type, str]]:
    """name -> (type, help): one option per registry hyperparameter, named by its owners."""
    return {
        name: (h.kind, f"{', '.join(owners)}: {h.help} (default {h.shown_default()})")
        for name, (h, owners) in hyperparameter_owners().items()
    }


# name -> (type, help), from the registry (sbrml/core/registry.py).
HYPERPARAMETERS: dict[str, tuple[type, str]] = _hyperparameter_help()
TRANSCRIPT_VIEWS = ("full", "S0", "S1", "dealer", "S")
# simulate's defaults: applied after parsing, so that an option given on the command line is
# told apart from one left at its default (a grid file may not set it twice, item 16).
SIMULATE_DEFAULTS: dict[str, object] = {
    "model": "logreg",
    "n": 10,
    "f": 2,
    "alpha": 1.0,
    "rounds": 40,
    "seed": 0,
    "delta": 1e-5,
}


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and option; defaults that depend on other options are left None."""
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
        help="number of Byzantine workers tolerated (required unless --protocol masks or a "
        "rule that does not use it: mean, bucketing+mean, clip+mean)",
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
        default=None,
        help="secure round: Beaver material from a trusted dealer (default) or from S0 and S1 "
        "with Paillier",
    )
    agg.add_argument(
        "--paillier-bits",
        type=int,
        choices=(2048, 3072),
        default=None,
        help="key size for --triples paillier (default 2048)",
    )
    agg.add_argument(
        "--paillier-obfuscators",
        choices=("key-holder", "short-exponent"),
        default=None,
        help="encryption randomness for --triples paillier: key-holder (default, spec D13.4) "
        "or short-exponent (faster, stronger assumption, spec D13.5)",
    )
    agg.add_argument(
        "--frac-bits",
        type=int,
        default=None,
        help="fixed-point fractional bits F of the encoding (default 16, spec C8.6): each bit "
        "less doubles the largest coordinate a row may have (spec C8.13)",
    )
    agg.add_argument(
        "--leakage",
        choices=("distances", "index", "output"),
        default=None,
        help="secure round: what the servers learn besides z (spec C8.15): distances (S1 "
        "learns D; the default for distance rules but the mean), index (krum, multikrum, "
        "nnm+krum, nnm+multikrum: D stays shared, the selection and weights are opened) or "
        "output (those four, the mean's default, and the only mode of median, trimmed-mean "
        "and meamed: nothing but z)",
    )
    agg.add_argument(
        "--variant",
        choices=VARIANTS,
        default=None,
        help="secure round: distance variant (default gram)",
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
        help="run the rule in the clear instead of the secure round; invalid rows are "
        "excluded and reported as the secure round does",
    )
    agg.add_argument(
        "--seed",
        type=int,
        default=None,
        help="deterministic randomness from this seed "
        "(UNSAFE for real secrets; default: the OS CSPRNG)",
    )
    agg.add_argument(
        "--out",
        metavar="Z.npy",
        default=None,
        help="write the aggregate z (.npy format) at exactly this path",
    )
    agg.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a summary"
    )
    agg.add_argument(
        "--transcript",
        metavar="T",
        default=None,
        help="write the round's messages in the canonical transcript format (spec D7.3). In "
        "the two-server round the full transcript holds BOTH shares of every worker's input, "
        "so anyone with the file can reconstruct every input: keep it as secret as the "
        "inputs, or write one party's view with --transcript-view. With --protocol masks "
        "every message passes through the server: the full transcript is its view",
    )
    agg.add_argument(
        "--transcript-view",
        choices=TRANSCRIPT_VIEWS,
        default=None,
        help="with --transcript: the messages one party sent or received (spec D7.5): S0, S1 "
        "or dealer in the two-server round, S with --protocol masks; 'full' (default) is "
        "every message of every party",
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
    kappa.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines instead of a table: one JSON object per requested rule, one per "
        "line, in the order requested (read it line by line, not as one JSON document)",
    )
    sim = sub.add_parser(
        "simulate", help="train on digits with n workers, f Byzantine (the main job)"
    )
    sim.add_argument(
        "--out", required=True, metavar="DIR", help="write results.json, results.csv, accuracy.png"
    )
    sim.add_argument(
        "--grid",
        metavar="FILE.toml",
        help="a TOML grid of runs (format: docs/cli.md, 'sbrml simulate')",
    )
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
    sim.add_argument("--delta", type=float, default=None, help="DP delta (default 1e-5)")
    sim.add_argument(
        "--model",
        choices=("logreg", "mlp"),
        default=None,
        help="logistic regression (650 parameters, default) or a 32-unit MLP (2,410)",
    )
    sim.add_argument("-n", type=int, default=None, help="workers (default 10)")
    sim.add_argument("-f", type=int, default=None, help="Byzantine workers (default 2)")
    sim.add_argument(
        "--alpha", type=float, default=None, help="Dirichlet heterogeneity (default 1.0)"
    )
    sim.add_argument("--rounds", type=int, default=None, help="training rounds (default 40)")
    sim.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of data, batches and protocol draws (default 0)",
    )
    demo = sub.add_parser("demo", help="the self-contained example: n=9, f=2, two attackers")
    demo.add_argument("--dim", type=int, default=100_000, help="model dimension d (default 100000)")
    demo.add_argument(
        "--seed", type=int, default=1, help="seed of the synthetic updates (default 1)"
    )
    from sbrml.cli.net import add_parsers

    add_parsers(sub)
    return parser
