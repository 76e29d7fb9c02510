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
from sbrml.core.errors import SpecError
from sbrml.core.registry import stages
from sbrml.testing import strategies
from sbrml.testing.arguments import (
    KitArgumentError,
    check_callable,
    check_float,
    check_int,
    refuse,
)
from sbrml.testing.failures import (
    ConformanceError,
    call_user,
    describe_matrix,
    message_of,
    short,
)
from sbrml.testing.fixed_cases import grid, int_distances, points
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.hard_cases import C6_8_GAP, rebuild, rule_inputs, weight_matrices
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

# The checks draw inputs of up to the rule's least n + 20 rows (Krum's least n is 2f + 3): an f
# above this makes each case thousands of rows, and f = 10^9 exhausted memory before the check
# could say anything. Implementations are checked at small f; larger f adds no clause.
MAX_F = 20

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


def _rule_options(
    check: str,
    fn: Any,
    name: Any,
    f: Any,
    examples: Any,
    options: dict[str, Any],
    *,
    weights: bool,
) -> Any:
    """``options`` normalized for the rule ``name``, after every argument is checked, before
    any case runs: ``fn`` callable, a known rule name (D6.7) that is not randomized (D11.3)
    and, for ``weights``, has a distance form (D6.1); ``f`` an int in [0, MAX_F = 20] and
    ``examples`` an int; each option
    one the rule takes, with a value the reference accepts (Multi-Krum's ``m`` at most the
    least ``n`` the check draws, C6.5). KitArgumentError (a ValueError) naming ``check``,
    the parameter and the value otherwise."""
    from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES, hyperparameter_owners

    check_callable(check, "fn", fn)
    check_int(check, "f", f, 0, MAX_F)
    check_int(check, "examples", examples, 1)
    try:
        entries = stages(name) if isinstance(name, str) else None
    except KeyError:
        entries = None
    if entries is None or entries[-1].role != "rule":
        names = (
            f"a rule of {', '.join(RULE_ENTRIES)}, optionally after pre-aggregations "
            f"({', '.join(PREAGGREGATION_ENTRIES)}) joined by '+', e.g. 'nnm+krum'"
        )
        if not isinstance(name, str):
            raise refuse(check, "name", f"a rule's name (D6.7), {names}", name)
        raise KitArgumentError(f"{check}: name: unknown rule {name!r} (D6.7); {names}")
    if any(e.name == "bucketing" for e in entries):
        raise KitArgumentError(f"{check}: {name!r} is randomized (D11.3): no output to compare")
    if weights and not all(e.distance for e in entries):
        raise KitArgumentError(f"{check}: {name!r} has no deterministic distance form (D6.1)")
    taken = {h.name for e in entries for h in e.hyperparameters}
    owners = hyperparameter_owners()
    for option, value in options.items():
        if option not in taken:
            where = ", ".join(owners[option][1]) + " only" if option in owners else "no rule"
            raise KitArgumentError(
                f"{check}: {option}={short(value)}: an option of {where}, not of {name!r} "
                f"(the options of {name!r}: {', '.join(sorted(taken)) or 'none'})"
            )
    least = _least_n(name, f)
    try:
        # A call on a small input also runs the call-time checks (Multi-Krum's m <= n, C6.5).
        reference_rule(name, f, options)([[float(i), 0.0] for i in range(least)])
    except (SpecError, ValueError, TypeError) as err:
        # ValueError and TypeError too: an option of the wrong type, or an int the reference
        # cannot print in its own message (beyond Python's digit limit), is refused as well.
        raise KitArgumentError(
            f"{check}: the reference refuses {arguments(name, f, options)} at the least n = "
            f"{least} the check draws: {message_of(err)}"
        ) from None
    return normalized(name, options)


def _least_n(name: str, f: int) -> int:
    """The least n the rule ``name`` accepts for ``f`` (C6.3 and the like)."""
    return max(e.least_n(f) for e in stages(name))


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
    unknown name.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    options = _rule_options("check_rule", fn, name, f, examples, hyperparameters, weights=False)
    rtol = (
        None if rtol is None else check_float("check_rule", "rtol", rtol, 0.0, RTOL_CAP, RTOL_WHY)
    )
    check = RuleCheck(fn, name, f, options, rtol, as_lists)
    result = Checked(check.label)
    if vectors:
        for k, case in enumerate(cases("06-rules")):
            if (case["rule"], case["f"]) != (name, f):
                continue
            if normalized(name, case["hyperparameters"]) != options:
                continue
            x = np.array(case["inputs"], dtype=np.float64)
            where = f"06-rules.json case {k} ({case['kind']!r}): {describe_matrix('x', x)}"
            check.compare(x, case["output"], where)
            result.add("vectors")
        if "vectors" not in result.counts:
            result.skipped.append(
                f"vectors: 06-rules.json has no case of {arguments(name, f, options)}"
            )
    if not (generated or robustness):
        return result
    least = _least_n(name, f)
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
    an unknown name or a rule without a deterministic distance form.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    options = _rule_options("check_weights", fn, name, f, examples, hyperparameters, weights=True)
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
        got = vector_out(out, len(d))
        if got is not None and close(expected, got, tolerance):
            return
        notes = []
        other = other_convention(name, options)
        alternative = swapped(name, f, other, lambda rule: rule.weights(d))
        if got is not None and alternative is not None and close(alternative, got, tolerance):
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
            got if got is not None else f"{what_returned(out)}; not a vector of length {len(d)}",
            notes,
            case=[list(row) for row in d],
        )

    if vectors:
        for k, case in enumerate(cases("06-rules")):
            same = (case["rule"], case["f"]) == (name, f)
            if same and normalized(name, case["hyperparameters"]) == options:
                where = f"06-rules.json case {k}: {describe_matrix('D', case['distances'])}"
                compare(case["distances"], case["weights"], where)
                result.add("vectors")
        for k, case in enumerate(cases("08-round")):
            hyper = normalized(name, {"m": case["m"]} if case["rule"] == "multikrum" else {})
            if (case["rule"], case["f"], hyper) == (name, f, options):
                where = f"08-round.json case {k}: {describe_matrix('D', case['distances'])}"
                compare(case["distances"], [case["weights"][i] for i in case["valid"]], where)
                result.add("vectors")
        if "vectors" not in result.counts:
            result.skipped.append(f"vectors: no case of {arguments(name, f, options)}")
    if not generated:
        return result
    least = _least_n(name, f)

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
