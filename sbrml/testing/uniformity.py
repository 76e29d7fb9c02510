"""The kit's one test that ring values look uniform (C3.2), for shares and shares of ``D``.

Part of the conformance kit's pytest helpers (needs ``sbrml[testing]``): ``check_sharing``
runs it on each share of a fixed secret, ``check_distance_protocol`` on each server's shares
of ``D``.
"""

from __future__ import annotations

import itertools
import operator
from typing import Any

import numpy as np
from scipy.stats import chi2

from sbrml.testing.failures import ConformanceError, Unreadable, short, short_int, type_name

__all__ = [
    "MIN_SAMPLES",
    "RANK_MARGIN",
    "check_no_relation",
    "check_uniform",
    "linear_relation",
    "masked",
    "pair",
    "ring_vector",
]

# From this many bits up, a repeated value among the samples means the values are not fresh:
# 16,384 uniform 40-bit values repeat with probability about 1e-4, 64-bit ones about 7e-12.
FRESH_BITS = 40
# The fewest values the chi-squared test runs on: about 5 per bin of a byte (256 bins), the
# usual rule for its approximation.
MIN_SAMPLES = 5 * 256
# The rank test of one call's coordinates runs on this many calls more than the width of its
# rows: L + 1 uniform bits per row span GF(2)^(L+1) except with probability below
# 2^(L+1-N) = 2^-64.
RANK_MARGIN = 64


def masked(value: Any) -> bool:
    """Whether ``value`` is a NumPy masked array with a masked entry, or a list or tuple
    holding one (``np.ma.masked``): its data there is no output, whatever it holds."""
    if isinstance(value, np.ma.MaskedArray):
        return bool(np.ma.getmaskarray(value).any())
    if isinstance(value, list | tuple):
        return any(isinstance(v, np.ma.MaskedArray) and masked(v) for v in value)
    return False


def ring_vector(value: Any, length: int, bits: int) -> list[int]:
    """``value`` as ``length`` ints in ``[0, 2^bits)``: each entry an int (``__index__``:
    Python, NumPy or gmpy2 integers; not a string, a float, a bool or a masked entry).

    Raises ``Unreadable`` with the reason otherwise. A lazy ``value`` (a generator, a map,
    ``itertools.count()``) is read for at most ``length + 1`` entries; whatever its own code
    raises propagates, for ``failures.read_user`` to report."""
    if isinstance(value, str | bytes):
        raise Unreadable(f"a {type_name(value)}, not a vector of ints")
    if masked(value):
        raise Unreadable("a masked array with masked entries")
    try:
        entries = iter(value)
    except TypeError:
        raise Unreadable(f"a {type_name(value)}, not a vector of ints") from None
    # At most length + 1 entries: one more tells that it is too long, and an endless
    # iterator is not read for ever.
    items = list(itertools.islice(entries, length + 1))
    if len(items) > length:
        raise Unreadable(f"longer than {length}: more than {length} entries")
    if len(items) < length:
        raise Unreadable(f"{len(items)} entries, not {length}")
    out = []
    for k, v in enumerate(items):
        # A bool is an int to Python, not a ring element (D1.1): True + False is not a share.
        if isinstance(v, bool | np.bool_):
            raise Unreadable(f"entry {k} is {v!r} ({type_name(v)}), not an int")
        try:
            entry = operator.index(v)
        except TypeError:
            raise Unreadable(f"entry {k} is {short(v)} ({type_name(v)}), not an int") from None
        if not 0 <= entry < 2**bits:
            raise Unreadable(f"entry {k} = {short_int(entry)} is not in [0, 2^{bits})")
        out.append(entry)
    return out


def pair(out: Any) -> tuple[Any, Any]:
    """``out`` as two things (a function's two shares), read for at most three items, or
    ``Unreadable``; whatever a lazy ``out`` raises propagates, for ``read_user``."""
    if isinstance(out, str | bytes):
        raise Unreadable(f"a {type_name(out)}, not two shares")
    try:
        items = iter(out)
    except TypeError:
        raise Unreadable(f"a {type_name(out)}, not two shares") from None
    both = list(itertools.islice(items, 3))
    if len(both) != 2:
        raise Unreadable("more than two items" if len(both) > 2 else f"{len(both)} items, not 2")
    return both[0], both[1]


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


def linear_relation(rows: list[int], width: int) -> int | None:
    """A nonzero ``u`` (``width`` bits) with ``u . row = 0`` over GF(2) for every row (ints of
    ``width`` bits), or None when the rows span GF(2)^width."""
    basis: dict[int, int] = {}  # pivot (the row's highest bit) -> row
    for row in rows:
        while row:
            top = row.bit_length() - 1
            if top not in basis:
                basis[top] = row
                break
            row ^= basis[top]
    if len(basis) == width:
        return None
    # Reduced echelon form: each pivot bit appears in its own row only.
    for pivot in sorted(basis):
        for other in basis:
            if other != pivot and basis[other] >> pivot & 1:
                basis[other] ^= basis[pivot]
    free = next(k for k in range(width) if k not in basis)
    # u has the free column and, for each pivot row holding that column, the pivot: each
    # row's product is then 1 + 1 = 0.
    return 1 << free | sum(1 << p for p, row in basis.items() if row >> free & 1)


def check_no_relation(
    label: str, clause: str, name: str, vectors: list[list[int]], where: str
) -> None:
    """Raise ConformanceError when the low bits of ``vectors`` (one share's coordinates, one
    vector per call) satisfy a fixed affine relation over GF(2) on every call: a GF(2) rank
    test on rows of each call's ``L`` low bits and a constant 1.

    Every fixed relation ``a . s = c mod 2^k`` with ``a != 0 mod 2^k`` among one call's
    coordinates implies one (divide by the largest power of 2 dividing every ``a_j``, then
    reduce mod 2), so a share whose coordinates are related linearly within a call fails;
    independent uniform coordinates fail with probability below ``2^(L+1-N)`` on ``N`` calls
    (at most ``2^-64`` with RANK_MARGIN)."""
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    length = len(vectors[0])
    rows = [sum((v & 1) << j for j, v in enumerate(vector)) | 1 << length for vector in vectors]
    relation = linear_relation(rows, length + 1)
    if relation is None:
        return
    terms = [f"{name}[{j}]" for j in range(length) if relation >> j & 1]
    raise ConformanceError(
        label,
        clause,
        f"{name} alone is uniform: its coordinates in one call are independent",
        where,
        f"no fixed linear relation among the low bits of one call's {length} coordinates",
        f"{' + '.join(terms)} = {relation >> length & 1} (mod 2) on every one of the "
        f"{len(vectors)} calls",
        [
            "a fixed linear relation mod 2^k among one call's coordinates (masks r + j G, "
            "r and -r, r and 3r) leaves one mod 2 in their low bits; the other share then "
            "reveals that combination of x's coordinates"
        ],
    )
