"""Helpers every aggregation mode uses: the random source and the rule from the options."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sbrml.cli.errors import CliError
from sbrml.cli.parser import HYPERPARAMETERS
from sbrml.rulespec import RuleSpecError, build_rule


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


def make_rule(tree: Any, args: argparse.Namespace) -> Any:
    """The rule object of the chosen tree, from --rule and its hyperparameter options."""
    options = {name: getattr(args, name) for name in HYPERPARAMETERS}
    try:
        return build_rule(tree, args.rule, args.f, options)
    except RuleSpecError as err:
        raise CliError(str(err)) from err
