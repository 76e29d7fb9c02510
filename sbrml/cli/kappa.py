"""``sbrml kappa``: the worst (f, kappa)-robustness ratio found, beside the bounds."""

from __future__ import annotations

import argparse
import json

from sbrml.cli.errors import CliError
from sbrml.reference.errors import SpecError
from sbrml.rulespec import LIBRARY_SPECS, RuleSpecError, build_rule


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
