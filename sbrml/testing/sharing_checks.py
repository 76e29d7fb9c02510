"""Check of a user's additive sharing (section 3, needs ``sbrml[testing]``).

``check_sharing`` is re-exported by ``sbrml.testing.checks``; see there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

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
    message_of,
    read_user,
    short,
)
from sbrml.testing.generated import Checked, for_all
from sbrml.testing.uniformity import (
    MIN_SAMPLES,
    RANK_MARGIN,
    check_no_relation,
    check_uniform,
    pair,
    ring_vector,
)

__all__ = ["SECRET_KINDS", "SECRET_LENGTHS", "check_sharing", "secret"]

# The lengths of the secrets shared for the uniformity tests, each tested on its own (a
# sharing that leaks at one length only fails there). Length 1 makes one call per value, so
# its pool has the most calls: the test of repeated values across calls is strongest there.
SECRET_LENGTHS = (1, 3, 16, 256)
# The secrets, cycled call by call: constant (zero, and a fixed value with the top bit set),
# small (encodings of small reals, top bytes 0 or 0xff), a counter and uniform. Secrets of
# low entropy make a share that depends on the secret visibly non-uniform.
SECRET_KINDS = ("zero", "constant", "small", "negative", "counter", "uniform")


def secret(rng: ref.RandomSource, kind: str, length: int, bits: int, call: int) -> list[int]:
    """A secret of ``kind`` (SECRET_KINDS) and ``length`` in ``Z_2^bits``, from ``rng``."""
    mask = 2**bits - 1
    small = 2 ** max(1, bits // 4)
    if kind == "zero":
        return [0] * length
    if kind == "constant":
        return [(2 ** (bits - 1) + 0x5A5A5A5A) & mask] * length
    if kind == "small":
        return [ref.uniform_below(rng, small) for _ in range(length)]
    if kind == "negative":
        return [(-1 - ref.uniform_below(rng, small)) & mask for _ in range(length)]
    if kind == "counter":
        return [(call * length + k) & mask for k in range(length)]
    return [ref.uniform_below(rng, 2**bits) for _ in range(length)]


def check_sharing(
    share: Callable[[Any], Any],
    *,
    reconstruct: Callable[[Any, Any], Any] | None = None,
    bits: int = 64,
    examples: int = 50,
    samples: int = 2**14,
    alpha: float = 1e-7,
    as_arrays: bool = False,
) -> Checked:
    """Check a two-party additive sharing over ``Z_2^bits``, ``share(x) -> (x^0, x^1)``.

    ``x`` is a list of ring elements (a ``uint64`` array with ``as_arrays``); the shares are
    anything iterable as ints. ``share`` draws its own randomness. Checked:

    1. C3.1: ``x^0 + x^1 = x mod 2^bits`` for Hypothesis vectors (``strategies.ring_vectors``),
       each share a ring vector of ``x``'s length (P3.1); with ``reconstruct``, also
       ``reconstruct(x^0, x^1) = x`` for the user's shares and for any pair of shares
       (``strategies.shared_vectors``, P3.2);
    2. C3.2: each share alone is uniform and independent of the secret. For each length of
       SECRET_LENGTHS (1, 3, 16, 256), ``samples / 4`` values of each share, from calls on
       secrets that change call by call (``secret``: zero, a constant, small, small negative,
       a counter, uniform; fixed seeds), and the same values minus the secret, each pass a
       chi-squared test on every byte (on the value when ``bits < 8``) at significance
       ``alpha``; from 40 bits up no value repeats within a length's pool (a share must be
       fresh in every call and coordinate). A share that is the secret, or a function of it,
       on some secrets or lengths fails; so does a mask of low entropy: with 4,096 calls at
       length 1 (the default ``samples``), a mask of 21 bits of entropy per call or fewer
       repeats (expected 4 repeats at 21 bits; a repeat of uniform 64-bit values has
       probability about 5e-13);
    3. C3.2, one call's coordinates together (each share, and each minus the secret): at
       lengths 3, 16 and 256, the differences ``s[j] - s[j-1]`` and the sums ``s[j] +
       s[j-1]`` of adjacent coordinates, ``samples / 4`` of each pooled over calls, pass the
       same tests as the values (uniform and independent coordinates make them uniform);
       and a rank test over GF(2) of each call's low bits (``uniformity.check_no_relation``,
       on at least ``length + 65`` calls) finds no fixed linear relation ``a . s = c mod
       2^bits`` among one call's coordinates, for any ``a != 0`` over all ``length``
       coordinates, adjacent or not. Masks ``r + j G`` (one random ``r`` per call), ``r``
       and ``-r``, ``r`` and ``3r``, each coordinate uniform across calls, fail: one share
       would reveal a combination of ``x``'s coordinates. Dependence that is neither linear
       nor visible in adjacent differences or sums (a mask a hash of another coordinate's)
       is not detected.

    A correct sharing (independent uniform masks) fails with probability at most about
    ``40 B alpha + 40 P + 12 * 2^-64``, where ``B`` is the number of chi-squared tests per
    pool (``bits // 8``, or 1 below 8 bits) and ``P`` the chance that ``samples / 4`` uniform
    values repeat (``(samples / 4)^2 / 2^(bits + 1)`` from 40 bits up, else 0): 3.2e-5 at
    the defaults (64 bits, ``alpha = 1e-7``), 3.2e-6 at ``alpha = 1e-8``.

    Not checked, and not checkable from outside: where the randomness comes from. A mask from
    a generator with a public or guessable seed (a hash of a counter, ``random.Random(0)``,
    an unseeded Mersenne Twister) passes every statistical test here; use a CSPRNG
    (``secrets``, ``os.urandom``): this check cannot tell.

    KitArgumentError (a ValueError) for a bad argument, before any call: ``bits`` an int from 1
    to 1024, ``examples`` from 1 to 10^6, ``samples`` from ``4 * 1280`` (1,280 values per
    length: about five per bin of the chi-squared test; fewer would test nothing) to 2^24,
    ``alpha`` in ``[1e-15, 1e-2]``, ``as_arrays`` a bool.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    name = "check_sharing"
    check_callable(name, "share", share)
    check_callable(name, "reconstruct", reconstruct, optional=True)
    bits = check_int(name, "bits", bits, 1, 1024)
    examples = check_int(name, "examples", examples, 1, MAX_EXAMPLES)
    check_bool(name, "as_arrays", as_arrays)
    per_length = max(MIN_SAMPLES, 5 * 2**bits) if bits < 8 else MIN_SAMPLES
    samples = check_int(name, "samples", samples, per_length * len(SECRET_LENGTHS), MAX_SAMPLES)
    why = "0 never fails; above 1e-2 a uniform sharing fails often"
    alpha = check_float(name, "alpha", alpha, 1e-15, 1e-2, why)
    mask = 2**bits - 1
    label = f"check_sharing(bits={bits})"
    result = Checked(label)

    def shares_of(value: list[int], where: str) -> tuple[list[int], list[int]]:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        arg = np.array(value, dtype=np.uint64) if as_arrays else list(value)
        what = "share(x)"
        out = call_user(share, arg, check=label, clause="C3.1", what=what, where=where)

        def read(out: Any) -> tuple[list[int], list[int]]:
            # Inside read_user: a lazy share (a generator, a map) runs its own code here.
            shares = []
            for s, vector in enumerate(pair(out)):
                try:
                    shares.append(ring_vector(vector, len(value), bits))
                except Unreadable as err:
                    raise Unreadable(f"x^{s}: {message_of(err)}") from None
            return shares[0], shares[1]

        return read_user(
            read,
            out,
            check=label,
            clause="P3.1",
            what="share(x) returns two ring vectors of x's length",
            where=where,
            expected=f"two vectors of {len(value)} ints in [0, 2^{bits})",
        )

    def reconstructs(item: tuple[list[int], tuple[list[int], list[int]] | None]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        value, given = item
        where = f"x = {short(value)} (length {len(value)})"
        s0, s1 = shares_of(value, where) if given is None else given
        got = [(a + b) & mask for a, b in zip(s0, s1, strict=True)]
        if got != value:
            # The kit adds the shares itself (the sharing is additive, P3.1): the user's
            # reconstruct, if any, is checked after, on shares that pass this.
            raise ConformanceError(
                label,
                "C3.1",
                f"your share(x)'s shares add up to x: x^0 + x^1 mod 2^{bits} = x (got: their sum)",
                where + f", shares x^0 = {short(s0)} and x^1 = {short(s1)}",
                value,
                got,
                [
                    "the kit adds the shares itself (the sharing is additive, P3.1); your "
                    "reconstruct, if given, is checked after, on shares that add up to x"
                ],
            )
        if reconstruct is not None:
            args = [np.array(v, dtype=np.uint64) if as_arrays else v for v in (s0, s1)]
            what = "reconstruct(x^0, x^1)"
            clause = "C3.1" if given is None else "P3.2"
            where += f", shares {short(s0)} and {short(s1)}"
            back = call_user(reconstruct, *args, check=label, clause=clause, what=what, where=where)
            out = read_user(
                lambda back: ring_vector(back, len(value), bits),
                back,
                check=label,
                clause=clause,
                what="your reconstruct(x^0, x^1) returns a ring vector of x's length",
                where=where,
                expected=f"a vector of {len(value)} ints in [0, 2^{bits})",
            )
            if out != value:
                raise ConformanceError(
                    label, clause, "your reconstruct(x^0, x^1) = x", where, value, out
                )
        result.add("reconstructions" if given is None else "reconstructions of given shares")

    for_all(strategies.ring_vectors(bits=bits).map(lambda x: (x, None)), reconstructs, examples)
    if reconstruct is not None:
        for_all(strategies.shared_vectors(bits=bits), reconstructs, examples)
    each = samples // len(SECRET_LENGTHS)
    for length in SECRET_LENGTHS:
        # Enough calls for each pool: the coordinates, the adjacent pairs (length - 1 per
        # call) and the rank test's rows (RANK_MARGIN more than their width).
        need = -(-each // length)
        if length > 1:
            need = max(need, -(-each // (length - 1)), length + 1 + RANK_MARGIN)
        rng = ref.DeterministicRandomSource(length).derive("check_sharing/secrets")
        # views[s][call] holds share s, views[2 + s][call] the same minus the secret.
        views: list[list[list[int]]] = [[], [], [], []]
        for call in range(need):
            kind = SECRET_KINDS[call % len(SECRET_KINDS)]
            value = secret(rng, kind, length, bits, call)
            where = f"x = {short(value)} (length {length}, secret {kind!r}, call {call})"
            shares = shares_of(value, where)
            for s in (0, 1):
                views[s].append(shares[s])
                views[2 + s].append([(v - x) & mask for v, x in zip(shares[s], value, strict=True)])
        where = (
            f"{{}} over {need} calls on secrets of length {length} "
            f"(sbrml.testing.sharing_checks.secret, kinds {', '.join(SECRET_KINDS)} in turn, "
            f"from DeterministicRandomSource({length}).derive('check_sharing/secrets'))"
        )
        for index, vectors in enumerate(views):
            whose = f"share{index % 2}" + (" minus the secret" if index >= 2 else "")
            values = [v for vector in vectors for v in vector][:each]
            at = where.format(f"{each} values of each share")
            passed = check_uniform(label, "C3.2", whose, values, bits, alpha, at)
            result.add("uniformity tests (C3.2)", passed)
            if length == 1:
                continue
            # Within one call: adjacent coordinates' differences and sums are uniform too
            # when the coordinates are independent (masks r + j G, r and -r fail here).
            for sign, combination in ((-1, "differences"), (1, "sums")):
                pooled = [
                    (vector[j] + sign * vector[j - 1]) & mask
                    for vector in vectors
                    for j in range(1, length)
                ][:each]
                at = where.format(f"{each} {combination} of adjacent coordinates")
                name = f"{whose} ({combination} of adjacent coordinates)"
                passed = check_uniform(label, "C3.2", name, pooled, bits, alpha, at)
                result.add("independence tests (C3.2)", passed)
            at = where.format(f"{whose}'s low bits")
            check_no_relation(label, "C3.2", whose, vectors, at)
            result.add("independence tests (C3.2)")
    return result
