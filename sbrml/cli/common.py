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


def effective_f(tree: Any, args: argparse.Namespace) -> int:
    """-f, or 0 for a rule in which f plays no part (the mean, bucketing, clipping)."""
    if args.rule is None:
        raise CliError(
            "--rule is needed for the two-server round and for --plaintext "
            "(--protocol masks computes the mean without one)"
        )
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
    """What is published about a row its worker refused (C0.1): the worker, the condition and
    the clause, never the value; the same words as the secure round's ``excluded``."""
    return f"W{worker}: input rejected before sharing: {err.public_reason()}"
