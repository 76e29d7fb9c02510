"""The kit's one test that ring values look uniform (C3.2), for shares and shares of ``D``.

Part of the conformance kit's pytest helpers (needs ``sbrml[testing]``): ``check_sharing``
runs it on each share of a fixed secret, ``check_distance_protocol`` on each server's shares
of ``D``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from scipy.stats import chi2

from sbrml.testing.failures import ConformanceError

__all__ = ["MIN_SAMPLES", "check_uniform", "pair", "ring_vector"]

# From this many bits up, a repeated value among the samples means the values are not fresh:
# 16,384 uniform 40-bit values repeat with probability about 1e-4, 64-bit ones about 7e-12.
FRESH_BITS = 40
# The fewest values the chi-squared test runs on: about 5 per bin of a byte (256 bins), the
# usual rule for its approximation.
MIN_SAMPLES = 5 * 256


def ring_vector(value: Any, length: int, bits: int) -> list[int] | None:
    """``value`` as ``length`` ints in ``[0, 2^bits)``, or None when it is not that: each entry
    an int (``__index__``: Python, NumPy or gmpy2 integers; not a string, a float or a bool)."""
    if isinstance(value, str | bytes):
        return None
    try:
        out = [operator.index(v) for v in value if not isinstance(v, bool)]
    except TypeError:
        return None
    ok = len(out) == length and all(0 <= v < 2**bits for v in out)
    return out if ok else None


def pair(out: Any) -> tuple[Any, Any] | None:
    """``out`` as two things (a function's two shares), or None."""
    if isinstance(out, str | bytes):
        return None
    try:
        first, second = out
    except (TypeError, ValueError):
        return None
    return first, second


def check_uniform(
    label: str,
    clause: str,
    name: str,
    values: list[int],
    bits: int,
    alpha: float,
    where: str,
) -> int:
    """Raise ConformanceError unless ``values`` (ints in ``[0, 2^bits)``) look uniform: a
    chi-squared test at significance ``alpha`` on every byte (on the value itself when
    ``bits < 8``), and, from FRESH_BITS bits up, no value twice (a share that repeats is not
    fresh). ``name`` says whose values they are in the message. Returns the number of
    chi-squared tests passed."""
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    if bits >= FRESH_BITS and len(set(values)) < len(values):
        repeats = len(values) - len(set(values))
        raise ConformanceError(
            label,
            clause,
            f"{name} alone is uniform over Z_2^{bits}: fresh in every call and coordinate",
            where,
            f"{len(values)} distinct values",
            f"{repeats} repeated values",
        )
    parts = (
        [("value", 0, 2**bits)]
        if bits < 8
        else [(f"byte {k}", 8 * k, 256) for k in range(bits // 8)]
    )
    for part, shift, bins in parts:
        counts = np.bincount([(v >> shift) % bins for v in values], minlength=bins)
        expected = len(values) / bins
        stat = float(((counts - expected) ** 2).sum() / expected)
        p = float(chi2.sf(stat, bins - 1))
        if p < alpha:
            high, low = int(np.argmax(counts)), int(np.argmin(counts))
            raise ConformanceError(
                label,
                clause,
                f"{name} alone is uniform over Z_2^{bits} (its {part})",
                where,
                f"each of the {bins} values about {expected:.0f} times "
                f"(chi-squared p >= {alpha:g})",
                f"chi2 = {stat:.1f} with {bins - 1} degrees of freedom (p = {p:.3g}); "
                f"{part} {high:#04x} {counts[high]} times, {low:#04x} {counts[low]} times",
            )
    return len(parts)
