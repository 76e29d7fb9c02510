"""Helpers every aggregation mode uses: the random source, the rule from the options, the
effective values it reports and the public reason for a refused row."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sbrml.cli.errors import CliError
from sbrml.cli.parser import HYPERPARAMETERS
from sbrml.core.errors import SpecError
from sbrml.core.registry import ENTRIES
from sbrml.rulespec import RuleSpecError, build_rule, check_workers

# Stages in which f plays no part (it is informative only): a spec made of these alone runs
# without -f, at f = 0.
F_FREE = frozenset(name for name, entry in ENTRIES.items() if not entry.uses_f)


# What a seeded source makes reproducible, by mode: the secure protocols draw every share
# and mask from it; --plaintext has no shares, only the rule's own draws (bucketing).
SEED_EFFECT = {
    "secure": "UNSAFE for real secrets: anyone who knows the seed can reconstruct every share "
    "and so every input",
    "masks": "UNSAFE for real secrets: anyone who knows the seed can recompute every mask and "
    "Shamir share and so every input",
    "plaintext": "--plaintext sends no shares; the seed makes the rule's random draws (the "
    "buckets of bucketing) reproducible",
}


def check_seed(tree: Any, seed: int | None) -> None:
    """--seed is a valid DeterministicRandomSource seed (C2.2): checked before any work and
    before the warning that announces it."""
    if seed is not None:
        tree.DeterministicRandomSource(seed)


def pick_rng(tree: Any, seed: int | None, mode: str) -> Any:
    """SystemRandomSource, or a seeded source with a warning on stderr saying what the seed
    reproduces in ``mode`` (spec C2.1, C2.2)."""
    if seed is None:
        return tree.SystemRandomSource()
    source = tree.DeterministicRandomSource(seed)  # a bad seed raises before the warning
    print(f"sbrml: --seed {seed}: DeterministicRandomSource; {SEED_EFFECT[mode]}", file=sys.stderr)
    return source


def check_rule_text(option: str, text: str, spec: str) -> None:
    """The '+' syntax of one rule spec (D6.7) before its names are looked up, so that an
    empty stage is reported as what is missing rather than as an unknown rule ''.

    ``text`` is the option's whole value (a list for kappa and simulate), ``spec`` one item.
    """
    where = f"{option} {text!r}"
    if not spec.strip():
        raise CliError(f"{where}: a rule name is empty; give a rule such as krum or nnm+krum")
    stages = spec.split("+")
    if stages[-1] == "":
        raise CliError(
            f"{where}: the rule after the last '+' is missing (a composition ends with a rule, "
            f"e.g. {spec}krum)"
        )
    if stages[0] == "":
        raise CliError(f"{where}: nothing before the first '+' (e.g. nnm{spec})")
    if "" in stages:
        raise CliError(f"{where}: two '+' with nothing between them in {spec!r}")


def effective_f(tree: Any, args: argparse.Namespace) -> int:
    """-f, or 0 for a rule in which f plays no part (the mean, bucketing, clipping)."""
    if args.rule is None:
        raise CliError(
            "--rule is needed for the two-server round and for --plaintext "
            "(--protocol masks computes the mean without one)"
        )
    check_rule_text("--rule", args.rule, args.rule)
    if args.f is not None:
        return int(args.f)
    try:
        build_rule(tree, args.rule, 0)  # unknown names are reported before a missing -f
    except RuleSpecError as err:
        raise CliError(str(err)) from err
    if not set(args.rule.split("+")) <= F_FREE:
        raise CliError(f"--rule {args.rule} needs -f F, the number of Byzantine workers tolerated")
    return 0


def make_rule(tree: Any, args: argparse.Namespace, f: int, n: int) -> Any:
    """The rule object of the chosen tree from --rule, -f and the hyperparameter options,
    checked against the n rows it will receive (each stage's count named in the error)."""
    options = {name: getattr(args, name) for name in HYPERPARAMETERS}
    try:
        rule = build_rule(tree, args.rule, f, options)
    except RuleSpecError as err:
        raise CliError(str(err)) from err
    check_workers(rule, n)
    return rule


def effective_m(rule: Any, count: int) -> int | None:
    """The m Multi-Krum averages when it receives ``count`` rows through the pre-aggregations
    of ``rule`` (its default is n - f of what reaches it), or None for other rules."""
    while hasattr(rule, "pre"):
        count = rule.pre.output_count(count)
        rule = rule.rule
    if getattr(rule, "name", None) != "multikrum":
        return None
    return int(rule.m) if rule.m is not None else count - int(rule.f)


def rejected_reason(worker: int, err: SpecError) -> str:
    """What is published about a row refused in plaintext mode (C0.1): the worker, the
    function, the condition and the clause, never the value; the secure round's ``excluded``
    says the same with "before sharing" (nothing is shared here)."""
    return f"W{worker}: input rejected: {err.public_reason()}"
