"""Tables of the rule library in the clear: every rule of the registry, and against ByzFL."""

from __future__ import annotations

from functools import partial
from typing import Any

import sbrml.optimized as opt
from sbrml.bench.common import median_time, updates
from sbrml.byzfl_baseline import PAIRS, Pair, compare, load_byzfl
from sbrml.core.errors import SpecError
from sbrml.rulespec import LIBRARY_SPECS, build_rule
from sbrml.tables import format_table

__all__ = ["bench_byzfl", "bench_rules"]


def bench_rules(shapes: list[tuple[int, int, int]], repeat: int) -> str:
    """Every rule in the clear on float64 inputs, and weights(D) at n = 100 (issue 5 targets)."""
    rows = []
    for n, d, f in shapes:
        x = updates(n, d, seed=n)
        for spec in LIBRARY_SPECS:
            rule_f = min(f, (n - 3) // 4) if spec == "bulyan" else f
            try:
                rule = build_rule(opt, spec, rule_f)
                rule.check_n(n)
            except SpecError as err:
                rows.append([f"{n} x {d:,}", spec, rule_f, "refused", "", f"{err.clause}"])
                continue
            rng = opt.DeterministicRandomSource(1)
            t_call, _ = median_time(partial(rule, x, rng=rng), repeat)
            t_weights: Any = ""
            if opt.is_distance_rule(rule) and n == 100:
                dist = opt.sq_distances(x)
                t_weights, _ = median_time(partial(rule.weights, dist, rng=rng), repeat)
            rows.append([f"{n} x {d:,}", spec, rule_f, t_call, t_weights, ""])
    return format_table(
        ["shape", "rule", "f", "rule(x) s", "weights(D) s at n=100", "note"],
        rows,
        title="Rule library, optimized tree, plaintext (target: weights(D) < 1 ms at n=100)",
    )


def _byzfl_row(b: Any, pair: Pair, x: Any, f: int, repeat: int) -> list[Any]:
    n, d = x.shape
    label = f"{n} x {d:,}"
    if pair.spec == "mda" and n > 20:
        return [label, pair.spec, f, "", "", "", "exhaustive: C(n, f) too large"]
    if pair.spec == "geomed":
        # Both sides run the same fixed number of steps here, for a like-for-like time.
        ours = build_rule(opt, "geomed", f, {"tol": 1e-300, "max_iter": 100})
        theirs = b.GeometricMedian(1e-6, 100)
        note = "100 Weiszfeld steps each"
    else:
        ours = pair.ours(n, f)

        def theirs(v: Any) -> Any:
            return pair.byzfl(b, n, f, v)

        note = f"max|diff| {compare(pair, x, f, b):.1e}"
    t_ours, _ = median_time(lambda: ours(x), repeat)
    t_theirs, _ = median_time(lambda: theirs(x), repeat)
    return [label, pair.spec, f, t_ours, t_theirs, t_theirs / t_ours, note]


def bench_byzfl(shapes: list[tuple[int, int, int]], repeat: int) -> str:
    """Ours against ByzFL's aggregators on the same float64 inputs, in this process.

    ByzFL needs PyTorch, which ``make bench`` installs (``make crosscheck-install``); without
    it the table says so and the other tables run.
    """
    try:
        b = load_byzfl()
    except ImportError as err:
        return f"ByzFL baseline: not run ({err})"
    rows: list[list[Any]] = []
    for n, d, f in shapes:
        x = updates(n, d)
        rows.extend(_byzfl_row(b, pair, x, f, repeat) for pair in PAIRS)
    return format_table(
        ["shape", "rule", "f", "sbrml s", "ByzFL s", "speed-up", "note"],
        rows,
        title="Rule library against ByzFL 0.0.11 (same float64 inputs, same process; "
        "target: speed-up >= 2)",
    )
