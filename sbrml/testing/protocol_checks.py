"""Checks of a user's sharing, distance protocol and Paillier encryption (``sbrml[testing]``).

``check_sharing``, ``check_distance_protocol`` and ``check_paillier`` are re-exported by
``sbrml.testing.checks``; see there.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, cast

import numpy as np
from hypothesis import strategies as st
from scipy.stats import chi2

import sbrml.reference as ref
from sbrml.testing import strategies
from sbrml.testing.failures import ConformanceError, describe_matrix, short
from sbrml.testing.generated import Checked, for_all

__all__ = ["check_distance_protocol", "check_sharing"]

UNIFORMITY_VECTOR = 256  # the length of the secrets shared for the chi-squared test


def _ring_vector(value: Any, length: int, bits: int) -> list[int] | None:
    """``value`` as ``length`` ints in ``[0, 2^bits)``, or None when it is not that."""
    try:
        out = [int(v) for v in value]
    except (TypeError, ValueError):
        return None
    ok = len(out) == length and all(0 <= v < 2**bits for v in out)
    return out if ok else None


def _pair(out: Any) -> tuple[Any, Any] | None:
    try:
        first, second = out
    except (TypeError, ValueError):
        return None
    return first, second


def check_sharing(
    share: Callable[[Any], Any],
    *,
    reconstruct: Callable[[Any, Any], Any] | None = None,
    bits: int = 64,
    examples: int = 50,
    samples: int = 2**14,
    alpha: float = 1e-6,
    as_arrays: bool = False,
) -> Checked:
    """Check a two-party additive sharing over ``Z_2^bits``, ``share(x) -> (x^0, x^1)``.

    ``x`` is a list of ring elements (a ``uint64`` array with ``as_arrays``); the shares are
    anything iterable as ints. ``share`` draws its own randomness. Checked:

    1. C3.1: ``x^0 + x^1 = x mod 2^bits`` for Hypothesis vectors (``strategies.ring_vectors``),
       each share a ring vector of ``x``'s length (P3.1); with ``reconstruct``, also
       ``reconstruct(x^0, x^1) = x`` for the user's shares and for any pair of shares
       (``strategies.shared_vectors``, P3.2);
    2. C3.2: each share alone is uniform: ``samples`` values of each share of the zero vector
       and of a fixed non-zero one, binned by each of their bytes (by value when ``bits < 8``),
       pass a chi-squared test at significance ``alpha``, and from 40 bits up no value repeats
       (across calls and coordinates: a share must be fresh).
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    mask = 2**bits - 1
    label = f"check_sharing(bits={bits})"
    result = Checked(label)

    def shares_of(secret: list[int], where: str) -> tuple[list[int], list[int]]:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        out = _pair(share(np.array(secret, dtype=np.uint64) if as_arrays else list(secret)))
        pair = None if out is None else [_ring_vector(s, len(secret), bits) for s in out]
        if pair is None or pair[0] is None or pair[1] is None:
            raise ConformanceError(
                label,
                "P3.1",
                "share(x) returns two ring vectors of x's length",
                where,
                f"two vectors of {len(secret)} ints in [0, 2^{bits})",
                short(out),
            )
        return pair[0], pair[1]

    def reconstructs(item: tuple[list[int], tuple[list[int], list[int]] | None]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        secret, given = item
        where = f"x = {short(secret)} (length {len(secret)})"
        s0, s1 = shares_of(secret, where) if given is None else given
        got = [(a + b) & mask for a, b in zip(s0, s1, strict=True)]
        if got != secret:
            raise ConformanceError(label, "C3.1", "reconstruct(share(x)) = x", where, secret, got)
        if reconstruct is not None:
            args = [np.array(v, dtype=np.uint64) if as_arrays else v for v in (s0, s1)]
            out = _ring_vector(reconstruct(*args), len(secret), bits)
            if out != secret:
                where += f", shares {short(s0)} and {short(s1)}"
                clause = "C3.1" if given is None else "P3.2"
                raise ConformanceError(
                    label, clause, "your reconstruct(x^0, x^1) = x", where, secret, out
                )
        result.add("reconstructions" if given is None else "reconstructions of given shares")

    for_all(strategies.ring_vectors(bits=bits).map(lambda x: (x, None)), reconstructs, examples)
    if reconstruct is not None:
        for_all(strategies.shared_vectors(bits=bits), reconstructs, examples)
    fixed = (2 ** (bits - 1) + 0x5A5A5A5A) & mask
    for secret in ([0] * UNIFORMITY_VECTOR, [fixed] * UNIFORMITY_VECTOR):
        drawn: list[list[int]] = [[], []]
        where = f"{samples} values of each share of x = {short(secret)} (length {len(secret)})"
        while len(drawn[0]) < samples:
            s0, s1 = shares_of(secret, where)
            drawn[0] += s0
            drawn[1] += s1
        for index, values in enumerate(drawn):
            _uniform(label, f"share{index}", values[:samples], bits, alpha, where)
            result.add("uniformity tests (C3.2)", bits // 8 if bits >= 8 else 1)
    return result


def _uniform(label: str, name: str, values: list[int], bits: int, alpha: float, where: str) -> None:
    """C3.2's tests on ``values``: a chi-squared test on every byte (the value itself when
    ``bits < 8``), and, from 40 bits up, no value twice (16,384 uniform 64-bit values repeat
    with probability about 7e-12; a share that repeats is not fresh). ConformanceError when a
    byte's p-value is below ``alpha`` or a value repeats."""
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    if bits >= 40 and len(set(values)) < len(values):
        repeats = len(values) - len(set(values))
        raise ConformanceError(
            label,
            "C3.2",
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
                "C3.2",
                f"{name} alone is uniform over Z_2^{bits} (its {part})",
                where,
                f"each of the {bins} values about {expected:.0f} times "
                f"(chi-squared p >= {alpha:g})",
                f"chi2 = {stat:.1f} with {bins - 1} degrees of freedom (p = {p:.3g}); "
                f"{part} {high:#04x} {counts[high]} times, {low:#04x} {counts[low]} times",
            )


def check_distance_protocol(
    protocol: Callable[[Any, Any], Any],
    *,
    frac_bits: int = 16,
    examples: int = 25,
    as_arrays: bool = False,
) -> Checked:
    """Check a two-server distance protocol, ``protocol(X^0, X^1) -> (D^0, D^1)``.

    ``X^s`` is server ``s``'s share of the encoded inputs (``n`` rows of ``d`` ring elements
    of ``Z_2^64``, as lists, or ``uint64`` arrays with ``as_arrays``); the protocol returns
    each server's ``n x n`` share of ``D`` and runs its own dealer or provider. For up to
    ``examples`` Hypothesis inputs within the round's bounds (``strategies.inputs``, encoded
    with ``frac_bits``, shared from a drawn seed) the reconstructed ``D`` MUST be exact:
    ``D_ij = 2^(2F) ||x_i - x_j||^2`` of the decoded inputs (C5.2; P5.1 and P5.2 both give
    it, C5.1).
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    label = f"check_distance_protocol(frac_bits={frac_bits})"
    result = Checked(label)
    strategy = st.tuples(strategies.inputs(n=(2, 6), d=(1, 5), f=1), st.integers(0, 2**64 - 1))
    scale = Fraction(4) ** frac_bits

    def body(item: tuple[np.ndarray, int]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        x, seed = item
        encoded = [ref.encode(row, frac_bits=frac_bits) for row in x.tolist()]
        rng = ref.DeterministicRandomSource(seed)
        pairs = [ref.share(e, rng=rng.derive(f"worker/{i}")) for i, e in enumerate(encoded)]
        x0, x1 = ([p[s] for p in pairs] for s in (0, 1))
        where = f"{describe_matrix('x', x)}, encoded with F = {frac_bits}, shared from seed {seed}"
        args = (
            (np.array(x0, dtype=np.uint64), np.array(x1, dtype=np.uint64))
            if as_arrays
            else (x0, x1)
        )
        out = _pair(protocol(*args))
        n = len(encoded)
        rows = None if out is None else [[_ring_vector(r, n, 64) for r in m] for m in out]
        if rows is None or any(len(m) != n or None in m for m in rows):
            raise ConformanceError(
                label,
                "P5.1",
                "the protocol returns two n x n ring matrices",
                where,
                f"two {n} x {n} matrices of ints in [0, 2^64)",
                short(out),
            )
        m0, m1 = cast(list[list[list[int]]], rows)
        got = [
            [(a + b) % 2**64 for a, b in zip(r0, r1, strict=True)]
            for r0, r1 in zip(m0, m1, strict=True)
        ]
        plain = ref.sq_distances([ref.decode(e, frac_bits=frac_bits) for e in encoded])
        expected = [[int(v * scale) for v in row] for row in plain]
        wrong = [(i, j) for i in range(n) for j in range(n) if got[i][j] != expected[i][j]]
        if wrong:
            i, j = wrong[0]
            diff = (got[i][j] - expected[i][j]) % 2**64
            raise ConformanceError(
                label,
                "C5.2",
                "the reconstructed D is exactly 2^(2F) ||x_i - x_j||^2 of the decoded inputs",
                where,
                f"D[{i}][{j}] = {expected[i][j]}",
                f"D[{i}][{j}] = {got[i][j]}",
                [
                    f"got - expected = {diff - 2**64 if diff >= 2**63 else diff} mod 2^64; "
                    f"{len(wrong)} of the {n * n} entries differ",
                    f"expected D = {short(expected)}",
                ],
            )
        result.add("generated inputs")

    for_all(strategy, body, examples)
    return result
