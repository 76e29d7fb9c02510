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
from sbrml.robustness import PUBLISHED, empirical_kappa, published_bound
from sbrml.testing import strategies
from sbrml.testing.failures import ConformanceError, describe_matrix, short
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.rule_cases import (
    KRUM_FAMILY,
    clause_of,
    convention_note,
    default_rtol,
    normalized,
    reference_rule,
    selection_margin,
)
from sbrml.testing.vectors import cases

__all__ = ["check_rule", "check_weights"]

# Inputs closer than this to a tie of the selection (relative, C6.8) are not compared: a float
# implementation may choose either side there and still be right.
TIE_MARGIN = 1e-6
GENERATED_EXTRA_N = 3


def _arguments(name: str, f: int, options: dict[str, Any]) -> str:
    """``'krum', f=1, convention='byzfl'``: the rule as the helper was called."""
    return f"{name!r}, f={f}" + "".join(f", {k}={v!r}" for k, v in options.items())


def _other_convention(name: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The options with Krum's other neighbour convention (C6.6), or None for other rules."""
    if name not in KRUM_FAMILY:
        return None
    current = options.get("convention", "blanchard")
    return {**options, "convention": "byzfl" if current == "blanchard" else "blanchard"}


def _swapped(name: str, f: int, other: dict[str, Any] | None, run: Callable[[Any], Any]) -> Any:
    """``run(rule)`` for the rule with Krum's other convention, or None (no other convention,
    or that rule refuses this n: C6.3)."""
    if other is None:
        return None
    try:
        return run(reference_rule(name, f, other))
    except SpecError:
        return None


def _close(expected: Sequence[float], got: Sequence[float], tolerance: float) -> bool:
    return len(expected) == len(got) and all(
        abs(e - g) <= tolerance for e, g in zip(expected, got, strict=True)
    )


def _vector_out(out: Any, length: int) -> list[float] | None:
    """``out`` as a list of ``length`` floats, or None when it is not such a vector."""
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return [float(v) for v in arr] if arr.shape == (length,) else None


class RuleCheck:
    """One ``check_rule`` call: the user's function, the reference rule and the tolerances."""

    def __init__(
        self,
        fn: Callable[[Any], Any],
        name: str,
        f: int,
        options: dict[str, Any],
        rtol: float | None,
        as_lists: bool,
    ):
        self.fn, self.name, self.f, self.options, self.as_lists = fn, name, f, options, as_lists
        self.reference = reference_rule(name, f, options)
        self.rtol = default_rtol(name) if rtol is None else rtol
        self.label = f"check_rule({_arguments(name, f, options)})"
        self.clause = clause_of(name)

    def call(self, x: np.ndarray, where: str) -> list[float]:
        """The user's output on ``x`` (a copy: some implementations modify their input)."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        out = self.fn(x.tolist() if self.as_lists else x.copy())
        got = _vector_out(out, x.shape[1])
        if got is None:
            raise ConformanceError(
                self.label,
                "D6.1",
                "a rule returns a vector of length d",
                where,
                f"a vector of length {x.shape[1]}",
                f"{type(out).__name__} of shape {np.shape(out)}: {short(out)}",
            )
        return got

    def compare(self, x: np.ndarray, expected: Sequence[float], where: str) -> list[float]:
        """The user's output, raising ConformanceError unless it is ``expected``."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        got = self.call(x, where)
        tolerance = self.rtol * max(1.0, float(np.max(np.abs(x))))
        if _close(expected, got, tolerance):
            return got
        notes = []
        rows = x.tolist()
        picked = [i for i, row in enumerate(rows) if row == list(expected)]
        chosen = [i for i, row in enumerate(rows) if row == got]
        if picked and chosen:
            notes.append(f"got is x[{chosen[0]}]; the reference selects x[{picked[0]}]")
        other = _other_convention(self.name, self.options)
        alternative = _swapped(self.name, self.f, other, lambda rule: rule(rows))
        if alternative is not None and _close(alternative, got, tolerance):
            convention = self.options.get("convention", "blanchard")
            notes.append(convention_note(len(rows), self.f, convention))
        notes.append(f"compared within {tolerance:.3g} ({self.rtol:g} of max(1, max |x|))")
        raise ConformanceError(
            self.label,
            self.clause,
            f"the output differs from the reference's {self.name}",
            where,
            list(expected),
            got,
            notes,
        )

    def robust(self, x: np.ndarray, got: Sequence[float], where: str) -> bool:
        """C12.1: the output satisfies the rule's published (f, kappa) bound, if it has one;
        False when it has none."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        n = x.shape[0]
        if 2 * self.f >= n:
            return False
        bound = published_bound(self.name, n, self.f)
        if bound is None:
            return False
        kappa = empirical_kappa(np.asarray(got, dtype=np.float64), x, self.f)
        if kappa > bound * (1 + 1e-9):
            formula = PUBLISHED[self.name].formula if self.name in PUBLISHED else "NNM's bound"
            raise ConformanceError(
                self.label,
                "C12.1",
                f"the output breaks the published (f, kappa)-robustness bound {formula} (D12.1)",
                where,
                f"kappa <= {bound!r} (n={n}, f={self.f})",
                f"kappa = {kappa!r} (D12.3, over every S of size n - f)",
                [
                    "spec section 12 marks the bound unverified: if the reference's output "
                    "breaks it too, the finding is about the bound"
                ],
            )
        return True


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
       the rule's least ``n`` up, with and without outliers), against the reference's output;
       inputs within ``1e-6`` of a tie of the selection are skipped (C6.8);
    3. ``robustness``: on the same inputs, ``kappa_hat(fn(x), x) <=`` the rule's published
       bound (C12.1), for the rules spec section 12 gives one.

    ``rtol`` (relative to ``max(1, max |x|)``): 1e-9 for the rules that select and average,
    1e-5 for those that iterate. Returns a ``Checked`` saying what passed and what was
    skipped. Randomized rules (bucketing) cannot be compared and raise ValueError.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    try:
        stages(name)
    except KeyError:
        from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES

        raise ValueError(
            f"check_rule: unknown rule {name!r} (D6.7); a rule of {', '.join(RULE_ENTRIES)}, "
            f"optionally after pre-aggregations ({', '.join(PREAGGREGATION_ENTRIES)}) joined by "
            "'+', e.g. 'nnm+krum'"
        ) from None
    options = normalized(name, hyperparameters)
    if any(e.name == "bucketing" for e in stages(name)):
        raise ValueError(f"check_rule: {name!r} is randomized (D11.3): no output to compare")
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
                f"vectors: 06-rules.json has no case of {_arguments(name, f, options)}"
            )
    if not (generated or robustness):
        return result
    least = max(e.least_n(f) for e in stages(name))
    low_d = 2 if name.endswith("geomed") else 1  # on a line the median can be an interval
    strategy = strategies.inputs(n=(least, least + GENERATED_EXTRA_N), d=(low_d, 5), f=f)

    def body(x: np.ndarray) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        d = ref.sq_distances(x.tolist())
        assume(selection_margin(name, f, options, d) > TIE_MARGIN)
        where = f"{describe_matrix('x', x)}, generated (Hypothesis prints it whole)"
        if generated:
            got = check.compare(x, check.reference(x.tolist()), where)
            result.add("generated inputs")
        else:
            got = check.call(x, where)
        if robustness and check.robust(x, got, where):
            result.add("robustness (C12.1)")

    for_all(strategy, body, examples)
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
    ``D`` are exact ring integers) and ``generated`` Hypothesis matrices
    (``strategies.distance_matrices``, Euclidean, exact and float; float matrices near a tie
    are skipped, C6.8), each compared with the reference's weights within ``1e-12`` (``1e-5``
    for the float-weight rules). Exact ties follow C6.4 (lower index first).
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    options = normalized(name, hyperparameters)
    if not all(e.distance for e in stages(name)) or "bucketing" in name:
        raise ValueError(f"check_weights: {name!r} has no deterministic distance form (D6.1)")
    label = f"check_weights({_arguments(name, f, options)})"
    reference = reference_rule(name, f, options)
    tolerance = 1e-12 if default_rtol(name) < 1e-6 else 1e-5
    result = Checked(label)

    def compare(d: Sequence[Sequence[Any]], expected: Sequence[float], where: str) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        out = fn([list(r) for r in d] if as_lists else np.array(d))
        got = _vector_out(out, len(d))
        if got is not None and _close(expected, got, tolerance):
            return
        notes = []
        other = _other_convention(name, options)
        swapped = _swapped(name, f, other, lambda rule: rule.weights(d))
        if got is not None and swapped is not None and _close(swapped, got, tolerance):
            notes.append(convention_note(len(d), f, options.get("convention", "blanchard")))
        raise ConformanceError(
            label,
            clause_of(name),
            f"weights(D) differ from the reference's {name} weights (D6.1)",
            where,
            list(expected),
            got if got is not None else f"{short(out)}, not a vector of length {len(d)}",
            notes,
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
            result.skipped.append(f"vectors: no case of {_arguments(name, f, options)}")
    if generated:
        least = max(e.least_n(f) for e in stages(name))
        sizes = (least, least + GENERATED_EXTRA_N)
        strategy = st.booleans().flatmap(
            lambda exact: strategies.distance_matrices(n=sizes, exact=exact)
        )

        def body(d: list[list[float]]) -> None:
            __tracebackhide__ = True  # pytest shows the caller, not the kit
            # Exact Krum scores tie exactly, and C6.4 says which comes first; float scores (a
            # float D, or the medoid's square roots) may round a tie either way (C6.8, C10.5).
            floats = any(isinstance(v, float) for row in d for v in row)
            if floats or name not in KRUM_FAMILY:
                assume(selection_margin(name, f, options, d) > TIE_MARGIN)
            where = f"{describe_matrix('D', d)}, generated (Hypothesis prints it whole)"
            compare(d, reference.weights(d), where)
            result.add("generated matrices")

        for_all(strategy, body, examples)
    return result
