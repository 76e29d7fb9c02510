"""Check of a user's two-server distance protocol (section 5, needs ``sbrml[testing]``).

``check_distance_protocol`` is re-exported by ``sbrml.testing.checks``; see there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import strategies as st

import sbrml.reference as ref
from sbrml.testing import strategies
from sbrml.testing.arguments import (
    MAX_EXAMPLES,
    MAX_SAMPLES,
    check_bool,
    check_callable,
    check_float,
    check_int,
)
from sbrml.testing.failures import (
    ConformanceError,
    Unreadable,
    call_user,
    describe_matrix,
    message_of,
    read_user,
    short,
    type_name,
)
from sbrml.testing.fixed_cases import grid, points
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.uniformity import MIN_SAMPLES, check_uniform, masked, pair, ring_vector

__all__ = ["check_distance_protocol"]


# check_distance_protocol's fixed cases (n, d): the largest it runs (about half a second for
# the reference tree's pairwise variant at 12 x 300, measured), and the inputs whose output
# shares are sampled for C5.4's uniformity tests, one pool per size, small and large (a
# protocol that leaks on some sizes only fails there).
LARGE_CASES = ((12, 3), (3, 300), (12, 300))
UNIFORMITY_CASES = ((3, 2), (6, 5), (12, 2))
CROSS = 64  # cross combinations of a share taken per call (C5.4, entries' independence)


def _cross(m: list[list[int]]) -> list[int]:
    """Up to CROSS values ``m[a][c] - m[a][d] - m[b][c] + m[b][d]``, over sets ``a < b < c < d``
    and their three pairings (a symmetric share gives each pairing once): uniform when the
    entries are independent and uniform, 0 for masks of the form ``r_a + r_c``."""
    out = []
    for a, b, c, d in itertools.combinations(range(len(m)), 4):
        for (i, j), (k, q) in (((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))):
            out.append((m[i][k] - m[i][q] - m[j][k] + m[j][q]) % 2**64)
        if len(out) >= CROSS:
            break
    return out


def check_distance_protocol(
    protocol: Callable[[Any, Any], Any],
    *,
    frac_bits: int = 16,
    examples: int = 25,
    samples: int = 2**12,
    alpha: float = 1e-7,
    as_arrays: bool = False,
) -> Checked:
    """Check a two-server distance protocol, ``protocol(X^0, X^1) -> (D^0, D^1)``.

    ``X^s`` is server ``s``'s share of the encoded inputs (``n`` rows of ``d`` ring elements
    of ``Z_2^64``, as lists, or ``uint64`` arrays with ``as_arrays``); the protocol returns
    each server's ``n x n`` share of ``D`` and runs its own dealer or provider. Checked, on up
    to ``examples`` Hypothesis inputs within the round's bounds for ``frac_bits``
    (``strategies.inputs(frac_bits=...)``, ``n`` from 2 to 8, ``d`` from 1 to 8, shared from a
    drawn seed) and on the fixed inputs of ``sbrml.testing.fixed_cases`` of sizes LARGE_CASES
    (``n x d`` = 12 x 3, 3 x 300, 12 x 300), scaled to the same bounds:

    1. C5.2: the reconstructed ``D`` is exactly ``D_ij = 2^(2F) ||x_i - x_j||^2`` of the
       decoded inputs (P5.1 and P5.2 both give it, C5.1);
    2. C5.4: no off-diagonal entry of either server's share equals the plaintext entry (a
       protocol that hands ``D`` to one server fails);
    3. C5.4: each server's off-diagonal entries (``i < j``) alone look uniform: one pool per
       size of UNIFORMITY_CASES (3 x 2, 6 x 5, 12 x 2), ``samples / 3`` entries from repeated
       calls on fixed inputs of that size (a new input and seed each call), the smallest
       pool with the Hypothesis inputs' entries and the largest with the large cases', each
       pass the chi-squared test on every byte and repeat no value (the test
       ``check_sharing`` runs, at significance ``alpha``);
    4. C5.4: each server's diagonal entries are all 0 (as P5.1 and P5.2 make them) or, pooled
       over the same calls, pass the same test (a share holding ``||x_i||^2`` fails);
    5. C5.4, entries' independence: the cross combinations ``D^s_ac - D^s_ad - D^s_bc +
       D^s_bd`` (``a < b < c < d`` in each of their three pairings; up to CROSS per call)
       repeat no value (masks ``r_i + r_j``, each entry uniform, cancel there and fail).

    Not checked, because the kit calls one function that plays both servers: what the
    servers send each other inside it (an implementation that reconstructs an ``x_i`` or
    ``D`` in one server and re-shares the result passes; check the servers' views, e.g. with
    ``strategies.transcripts`` and your transcript); dependence among entries beyond the
    cross combinations. An exception raised by ``protocol`` is a ConformanceError naming
    C5.2 and the input. KitArgumentError (a ValueError) before any call for a bad argument:
    ``frac_bits`` from 0 to 62 (D1.3), ``examples`` from 1 to 10^6, ``samples`` from ``3 *
    1280`` (about five per bin of each pool's chi-squared test) to 2^24, ``alpha`` in
    ``[1e-15, 1e-2]``, ``as_arrays`` a bool.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    name = "check_distance_protocol"
    check_callable(name, "protocol", protocol)
    frac_bits = check_int(name, "frac_bits", frac_bits, 0, 62)
    examples = check_int(name, "examples", examples, 1, MAX_EXAMPLES)
    check_bool(name, "as_arrays", as_arrays)
    samples = check_int(name, "samples", samples, MIN_SAMPLES * len(UNIFORMITY_CASES), MAX_SAMPLES)
    why = "0 never fails; above 1e-2 a uniform protocol fails often"
    alpha = check_float(name, "alpha", alpha, 1e-15, 1e-2, why)
    label = f"check_distance_protocol(frac_bits={frac_bits})"
    result = Checked(label)
    scale = Fraction(4) ** frac_bits
    # pools[k][s]: server s's off-diagonal entries for UNIFORMITY_CASES[k]; diagonal[s] and
    # cross[s] over every call.
    pools: list[tuple[list[int], list[int]]] = [([], []) for _ in UNIFORMITY_CASES]
    diagonal: tuple[list[int], list[int]] = ([], [])
    cross: tuple[list[int], list[int]] = ([], [])

    def matrix(m: Any, n: int) -> list[list[int]]:
        """A server's share of D as n rows of n ring elements, or Unreadable: read for at
        most n + 1 rows (an endless iterator is not read for ever)."""
        if isinstance(m, str | bytes):
            raise Unreadable(f"a {type_name(m)}, not a matrix")
        if masked(m):
            raise Unreadable("a masked array with masked entries")
        try:
            lines = list(itertools.islice(iter(m), n + 1))
        except TypeError:
            raise Unreadable(f"a {type_name(m)}, not a matrix") from None
        if len(lines) != n:
            raise Unreadable(f"{'more than ' + str(n) if len(lines) > n else len(lines)} rows")
        rows = []
        for i, line in enumerate(lines):
            try:
                rows.append(ring_vector(line, n, 64))
            except Unreadable as err:
                raise Unreadable(f"row {i}: {message_of(err)}") from None
        return rows

    def matrices(out: Any, n: int) -> tuple[list[list[int]], list[list[int]]]:
        shares = []
        for s, m in enumerate(pair(out)):
            try:
                shares.append(matrix(m, n))
            except Unreadable as err:
                raise Unreadable(f"D^{s}: {message_of(err)}") from None
        return shares[0], shares[1]

    def run(x: np.ndarray, seed: int, where: str, pool: int) -> None:
        """The protocol's two shares of D for ``x``, shared from ``seed``, checked against
        the plaintext (C5.2) and entry by entry against the shares (C5.4); the shares' entries
        go to the uniformity pools (``pool``: the index of the off-diagonal pool)."""
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
        out = call_user(protocol, *args, check=label, clause="C5.2", what=what, where=where)
        n = len(encoded)
        m0, m1 = read_user(
            lambda out: matrices(out, n),
            out,
            check=label,
            clause="P5.1",
            what="the protocol returns two n x n ring matrices",
            where=where,
            expected=f"two {n} x {n} matrices of ints in [0, 2^64)",
        )
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
            pools[pool][s].extend(m[i][j] for i in range(n) for j in range(i + 1, n))
            diagonal[s].extend(m[i][i] for i in range(n))
            cross[s].extend(_cross(m))

    def body(item: tuple[np.ndarray, int]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        x, seed = item
        where = f"{describe_matrix('x', x)}, encoded with F = {frac_bits}, shared from seed {seed}"
        run(x, seed, where, 0)
        result.add("generated inputs")

    inputs = strategies.inputs(n=(2, 8), d=(1, 8), f=1, frac_bits=frac_bits)
    for_all(st.tuples(inputs, st.integers(0, 2**64 - 1)), body, examples)
    for n, d in LARGE_CASES:
        x = grid(points(0, n, d), frac_bits)
        where = (
            f"{describe_matrix('x', x)}, fixed case grid(points(0, {n}, {d}), {frac_bits}) "
            "(sbrml.testing.fixed_cases), shared from seed 0"
        )
        run(x, 0, where, len(UNIFORMITY_CASES) - 1)
        result.add("fixed inputs")
    for k, (n, d) in enumerate(UNIFORMITY_CASES):
        calls = 0
        while len(pools[k][0]) < samples // len(UNIFORMITY_CASES):
            x = grid(points(calls, n, d), frac_bits)
            rebuild = f"grid(points({calls}, {n}, {d}), {frac_bits}) (sbrml.testing.fixed_cases)"
            run(x, calls, f"{describe_matrix('x', x)}, {rebuild}, shared from seed {calls}", k)
            calls += 1
        where = (
            f"the off-diagonal entries (i < j) of each server's share of D over {calls} calls "
            f"on grid(points(seed, {n}, {d}), {frac_bits}) shared from seed, seed = 0, 1, ..."
            + (", and on the generated inputs" if k == 0 else "")
            + (", and on the large fixed cases" if k == len(UNIFORMITY_CASES) - 1 else "")
        )
        for s in (0, 1):
            passed = check_uniform(
                label, "C5.4", f"S{s}'s share of D", pools[k][s], 64, alpha, where
            )
            result.add("uniformity tests (C5.4)", passed)
    for s in (0, 1):
        where = "every call above (Hypothesis's, the fixed and the uniformity inputs)"
        if any(diagonal[s]):
            whose = f"S{s}'s share of D's diagonal (not all 0)"
            passed = check_uniform(label, "C5.4", whose, diagonal[s], 64, alpha, where)
            result.add("uniformity tests (C5.4)", passed)
        repeats = len(cross[s]) - len(set(cross[s]))
        if repeats:
            raise ConformanceError(
                label,
                "C5.4",
                f"S{s}'s share of D alone is uniform: its entries are independent",
                f"{len(cross[s])} combinations D^{s}_ac - D^{s}_ad - D^{s}_bc + D^{s}_bd "
                f"(a < b < c < d, each pairing) over {where}",
                "no value twice (independent uniform entries repeat with probability ~2^-50)",
                f"{repeats} repeated values, e.g. {max(set(cross[s]), key=cross[s].count)}",
                ["masks of the form r_i + r_j cancel in these combinations"],
            )
        result.add("independence tests (C5.4)")
    return result
