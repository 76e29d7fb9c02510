"""What the kit knows about the rules in the clear, and the vectors of ``06-rules.json``.

Standard library and the reference tree only (the vectors are generated from it). For each
rule name of the registry (D6.7): the spec item that defines it, the tolerance within which
another implementation's output counts as equal, how far an input is from a tie of the rule's
selection (where float implementations may legitimately choose differently, C6.8), and a
short description of Krum's two neighbour conventions (C6.6) for failure messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sbrml.reference as ref
from sbrml.core.registry import stages
from sbrml.reference.rules import CONVENTIONS, krum_scores
from sbrml.rulespec import build_rule

__all__ = [
    "KRUM_FAMILY",
    "VECTOR_SPECS",
    "clause_of",
    "convention_note",
    "default_rtol",
    "normalized",
    "reference_rule",
    "rule_vectors",
    "selection_margin",
]

KRUM_FAMILY = ("krum", "multikrum")
# Rules whose plaintext output a float implementation computes from the same selection: equal
# to rounding. Float rules (an iteration, eigenvectors) agree only to their own tolerance.
EXACT_RTOL = 1e-9
FLOAT_RTOL = 1e-5


def clause_of(spec: str) -> str:
    """The spec item defining the rule of ``spec`` (its last stage): ``"D6.3"`` for krum."""
    return stages(spec)[-1].definition


def default_rtol(spec: str) -> float:
    """The tolerance of a differential comparison, relative to the input's largest entry:
    rounding for the rules that select and average, FLOAT_RTOL for those that iterate or
    take eigenvectors (float weights, D6.1; centered clipping)."""
    iterates = any(e.weights == "float" or e.name == "cc" for e in stages(spec))
    return FLOAT_RTOL if iterates else EXACT_RTOL


def normalized(spec: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the ones equal to the registry's defaults (or None), so that
    ``{"convention": "blanchard"}`` and ``{}`` name the same rule."""
    defaults = {h.name: h.default for e in stages(spec) for h in e.hyperparameters}
    return {k: v for k, v in options.items() if v is not None and defaults.get(k, object()) != v}


def reference_rule(spec: str, f: int, options: dict[str, Any]) -> Any:
    """The reference tree's rule object for ``spec`` (D6.7)."""
    return build_rule(ref, spec, f, options)


def neighbours(n: int, f: int, convention: str) -> int:
    """How many neighbours a Krum score sums: n - f - 2 (D6.3) or n - f - 1 (C6.6)."""
    return n - f - CONVENTIONS[convention]


def convention_note(n: int, f: int, convention: str) -> str:
    """One line on Krum's two conventions at this n and f, the other one named first."""
    other = "byzfl" if convention == "blanchard" else "blanchard"
    where = {"blanchard": "D6.3, Blanchard et al.", "byzfl": "C6.6, ByzFL"}
    offset = {"blanchard": "n - f - 2", "byzfl": "n - f - 1"}
    return (
        f"got is what convention={other!r} gives: scores over {offset[other]} = "
        f"{neighbours(n, f, other)} neighbours ({where[other]}), where convention="
        f"{convention!r} sums {offset[convention]} = {neighbours(n, f, convention)} "
        f"({where[convention]}); pass convention={other!r} if that is your convention"
    )


def _gap(scores: Sequence[Any], m: int) -> float:
    """The relative gap between the m-th and (m+1)-th smallest scores (inf when m = n)."""
    ordered = sorted(scores)
    if m >= len(ordered):
        return math.inf
    low, high = ordered[m - 1], ordered[m]
    return float((high - low) / high) if high else 0.0


def selection_margin(
    spec: str, f: int, options: dict[str, Any], d: Sequence[Sequence[Any]]
) -> float:
    """How far the distances ``d`` are from a tie at the cut of the rule's selection,
    relative (C6.8): where float implementations may legitimately choose differently.

    Krum and Multi-Krum: the gap between the m-th and (m+1)-th scores; the medoid: between
    the two lowest. inf for a rule whose selection is not measured here (the coordinate-wise
    rules have no selection to tie; compositions and MDA are not measured).
    """
    if spec in KRUM_FAMILY:
        offset = CONVENTIONS[options.get("convention", "blanchard")]
        m = 1 if spec == "krum" else options.get("m") or len(d) - f
        return _gap(krum_scores(d, f, offset), m)
    if spec == "medoid":
        return _gap([math.fsum(math.sqrt(v) for v in row) for row in d], 1)
    return math.inf


# --- The vectors of 06-rules.json -----------------------------------------------------------

VECTOR_SPECS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mean", {}),
    ("median", {}),
    ("trimmed-mean", {}),
    ("meamed", {}),
    ("krum", {}),
    ("krum", {"convention": "byzfl"}),
    ("multikrum", {}),
    ("multikrum", {"m": 3}),
    ("multikrum", {"convention": "byzfl"}),
    ("medoid", {}),
    ("mda", {}),
    ("bulyan", {}),
    ("nnm+mean", {}),
    ("nnm+krum", {}),
)
# Inputs are multiples of 1/64 in [-2, 2] (outliers near 20): every distance is then an exact
# double, so an implementation computing in float64 sees the exact D.
GRID = 64
MARGIN = 1e-3


def _draw_rows(rng: ref.RandomSource, rows: int, d: int, offset: int) -> list[list[float]]:
    return [
        [(ref.uniform_below(rng, 4 * GRID + 1) - 2 * GRID + offset) / GRID for _ in range(d)]
        for _ in range(rows)
    ]


def _clear_of_ties(x: list[list[float]], f: int) -> bool:
    """Whether every Krum-family and medoid selection of the vectors is far from a tie."""
    d = ref.sq_distances(x)
    return all(
        selection_margin(spec, f, options, d) > MARGIN
        for spec, options in VECTOR_SPECS
        if spec in (*KRUM_FAMILY, "medoid")
    )


def _inputs(rng: ref.RandomSource, n: int, f: int, d: int, kind: str) -> list[list[float]]:
    """The first draw of ``kind`` whose selections are clear of ties (and, for
    ``conventions``, on which Krum's two conventions select different rows)."""
    while True:
        if kind == "outliers":
            x = _draw_rows(rng, n - f, d, 0) + _draw_rows(rng, f, d, 20 * GRID)
        else:
            x = _draw_rows(rng, n, d, 0)
        if not _clear_of_ties(x, f):
            continue
        if kind != "conventions":
            return x
        krum = [reference_rule("krum", f, {"convention": c})(x) for c in CONVENTIONS]
        if krum[0] != krum[1]:
            return x


def _exact_float(v: Fraction) -> float:
    out = float(v)
    if out != v:  # the grid makes this impossible; a changed grid must not pass silently
        raise ValueError(f"distance {v} is not an exact double")
    return out


def rule_vectors(seed: int) -> list[dict[str, Any]]:
    """The cases of 06-rules.json: every rule of VECTOR_SPECS on three inputs for f = 1 and
    f = 2 (n = 4f + 3, d = 3), drawn from ``DeterministicRandomSource(seed)``."""
    rng = ref.DeterministicRandomSource(seed)
    cases: list[dict[str, Any]] = []
    for f in (1, 2):
        n = 4 * f + 3
        for kind in ("honest", "outliers", "conventions"):
            x = _inputs(rng, n, f, 3, kind)
            exact = ref.sq_distances(x)
            d = [[_exact_float(v) for v in row] for row in exact]
            for spec, options in VECTOR_SPECS:
                rule = reference_rule(spec, f, options)
                distance = all(e.distance for e in stages(spec))
                cases.append(
                    {
                        "rule": spec,
                        "f": f,
                        "hyperparameters": options,
                        "clause": clause_of(spec),
                        "kind": kind,
                        "inputs": x,
                        "distances": d,
                        "weights": rule.weights(exact) if distance else None,
                        "output": rule(x),
                    }
                )
    return cases
