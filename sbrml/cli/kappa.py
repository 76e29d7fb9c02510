"""``sbrml kappa``: the worst (f, kappa)-robustness ratio found, beside the bounds.

``--json`` prints JSON Lines: one strict JSON object per requested rule, one per line, in
order (a stream of documents, not one JSON array; the existing contract), each field with one
type: ``rule`` (str), ``ran`` (bool), ``reason`` (str, why the rule did not run; null when it
ran), ``kappa_found`` (number; null when it did not run or when ``kappa_infinite``),
``kappa_infinite`` (bool: an input forced kappa = infinity), ``published_bound`` (number or
null when none is known), ``lower_bound`` (number), ``verdict`` (str, "" when there is no
bound to compare with), and the effective search values ``n``, ``f``, ``m`` (the Multi-Krum m
used, n - f by default; null for other rules), ``dim``, ``restarts``, ``steps``, ``seed``.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from sbrml.cli import progress
from sbrml.cli.common import check_rule_text, effective_m
from sbrml.cli.errors import CliError
from sbrml.cli.resources import check_memory, kappa_needs
from sbrml.core.errors import SpecError
from sbrml.rulespec import LIBRARY_SPECS, RuleSpecError, build_rule, check_workers


def check_search(args: argparse.Namespace) -> None:
    """n, f and the search sizes, before any search."""
    if args.n < 1 or args.f < 0 or 2 * args.f >= args.n:
        raise CliError(f"kappa: need 0 <= f < n/2 (spec D12.1); got n={args.n}, f={args.f}")
    for flag, value in (
        ("--dim", args.dim),
        ("--restarts", args.restarts),
        ("--steps", args.steps),
    ):
        if value < 1:
            raise CliError(f"kappa: {flag} must be >= 1; got {value}")
    if args.seed < 0:
        raise CliError(f"kappa: --seed must be >= 0 (a NumPy seed); got {args.seed}")


def applicable(specs: list[str], args: argparse.Namespace) -> dict[str, str]:
    """Why each requested spec that cannot run at this n and f does not: its condition and
    clause (item 20: every requested rule is listed, with why it did not run).

    A spec that is not a rule (an unknown name) is a usage error; so is a request of which
    no rule can run, since there is nothing to search (each rule's own message is given).
    """
    import sbrml.optimized as opt

    reasons: dict[str, str] = {}
    errors: list[str] = []
    for spec in specs:
        try:
            check_workers(build_rule(opt, spec, args.f), args.n)
        except RuleSpecError as err:
            raise CliError(f"kappa: --rule {args.rule}: {err}") from err
        except SpecError as err:
            reasons[spec] = f"{err.condition} ({err.clause})"
            errors.append(str(err))
    if reasons and len(reasons) == len(specs):
        raise CliError(
            f"kappa: no requested rule can run at n={args.n}, f={args.f}: " + "; ".join(errors)
        )
    return reasons


def check_search_memory(specs: list[str], args: argparse.Namespace) -> None:
    """The memory one rule's search needs (its inputs and what one call of the rule builds,
    e.g. Krum's n x n distances), checked before the first search; the rules run one after
    the other, so the largest need counts."""
    import sbrml.optimized as opt

    needs = [(kappa_needs(build_rule(opt, s, args.f), n=args.n, dim=args.dim), s) for s in specs]
    if needs:
        (need, detail), spec = max(needs)
        check_memory(f"kappa --rule {spec} at n={args.n}, --dim {args.dim}", need, detail)


def json_row(row: list[Any] | None, spec: str, reason: str | None, args: argparse.Namespace) -> str:
    """One strict JSON line (no Infinity, one type per field)."""
    import sbrml.optimized as opt
    from sbrml.robustness import lower_bound, published_bound

    found = None if row is None else float(row[1])
    bound = published_bound(spec, args.n, args.f)
    m = None if reason else effective_m(build_rule(opt, spec, args.f), args.n)
    obj = {
        "rule": spec,
        "ran": row is not None,
        "reason": None
        if reason is None
        else f"not applicable at n={args.n}, f={args.f}: needs {reason}",
        "kappa_found": found if found is not None and math.isfinite(found) else None,
        "kappa_infinite": found is not None and math.isinf(found),
        "published_bound": bound,
        "lower_bound": lower_bound(args.n, args.f),
        "verdict": "" if row is None else str(row[4]),
        "n": args.n,
        "f": args.f,
        "m": m,
        "dim": args.dim,
        "restarts": args.restarts,
        "steps": args.steps,
        "seed": args.seed,
    }
    return json.dumps(obj, allow_nan=False)


def run_kappa(args: argparse.Namespace) -> str:
    """``sbrml kappa``: the worst empirical kappa found, beside the published and lower bounds."""
    from sbrml.robustness import kappa_table, search_units
    from sbrml.tables import format_table

    check_search(args)
    specs = list(LIBRARY_SPECS) if args.rule == "all" else args.rule.split(",")
    for spec in specs:
        check_rule_text("--rule", args.rule, spec)
    skipped = applicable(specs, args)
    runnable = [s for s in specs if s not in skipped]
    check_search_memory(runnable, args)
    total = len(runnable) * search_units(args.restarts, args.steps)
    show = progress.enabled(json_output=args.json)
    with progress.bar(total, f"kappa search, n={args.n}, f={args.f}", show=show) as bar:
        rows = kappa_table(
            runnable,
            args.n,
            args.f,
            dim=args.dim,
            restarts=args.restarts,
            steps=args.steps,
            seed=args.seed,
            progress=bar.update,
        )
    by_spec = dict(zip(runnable, rows, strict=True))
    if args.json:
        return "\n".join(json_row(by_spec.get(s), s, skipped.get(s), args) for s in specs)
    title = (
        f"Worst empirical kappa found (n={args.n}, f={args.f}, d={args.dim}, "
        f"{args.restarts} restarts x {args.steps} steps, seed {args.seed})"
    )
    table = format_table(
        ["rule", "kappa found", "published bound", "lower bound f/(n-2f)", "verdict"],
        rows,
        title=title,
    )
    left_out = "; ".join(f"{s} ({r})" for s, r in skipped.items())
    return table + (f"\nnot applicable at this n, f: {left_out}" if skipped else "")
