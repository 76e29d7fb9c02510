"""Checks of a user's rule and weight function against the reference (needs ``sbrml[testing]``).

``check_rule`` and ``check_weights`` are re-exported by ``sbrml.testing.checks``; see there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import sbrml.reference as ref
from sbrml.testing import strategies
from sbrml.testing.arguments import check_bool, check_float
from sbrml.testing.failures import ConformanceError, call_user, describe_matrix, read_user
from sbrml.testing.fixed_cases import grid, int_distances, points
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.hard_cases import C6_8_GAP, rebuild, rule_inputs, weight_matrices
from sbrml.testing.rule_arguments import check_flags, least_n, rule_options
from sbrml.testing.rule_cases import (
    KRUM_FAMILY,
    clause_of,
    convention_note,
    default_rtol,
    normalized,
    reference_rule,
    selection_margin,
)
from sbrml.testing.rule_compare import (
    C6_8_NOTE,
    TIE_NOTE,
    RuleCheck,
    arguments,
    byzfl_clause,
    close,
    other_convention,
    swapped,
    vector_out,
    what_returned,
)
from sbrml.testing.vectors import cases

__all__ = ["check_rule", "check_weights"]

# Inputs closer than this to a tie of the selection (relative) are not compared: C6.8 lets a
# float implementation choose either side there, and only there.
TIE_MARGIN = C6_8_GAP
# Hypothesis draws n from the rule's least n to EXTRA_N more and d up to MAX_D; the fixed cases
# (fixed_cases) reach LARGE_N more rows, LARGE_D coordinates, and exact ties (C6.4) at
# TIE_EXTRA_N more rows than the least n. Measured: a default check_rule runs in about a
# second on the trees.
EXTRA_N = 6
MAX_D = 8
LARGE_N = 12
LARGE_D = 256
TIE_EXTRA_N = (0, 1, 2, 5)
# A tolerance above this accepts a wrong output: honest rows lie within [-1, 1] (or a
# thousandth of the round's bound), so a rule returning zeros is within 1e-2 of many inputs'
# outputs; the defaults are 1e-9 and 1e-5 (rule_cases.default_rtol).
RTOL_CAP = 1e-3
RTOL_WHY = "above 1e-3 an output of zeros can pass; the defaults are 1e-9 and 1e-5"
SEEDS = 20  # seeds tried for a fixed input clear of a near tie (C6.8)


def _fixed_where(seed: int, n: int, d: int, kind: str, outliers: int, form: str = "x") -> str:
    """How to rebuild a fixed case, as one line of Python (``outliers``: how many of the last
    rows are Byzantine, not the rule's f)."""
    expr = rebuild(seed, n, d, kind, outliers)
    make = f"grid({expr})" if form == "x" else f"int_distances({expr})"
    imports = "from sbrml.testing.fixed_cases import grid, int_distances, points"
    return f"fixed case {form} = {make} ({imports})"


def check_rule(
    fn: Callable[[Any], Any],
    name: str,
    *,
    f: int,
    examples: int = 50,
    vectors: bool = True,
    generated: bool = True,
    robustness: bool = True,
    rtol: float | None = None,
    as_lists: bool = False,
    **hyperparameters: Any,
) -> Checked:
    """Check a rule in the clear, ``fn(x) -> z``, against the reference rule ``name`` (D6.7).

    ``x`` is an ``n x d`` float64 NumPy array (a list of lists with ``as_lists``), a copy per
    call; ``z`` anything NumPy reads as a vector of length ``d`` (D6.1). ``hyperparameters``
    are the rule's options other than ``f`` (``m``, ``convention`` for Krum's neighbour
    count: ``"blanchard"``, ``n - f - 2``, D6.3, the default, or ``"byzfl"``, ``n - f - 1``,
    C6.6). Three parts, each raising ``ConformanceError`` (clause, input, expected, got):

    1. ``vectors``: every case of ``06-rules.json`` with this rule, ``f`` and options, exactly
       (to ``rtol``);
    2. ``generated``: up to ``examples`` Hypothesis inputs (``strategies.inputs``, ``n`` from
       the rule's least ``n`` to 6 more, ``d`` up to 8, with and without outliers), then the
       fixed cases of ``sbrml.testing.fixed_cases`` (``n`` 12 more than the least and ``d``
       16; ``d`` 256; and exact ties, C6.4: mirrored rows at the least ``n`` and 1, 2 and 5
       more, duplicated rows), against the reference's output; Hypothesis inputs within
       ``1e-6`` of a tie of the selection are skipped (C6.8), the fixed ties are not: their
       scores tie exactly, in floats too, and the lower index MUST win (C6.4, C6.7);
    3. ``robustness``: on the same inputs, ``kappa_hat(fn(x), x) <=`` the rule's published
       bound (C12.1), for the rules spec section 12 gives one.

    ``rtol`` (relative to ``max(1, max |x|)``): 1e-9 for the rules that select and average,
    1e-5 for those that iterate. An exception raised by ``fn`` is a ConformanceError naming the
    rule's clause and the input. Returns a ``Checked`` saying what passed and what was
    skipped. Randomized rules (bucketing) cannot be compared and raise ValueError, as does an
    unknown name. KitArgumentError (a ValueError) before any case, too, for ``vectors``,
    ``generated``, ``robustness`` or ``as_lists`` not a bool, ``examples`` outside ``[1,
    10^6]``, and options that leave nothing to check (``generated=False`` with no vector case
    to run, by ``vectors=False`` or none for these arguments, and no published bound to test,
    by ``robustness=False`` or none for the rule): such a check would pass having checked
    nothing.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    f, examples, options = rule_options(
        "check_rule", fn, name, f, examples, hyperparameters, weights=False
    )
    rtol = (
        None if rtol is None else check_float("check_rule", "rtol", rtol, 0.0, RTOL_CAP, RTOL_WHY)
    )
    found = [
        (k, case)
        for k, case in enumerate(cases("06-rules"))
        if (case["rule"], case["f"]) == (name, f)
        and normalized(name, case["hyperparameters"]) == options
    ]
    flags = {"generated": generated, "robustness": robustness, "as_lists": as_lists}
    check_bool("check_rule", "vectors", vectors)
    check_flags("check_rule", name, f, options, vectors=vectors and len(found), **flags)
    check = RuleCheck(fn, name, f, options, rtol, as_lists)
    result = Checked(check.label)
    if vectors:
        for k, case in found:
            x = np.array(case["inputs"], dtype=np.float64)
            where = f"06-rules.json case {k} ({case['kind']!r}): {describe_matrix('x', x)}"
            check.compare(x, case["output"], where)
            result.add("vectors")
        if not found:
            result.skipped.append(
                f"vectors: 06-rules.json has no case of {arguments(name, f, options)}"
            )
    if not (generated or robustness):
        return result
    least = least_n(name, f)
    low_d = 2 if name.endswith("geomed") else 1  # on a line the median can be an interval

    def margin(x: np.ndarray) -> float:
        return selection_margin(name, f, options, ref.sq_distances(x.tolist()))

    def run_case(x: np.ndarray, where: str, part: str, clause: str | None = None) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        if generated:
            got = check.compare(x, check.reference(x.tolist()), where, clause)
            result.add(part)
        else:
            got = check.call(x, where)
        if robustness and check.robust(x, got, where):
            result.add("robustness (C12.1)")

    def body(x: np.ndarray) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        assume(margin(x) > TIE_MARGIN)
        run_case(
            x,
            f"{describe_matrix('x', x)}, generated (Hypothesis prints it whole)",
            "generated inputs",
        )

    strategy = strategies.inputs(n=(least, least + EXTRA_N), d=(low_d, MAX_D), f=f)
    for_all(strategy, body, examples)
    for n, d in ((least + LARGE_N, 16), (least + 1, LARGE_D)):
        for seed in range(SEEDS):
            x = grid(points(seed, n, d, f=f))
            if margin(x) > TIE_MARGIN:
                run_case(
                    x,
                    f"{describe_matrix('x', x)}, {_fixed_where(seed, n, d, 'plain', f)}",
                    "fixed inputs",
                )
                break
        else:
            result.skipped.append(f"the {n} x {d} fixed inputs: every seed is near a tie")
    ties = [(least + k, "mirrored") for k in TIE_EXTRA_N] + [(least + 1, "duplicated")]
    for n, kind in ties:
        x = grid(points(0, n, 3, kind))
        where = f"{describe_matrix('x', x)}, {_fixed_where(0, n, 3, kind, 0)}"
        run_case(x, where, "fixed inputs", "C6.4")
    for x, how, always in rule_inputs(name, f, options, least):
        if always or margin(x) > TIE_MARGIN:
            where = f"{describe_matrix('x', x)}, x = {how}"
            run_case(x, where, "hard inputs (C6.8)", "C6.8")
    if robustness and "robustness (C12.1)" not in result.counts:
        result.skipped.append(f"robustness: spec section 12 records no bound for {name}")
    return result


def check_weights(
    fn: Callable[[Any], Any],
    name: str,
    *,
    f: int,
    examples: int = 50,
    vectors: bool = True,
    generated: bool = True,
    as_lists: bool = False,
    **hyperparameters: Any,
) -> Checked:
    """Check a weight function on distances, ``fn(D) -> p``, against the reference rule
    ``name``'s ``weights`` (D6.1, D6.2).

    ``D`` is an ``n x n`` NumPy array (int64 for exact distances, float64 otherwise; a list of
    lists with ``as_lists``); ``p`` anything NumPy reads as a vector of length ``n``. Checked:
    ``vectors`` (the cases of ``06-rules.json`` and the rounds of ``08-round.json``, whose
    ``D`` are exact ring integers) and ``generated``: Hypothesis matrices
    (``strategies.distance_matrices``, Euclidean, exact and float, ``n`` from the rule's least
    ``n`` to 6 more; float matrices near a tie are skipped, C6.8), then the fixed cases of
    ``sbrml.testing.fixed_cases``, exact and as floats (``n`` 20 more than the least; exact
    ties, C6.4: the distances of mirrored points at the least ``n`` and 1, 2 and 5 more, and
    of duplicated points, where the lower index MUST win, C6.4, C6.7), each compared with the
    reference's weights within ``1e-12`` (``1e-5`` for the float-weight rules). An exception
    raised by ``fn`` is a ConformanceError naming the rule's clause and ``D``. ValueError for
    an unknown name or a rule without a deterministic distance form; KitArgumentError (a
    ValueError) before any case for ``vectors``, ``generated`` or ``as_lists`` not a bool,
    ``examples`` outside ``[1, 10^6]``, and ``generated=False`` with no vector case to run
    (nothing to check).
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    f, examples, options = rule_options(
        "check_weights", fn, name, f, examples, hyperparameters, weights=True
    )
    label = f"check_weights({arguments(name, f, options)})"
    reference = reference_rule(name, f, options)
    tolerance = 1e-12 if default_rtol(name) < 1e-6 else 1e-5
    result = Checked(label)

    clause = byzfl_clause(name, options) or clause_of(name)

    def compare(
        d: Sequence[Sequence[Any]], expected: Sequence[float], where: str, case: str = ""
    ) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        arg = [list(r) for r in d] if as_lists else np.array(d)
        what = f"fn(D) of {name}"
        out = call_user(fn, arg, check=label, clause=clause, what=what, where=where)
        got = read_user(
            lambda out: vector_out(out, len(d)),
            out,
            check=label,
            clause=clause,
            what=f"fn(D) of {name} returns a vector of length n (D6.1)",
            where=where,
            expected=f"a vector of {len(d)} real numbers",
            shown=lambda out: f"{what_returned(out)}; not a vector of length {len(d)}",
        )
        if close(expected, got, tolerance):
            return
        notes = []
        other = other_convention(name, options)
        alternative = swapped(name, f, other, lambda rule: rule.weights(d))
        if alternative is not None and close(alternative, got, tolerance):
            notes.append(convention_note(len(d), f, options.get("convention", "blanchard")))
        floats = any(isinstance(v, float) for row in d for v in row)
        if case == "tie":
            notes.insert(0, TIE_NOTE)
        elif case == "C6.8":
            notes.insert(0, C6_8_NOTE)
        raise ConformanceError(
            label,
            {"tie": "C6.7" if floats else "C6.4", "C6.8": "C6.8"}.get(case, clause),
            f"weights(D) differ from the reference's {name} weights (D6.1)",
            where,
            list(expected),
            got,
            notes,
            case=[list(row) for row in d],
        )

    # Each vector case as (file, index, D, expected weights).
    found = [
        ("06-rules", k, case["distances"], case["weights"])
        for k, case in enumerate(cases("06-rules"))
        if (case["rule"], case["f"]) == (name, f)
        and normalized(name, case["hyperparameters"]) == options
    ] + [
        ("08-round", k, case["distances"], [case["weights"][i] for i in case["valid"]])
        for k, case in enumerate(cases("08-round"))
        if (case["rule"], case["f"]) == (name, f)
        and normalized(name, {"m": case["m"]} if case["rule"] == "multikrum" else {}) == options
    ]
    check_bool("check_weights", "vectors", vectors)
    found_count = vectors and len(found)
    flags = {"generated": generated, "as_lists": as_lists}
    check_flags("check_weights", name, f, options, vectors=found_count, **flags)
    if vectors:
        for file, k, d, expected in found:
            compare(d, expected, f"{file}.json case {k}: {describe_matrix('D', d)}")
            result.add("vectors")
        if not found:
            result.skipped.append(f"vectors: no case of {arguments(name, f, options)}")
    if not generated:
        return result
    least = least_n(name, f)

    def near_tie(d: list[list[Any]]) -> bool:
        # Exact Krum scores tie exactly, and C6.4 says which comes first; float scores (a
        # float D, or the medoid's square roots) may round a tie either way (C6.8, C10.5).
        floats = any(isinstance(v, float) for row in d for v in row)
        return (floats or name not in KRUM_FAMILY) and not (
            selection_margin(name, f, options, d) > TIE_MARGIN
        )

    def body(d: list[list[Any]]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        assume(not near_tie(d))
        where = f"{describe_matrix('D', d)}, generated (Hypothesis prints it whole)"
        compare(d, reference.weights(d), where)
        result.add("generated matrices")

    sizes = (least, least + EXTRA_N)
    strategy = st.booleans().flatmap(
        lambda exact: strategies.distance_matrices(n=sizes, exact=exact)
    )
    for_all(strategy, body, examples)
    fixed = [(least + 20, "plain")] + [(least + k, "mirrored") for k in TIE_EXTRA_N]
    for n, kind in [*fixed, (least + 1, "duplicated")]:
        exact = int_distances(points(0, n, 3, kind))
        for d in (exact, [[float(v) for v in row] for row in exact]):
            if kind == "plain" and near_tie(d):
                result.skipped.append(f"the fixed {kind} D of n = {n}: near a tie")
                continue
            form = "D" if d is exact else "D (as floats)"
            where = f"{describe_matrix('D', d)}, {_fixed_where(0, n, 3, kind, 0, form)}"
            compare(d, reference.weights(d), where, "tie" if kind != "plain" else "")
            result.add("fixed matrices")
    for d, how in weight_matrices(name, f, options, least):
        compare(d, reference.weights(d), f"{describe_matrix('D', d)}, D = {how} (C6.8)", "C6.8")
        result.add("hard matrices (C6.8)")
    return result
