"""Comparing a user's rule or weight function with the reference (needs ``sbrml[testing]``).

The parts ``check_rule`` and ``check_weights`` share: how a user's output is read as a vector,
compared within a tolerance, diagnosed (Krum's other neighbour convention, C6.6) and checked
against the published robustness bound (C12.1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sbrml.core.errors import SpecError
from sbrml.robustness import PUBLISHED, empirical_kappa, published_bound
from sbrml.testing.arguments import described
from sbrml.testing.failures import (
    ConformanceError,
    Unreadable,
    call_user,
    read_user,
    short,
    type_name,
)
from sbrml.testing.rule_cases import (
    KRUM_FAMILY,
    clause_of,
    convention_note,
    default_rtol,
    reference_rule,
)
from sbrml.testing.uniformity import masked

__all__ = [
    "C6_8_NOTE",
    "SELECTIONS",
    "TIE_NOTE",
    "RuleCheck",
    "arguments",
    "byzfl_clause",
    "close",
    "other_convention",
    "swapped",
    "vector_out",
    "what_returned",
]


C6_8_NOTE = (
    "C6.8: the selection must be the exact distances' whenever the scores at the cut differ "
    "by more than 1.05e-9 relative, at any magnitude (float32, the Gram identity far from "
    "the origin and distances rescaled by their largest entry fail here)"
)
SELECTIONS = ("krum", "multikrum", "medoid")  # rules whose output is a mean of chosen rows
TIE_NOTE = "exact tie: the lower index must win (C6.4; C6.7 for a float D)"


def byzfl_clause(name: str, options: dict[str, Any]) -> str | None:
    """C6.6 for Krum and Multi-Krum in ByzFL's convention, whose neighbour count C6.6
    defines; None otherwise."""
    return "C6.6" if name in KRUM_FAMILY and options.get("convention") == "byzfl" else None


def arguments(name: str, f: int, options: dict[str, Any]) -> str:
    """``'krum', f=1, convention='byzfl'``: the rule as the helper was called."""
    return f"{name!r}, f={f}" + "".join(f", {k}={short(v)}" for k, v in options.items())


def other_convention(name: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """The options with Krum's other neighbour convention (C6.6), or None for other rules."""
    if name not in KRUM_FAMILY:
        return None
    current = options.get("convention", "blanchard")
    return {**options, "convention": "byzfl" if current == "blanchard" else "blanchard"}


def swapped(name: str, f: int, other: dict[str, Any] | None, run: Callable[[Any], Any]) -> Any:
    """``run(rule)`` for the rule with Krum's other convention, or None (no other convention,
    or that rule refuses this n: C6.3)."""
    if other is None:
        return None
    try:
        return run(reference_rule(name, f, other))
    except SpecError:
        return None


def close(expected: Sequence[float], got: Sequence[float], tolerance: float) -> bool:
    return len(expected) == len(got) and all(
        abs(e - g) <= tolerance for e, g in zip(expected, got, strict=True)
    )


def vector_out(out: Any, length: int) -> list[float] | None:
    """``out`` as a list of ``length`` floats, or None when it is not such a vector: its
    entries must be real numbers (NumPy kinds int, unsigned or float; strings, complex
    numbers, booleans and objects are not read as numbers). ``Unreadable`` for a masked array
    with a masked entry (its data there is no output). Whatever the object's own conversion
    raises besides TypeError and ValueError (``__array__`` of a tensor that requires grad,
    MemoryError, RecursionError) propagates: call it through ``failures.read_user``."""
    if isinstance(out, str | bytes):
        return None
    if masked(out):
        raise Unreadable("a masked array with masked entries: no output there")
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError):
        return None
    if arr.shape != (length,) or arr.dtype.kind not in "iuf":
        return None
    return [float(v) for v in arr]


def what_returned(out: Any) -> str:
    """``out`` described for a failure message, with a hint for the usual slips: a function
    returned (a factory passed for the rule) or None (a missing ``return``). Never raises:
    ``out``'s own code (a ``dtype`` property, ``__array__``) may."""
    if out is None:
        return "None: does your function return its result?"
    if callable(out):
        return (
            f"the function {described(out)}: your function returned a "
            "function; did you pass a factory (e.g. my_krum) instead of the rule (my_krum(f=1))?"
        )
    try:
        dtype = getattr(out, "dtype", None)
        if dtype is None and not isinstance(out, str | bytes):
            dtype = np.asarray(out).dtype
        kind = f", dtype {dtype}" if dtype is not None else ""
    except Exception:  # whatever the object or NumPy raises on reading it: no dtype to show
        kind = ""
    try:
        size = f" of shape {np.shape(out)}"
    except Exception:  # a ragged list, or an object NumPy cannot read: no shape to show
        size = ""
    return f"{type_name(out)}{size}{kind}: {short(out)}"


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
        self.label = f"check_rule({arguments(name, f, options)})"
        self.clause = byzfl_clause(name, options) or clause_of(name)

    def call(self, x: np.ndarray, where: str) -> list[float]:
        """The user's output on ``x`` (a copy: some implementations modify their input)."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        arg = x.tolist() if self.as_lists else x.copy()
        what = f"fn(x) of {self.name}"
        out = call_user(self.fn, arg, check=self.label, clause=self.clause, what=what, where=where)
        return read_user(
            lambda out: vector_out(out, x.shape[1]),
            out,
            check=self.label,
            clause="D6.1",
            what="a rule returns a vector of length d",
            where=where,
            expected=f"a vector of {x.shape[1]} real numbers",
            shown=what_returned,
        )

    def compare(
        self, x: np.ndarray, expected: Sequence[float], where: str, clause: str | None = None
    ) -> list[float]:
        """The user's output, raising ConformanceError unless it is ``expected``; ``clause``
        names the case's own clause: C6.4 for an exact tie, C6.8 for a hard input."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        got = self.call(x, where)
        # A selection's output is made of the selected rows: its error scales with them, not
        # with a far outlier's magnitude (1e100 would excuse any output).
        scale = np.abs(np.asarray(expected)) if self.name in SELECTIONS else np.abs(x)
        tolerance = self.rtol * max(1.0, float(np.max(scale)))
        if close(expected, got, tolerance):
            return got
        notes = []
        rows = x.tolist()
        picked = [i for i, row in enumerate(rows) if row == list(expected)]
        chosen = [i for i, row in enumerate(rows) if row == got]
        if picked and chosen:
            notes.append(f"got is x[{chosen[0]}]; the reference selects x[{picked[0]}]")
        other = other_convention(self.name, self.options)
        alternative = swapped(self.name, self.f, other, lambda rule: rule(rows))
        if alternative is not None and close(alternative, got, tolerance):
            convention = self.options.get("convention", "blanchard")
            notes.append(convention_note(len(rows), self.f, convention))
        of = "max |expected|" if self.name in SELECTIONS else "max |x|"
        notes.append(f"compared within {tolerance:.3g} ({self.rtol:g} of max(1, {of}))")
        if clause == "C6.4":
            notes.insert(0, TIE_NOTE)
        if clause == "C6.8":
            notes.insert(0, C6_8_NOTE)
        raise ConformanceError(
            self.label,
            clause or self.clause,
            f"the output differs from the reference's {self.name}",
            where,
            list(expected),
            got,
            notes,
            case=x.tolist(),
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
