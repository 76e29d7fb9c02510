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

import sbrml.reference as ref
from sbrml.testing import strategies
from sbrml.testing.failures import ConformanceError, call_user, describe_matrix, short
from sbrml.testing.fixed_cases import grid, points
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.uniformity import check_uniform

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
        arg = np.array(secret, dtype=np.uint64) if as_arrays else list(secret)
        what = "share(x)"
        out = _pair(call_user(share, arg, check=label, clause="C3.1", what=what, where=where))
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
            what = "reconstruct(x^0, x^1)"
            clause = "C3.1" if given is None else "P3.2"
            back = call_user(reconstruct, *args, check=label, clause=clause, what=what, where=where)
            out = _ring_vector(back, len(secret), bits)
            if out != secret:
                where += f", shares {short(s0)} and {short(s1)}"
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
            passed = check_uniform(
                label, "C3.2", f"share{index}", values[:samples], bits, alpha, where
            )
            result.add("uniformity tests (C3.2)", passed)
    return result


# check_distance_protocol's fixed cases (n, d): the largest it runs (about half a second for
# the reference tree's pairwise variant at 12 x 300, measured), and the input whose output
# shares are sampled for C5.4's uniformity test.
LARGE_CASES = ((12, 3), (3, 300), (12, 300))
UNIFORMITY_CASE = (12, 2)


def check_distance_protocol(
    protocol: Callable[[Any, Any], Any],
    *,
    frac_bits: int = 16,
    examples: int = 25,
    samples: int = 2**12,
    alpha: float = 1e-6,
    as_arrays: bool = False,
) -> Checked:
    """Check a two-server distance protocol, ``protocol(X^0, X^1) -> (D^0, D^1)``.

    ``X^s`` is server ``s``'s share of the encoded inputs (``n`` rows of ``d`` ring elements
    of ``Z_2^64``, as lists, or ``uint64`` arrays with ``as_arrays``); the protocol returns
    each server's ``n x n`` share of ``D`` and runs its own dealer or provider. Checked, on up
    to ``examples`` Hypothesis inputs within the round's bounds (``strategies.inputs``, ``n``
    from 2 to 8, ``d`` from 1 to 8, encoded with ``frac_bits``, shared from a drawn seed) and
    on the fixed inputs of ``sbrml.testing.fixed_cases`` of sizes LARGE_CASES (``n x d`` =
    12 x 3, 3 x 300, 12 x 300):

    1. C5.2: the reconstructed ``D`` is exactly ``D_ij = 2^(2F) ||x_i - x_j||^2`` of the
       decoded inputs (P5.1 and P5.2 both give it, C5.1);
    2. C5.4: no off-diagonal entry of either server's share equals the plaintext entry (a
       protocol that hands ``D`` to one server fails);
    3. C5.4: each server's off-diagonal entries (``i < j``) alone look uniform: ``samples``
       of them from repeated calls on one fixed 12 x 2 input, with those of the large fixed
       cases, pass the chi-squared test on every byte and repeat no value (the test
       ``check_sharing`` runs, at significance ``alpha``).

    Not checked, because the kit calls one function that plays both servers: what the
    servers send each other inside it (an implementation that reconstructs an ``x_i`` or
    ``D`` in one server and re-shares the result passes; check the servers' views, e.g. with
    ``strategies.transcripts`` and your transcript); the diagonal shares (P5.1 and P5.2 make
    them 0); shares' independence across entries. An exception raised by ``protocol`` is a
    ConformanceError naming C5.2 and the input.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    label = f"check_distance_protocol(frac_bits={frac_bits})"
    result = Checked(label)
    scale = Fraction(4) ** frac_bits
    pooled: tuple[list[int], list[int]] = ([], [])

    def run(x: np.ndarray, seed: int, where: str) -> tuple[list[list[int]], list[list[int]]]:
        """The protocol's two shares of D for ``x``, shared from ``seed``, checked against
        the plaintext (C5.2) and entry by entry against the shares (C5.4)."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        encoded = [ref.encode(row, frac_bits=frac_bits) for row in x.tolist()]
        rng = ref.DeterministicRandomSource(seed)
        pairs = [ref.share(e, rng=rng.derive(f"worker/{i}")) for i, e in enumerate(encoded)]
        x0, x1 = ([p[s] for p in pairs] for s in (0, 1))
        args = (
            (np.array(x0, dtype=np.uint64), np.array(x1, dtype=np.uint64))
            if as_arrays
            else (x0, x1)
        )
        what = "protocol(X^0, X^1)"
        out = _pair(call_user(protocol, *args, check=label, clause="C5.2", what=what, where=where))
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
        for s, m in enumerate((m0, m1)):
            bare = [(i, j) for i in range(n) for j in range(n) if i != j and m[i][j] == got[i][j]]
            if bare:
                i, j = bare[0]
                raise ConformanceError(
                    label,
                    "C5.4",
                    f"S{s}'s share of D alone is uniform: it is not D",
                    where,
                    f"D^{s}[{i}][{j}] unrelated to D[{i}][{j}] = {got[i][j]}",
                    f"D^{s}[{i}][{j}] = {m[i][j]}",
                    [f"{len(bare)} of the {n * (n - 1)} off-diagonal entries are D's"],
                )
        return m0, m1

    def body(item: tuple[np.ndarray, int]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        x, seed = item
        where = f"{describe_matrix('x', x)}, encoded with F = {frac_bits}, shared from seed {seed}"
        run(x, seed, where)
        result.add("generated inputs")

    def pool(shares: tuple[list[list[int]], list[list[int]]]) -> None:
        for s, m in enumerate(shares):
            pooled[s].extend(m[i][j] for i in range(len(m)) for j in range(i + 1, len(m)))

    inputs = strategies.inputs(n=(2, 8), d=(1, 8), f=1)
    for_all(st.tuples(inputs, st.integers(0, 2**64 - 1)), body, examples)
    for n, d in LARGE_CASES:
        x = grid(points(0, n, d))
        where = f"{describe_matrix('x', x)}, fixed case points(0, {n}, {d}) (fixed_cases)"
        pool(run(x, 0, where + ", shared from seed 0"))
        result.add("fixed inputs")
    n, d = UNIFORMITY_CASE
    x = grid(points(1, n, d))
    where = (
        f"the off-diagonal entries (i < j) of each server's share of D over repeated calls on "
        f"{describe_matrix('x', x)} (fixed case points(1, {n}, {d})) and the fixed cases"
    )
    calls = 0
    while len(pooled[0]) < samples:
        pool(run(x, calls, f"{describe_matrix('x', x)}, shared from seed {calls}"))
        calls += 1
    for s in (0, 1):
        passed = check_uniform(label, "C5.4", f"S{s}'s share of D", pooled[s], 64, alpha, where)
        result.add("uniformity tests (C5.4)", passed)
    return result
