"""Inputs on which float shortcuts choose wrongly (C6.8), for ``check_rule``/``check_weights``.

Part of the conformance kit's pytest helpers (needs ``sbrml[testing]``). C6.8 asks a rule in
the clear to select what the exact distances select whenever the scores at the cut differ by
more than ``1.05e-9`` relative, whatever the magnitudes of the inputs. Implementations that
compute distances in float32, by the Gram identity ``|a|^2 + |b|^2 - 2 a.b`` (cancellation
far from the origin) or rescaled by their largest entry pass on small centred inputs and fail
on these, all built from fixed seeds:

- ``translated(seed, n, d, centre)``: plain points of spread 1 moved to ``centre`` in every
  coordinate (every entry an exact double; the exact distances are those of the untranslated
  points);
- ``C6_8_EXAMPLE``: C6.8's own ``[[0], [1e8+5], [1e8+3], [1e8+3], [1e8+1]]`` (Krum, f = 1,
  selects ``1e8+3``);
- ``far_outliers(seed, n, d, f)``: plain points whose last ``f`` rows are ``1e100`` away;
- ``near_tie(name, f, options, least)``: integer points of span ``2^29`` (squared distances
  near ``2^60``), mirrored so that two rows at the rule's cut tie exactly, then one of them
  moved by a few units so that it wins by a relative gap just above ``1.05e-9`` (at most
  ``1e-7``; float32's rounding, ``6e-8``, cannot tell them apart, float64 can). None when no
  such input is found for the rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.reference.rules import CONVENTIONS, krum_scores
from sbrml.testing.fixed_cases import SPAN, int_distances, points

__all__ = ["C6_8_EXAMPLE", "C6_8_GAP", "far_outliers", "near_tie", "translated"]

C6_8_GAP = 1.05e-9  # C6.8: selections are exact when the scores differ by more than this
C6_8_EXAMPLE = [[0.0], [1e8 + 5], [1e8 + 3], [1e8 + 3], [1e8 + 1]]
BIG = 2**9  # near_tie's points are fixed_cases' points times BIG: entries up to 2^29


def translated(seed: int, n: int, d: int, centre: float) -> NDArray[np.float64]:
    """``points(seed, n, d)`` scaled to spread 1 (multiples of ``2^-20``) plus ``centre``."""
    return np.array(points(seed, n, d), dtype=np.float64) / SPAN + centre


def far_outliers(seed: int, n: int, d: int, f: int) -> NDArray[np.float64]:
    """``points(seed, n, d)`` of spread 1 with the last ``f`` rows moved ``1e100`` away."""
    x = np.array(points(seed, n, d), dtype=np.float64) / SPAN
    x[n - f :] += 1e100
    return x


def _cut(scores: list[Any], m: int) -> tuple[int, int] | None:
    """The rows at ranks m and m+1 of the scores when they tie exactly (C6.4 order)."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    if m >= len(order) or scores[order[m - 1]] != scores[order[m]]:
        return None
    return order[m - 1], order[m]


def near_tie(name: str, f: int, options: dict[str, Any], least: int) -> list[list[int]] | None:
    """Integer points on which Krum or Multi-Krum (``name``) must choose the higher-index row
    of a pair whose scores differ by a relative gap in ``(C6_8_GAP, 1e-7]`` at the cut."""
    if name not in ("krum", "multikrum"):
        return None
    offset = CONVENTIONS[options.get("convention", "blanchard")]
    for n in range(least + least % 2, least + 8, 2):  # even n: no far row, D below 2^62
        rows = [[BIG * v for v in row] for row in points(0, n, 3, "mirrored")]
        m = 1 if name == "krum" else options.get("m") or n - f
        pair = _cut(krum_scores(int_distances(rows), f, offset), m)
        if pair is None:
            continue
        low, high = sorted(pair)
        for step in range(1, 64):
            for k in range(3):
                for sign in (1, -1):
                    moved = [list(r) for r in rows]
                    moved[high][k] += sign * step
                    scores = krum_scores(int_distances(moved), f, offset)
                    if scores[high] >= scores[low]:
                        continue
                    ordered = sorted(scores)
                    if m >= n or (ordered[m - 1], ordered[m]) != (scores[high], scores[low]):
                        continue
                    gap = (ordered[m] - ordered[m - 1]) / ordered[m]
                    if C6_8_GAP * 1.5 < gap <= 1e-7:
                        return moved
    return None


def rebuild(seed: int, n: int, d: int, kind: str, outliers: int = 0) -> str:
    """A one-line expression that rebuilds a fixed case's points."""
    extra = f", f={outliers}" if outliers else ""
    return f"points({seed}, {n}, {d}, {kind!r}{extra})"


def rule_inputs(
    name: str, f: int, options: dict[str, Any], least: int
) -> list[tuple[NDArray[np.float64], str, bool]]:
    """check_rule's hard inputs: ``(x, how to rebuild it, whether to run it even at a tie)``:
    ``translated`` at 1e7 and 1e8, C6.8's example (f = 1), ``far_outliers`` (f > 0) and
    ``near_tie`` (Krum, Multi-Krum)."""
    cases: list[tuple[NDArray[np.float64], str, bool]] = []
    n = least + 6
    module = "sbrml.testing.hard_cases"
    for centre in (1e7, 1e8):
        x = translated(0, n, 3, centre)
        cases.append((x, f"{module}.translated(0, {n}, 3, {centre:g})", False))
    if f == 1 and least <= len(C6_8_EXAMPLE) and not name.endswith("geomed"):
        # Its best score ties between two equal rows: C6.4 decides, and the output is the same.
        cases.append((np.array(C6_8_EXAMPLE), f"{module}.C6_8_EXAMPLE (spec C6.8)", True))
    if f > 0:
        x = far_outliers(0, least + 2, 3, f)
        cases.append((x, f"{module}.far_outliers(0, {least + 2}, 3, {f})", False))
    rows = near_tie(name, f, options, least)
    if rows is not None:
        how = f"np.array({module}.near_tie({name!r}, {f}, {options!r}, {least}), float)"
        cases.append((np.array(rows, dtype=np.float64), how, False))
    return cases


def weight_matrices(
    name: str, f: int, options: dict[str, Any], least: int
) -> list[tuple[list[list[Any]], str]]:
    """check_weights' hard matrices: the exact D of ``near_tie`` (entries near ``2^61``) and
    the same as floats, with how to rebuild each."""
    rows = near_tie(name, f, options, least)
    if rows is None:
        return []
    exact = int_distances(rows)
    how = (
        f"sbrml.testing.fixed_cases.int_distances(sbrml.testing.hard_cases.near_tie("
        f"{name!r}, {f}, {options!r}, {least}))"
    )
    floats = [[float(v) for v in row] for row in exact]
    return [(exact, how), (floats, f"the same as floats: {how}")]
