"""Check of a user's Paillier encryption against the reference (section 13, ``sbrml[testing]``).

``check_paillier`` is re-exported by ``sbrml.testing.checks``; see there.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
from hypothesis import strategies as st
from scipy.stats import chi2

import sbrml.reference as ref
from sbrml.core.errors import SpecError
from sbrml.reference import paillier
from sbrml.testing.arguments import MAX_EXAMPLES, check_bool, check_callable, check_int
from sbrml.testing.failures import (
    ConformanceError,
    call_user,
    read_user,
    short,
    short_int,
    type_name,
)
from sbrml.testing.generated import Checked, for_all

__all__ = ["check_paillier", "paillier_keys"]


@cache
def paillier_keys() -> tuple[tuple[paillier.PublicKey, paillier.PrivateKey], ...]:
    """The keys ``check_paillier`` uses: the known-answer key ``n = 293 * 433`` and keys of 64
    and 256 bits from fixed seeds (C13.2), all test keys (``insecure_test``, C13.1)."""
    keys = [
        paillier.keypair_from_primes(
            293, 433, insecure_test=True, rng=ref.DeterministicRandomSource(0)
        )
    ]
    for bits in (64, 256):
        keys.append(
            paillier.generate_keypair(
                bits, rng=ref.DeterministicRandomSource(bits), insecure_test=True
            )
        )
    return tuple(keys)


@st.composite
def _paillier_case(draw: st.DrawFn) -> tuple[int, int, int, int, int]:
    k = draw(st.integers(0, len(paillier_keys()) - 1))
    n = paillier_keys()[k][0].n
    unit = st.integers(1, n - 1).filter(lambda r: math.gcd(r, n) == 1)
    return k, draw(st.integers(0, n - 1)), draw(unit), draw(st.integers(0, n - 1)), draw(unit)


# C13.3's r is uniform in Z*_n: below n / 2^SMALL_R_BITS with probability about 2^-32 per draw.
SMALL_R_BITS = 32
# With randomized, encrypt(n, m) is called RANDOM_CALLS times in a row on each key of 64 bits
# or more: a pool of r reused in turn repeats if it holds fewer than RANDOM_CALLS, one drawn
# from at random if it holds fewer than about 2^20 (birthday bound, 2 expected repeats).
RANDOM_CALLS = 2048
R_BINS = 16  # r's spread over [0, n) is tested on 16 equal bins


def integer_out(out: Any) -> int | None:
    """``out`` as an int when it is one (a Python int, a NumPy integer, gmpy2's ``mpz``:
    anything with ``__index__``), or None: a string, a float, a bool (NumPy's too), a masked
    value or None is not a ciphertext. What ``out.__index__`` raises besides TypeError
    propagates, for ``failures.read_user`` to report."""
    if isinstance(out, bool | np.bool_ | np.ma.MaskedArray):
        return None
    try:
        return operator.index(out)
    except TypeError:
        return None


def randomness_of(private: paillier.PrivateKey, c: int) -> int:
    """The ``r`` of ``c = (1 + m n) r^n mod n^2`` (D13.2), recovered with the factors.

    Every unit of ``Z_n^2`` is ``(1 + n)^m s^n`` for one ``m`` in ``Z_n`` and one ``s`` in
    ``Z*_n``; ``c mod n = s^n mod n``, and ``n`` is invertible mod ``phi(n) = (p-1)(q-1)``
    (``gcd(n, phi(n)) = 1`` for primes of the same length), so ``s = (c mod n)^(n^-1 mod
    phi(n)) mod n``. For a ciphertext of D13.2, ``s`` is the ``r`` it was made with."""
    n = private.p * private.q
    phi = (private.p - 1) * (private.q - 1)
    return pow(c % n, pow(n, -1, phi), n)


def check_paillier(
    encrypt: Callable[..., Any],
    *,
    add: Callable[[int, int, int], Any] | None = None,
    decrypt: Callable[[int, int, int], Any] | None = None,
    randomized: bool = False,
    examples: int = 25,
) -> Checked:
    """Check a Paillier encryption with ``g = n + 1`` against the reference (section 13).

    ``encrypt(n, m, r) -> c`` takes the randomness ``r`` in ``Z*_n`` (python-paillier's
    ``raw_encrypt(m, r_value=r)``); with ``randomized`` it is ``encrypt(n, m) -> c`` and draws
    its own. Optional: ``add(n, c1, c2) -> c`` and ``decrypt(p, q, c) -> m``. On the keys of
    ``paillier_keys()`` and Hypothesis plaintexts: ``c`` is ``Enc(m; r) = (1 + m n) r^n mod
    n^2`` exactly (D13.2, given ``r``); the reference decrypts ``c`` to ``m`` (C13.4, C13.6);
    ``add`` of two ciphertexts (the reference's when not given) decrypts to ``m1 + m2 mod n``
    (D13.3); ``decrypt`` recovers ``m`` from the reference's ciphertexts (C13.4).

    With ``randomized``, the randomness (C13.3), on the keys of 64 bits or more: besides the
    ciphertexts of the generated cases, ``encrypt(n, m)`` is called RANDOM_CALLS (2,048)
    times in a row on each such key; the ``r`` of every ciphertext, on every key, MUST be in
    ``Z*_n`` (``gcd(c, n) = gcd(r, n) = 1``); each ciphertext MUST decrypt to ``m``, and its ``r``,
    recovered with the key's factors (``randomness_of``), MUST differ from every ``r`` seen
    before in the whole check and MUST NOT be below ``n / 2^32`` (a uniform ``r`` is, with
    probability about ``2^-32`` per call); the 2,048 ``r`` of a key MUST spread over
    ``[0, n)`` (chi-squared on 16 equal bins) with no two consecutive ones within
    ``n / 2^32``. ``r = 1``, ``r = 2``, a counter (from any start), a 64-bit ``r`` for a
    256-bit key, a pool of fewer than 2,048 ``r`` reused in turn and one of fewer than about
    ``2^20`` drawn from at random fail. Not checked, and not checkable from outside: where
    ``r`` comes from; an ``r`` from a generator with a public seed passes: use a CSPRNG.
    An exception raised by a user's function, or a result that is not an int, is a
    ConformanceError naming the clause and the case. KitArgumentError (a ValueError) before
    any call for a function that is not callable, ``randomized`` not a bool (``"yes"``,
    ``1``) or ``examples`` outside ``[1, 10^6]``.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    check_callable("check_paillier", "encrypt", encrypt)
    check_callable("check_paillier", "add", add, optional=True)
    check_callable("check_paillier", "decrypt", decrypt, optional=True)
    check_bool("check_paillier", "randomized", randomized)
    examples = check_int("check_paillier", "examples", examples, 1, MAX_EXAMPLES)
    label = f"check_paillier(randomized={randomized})"
    result = Checked(label)

    def returned(out: Any, clause: str, what: str, where: str) -> int:
        """A user's function's result as an int, or a ConformanceError saying it is not one."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        return read_user(
            integer_out,
            out,
            check=label,
            clause=clause,
            what=f"{what} returns an int",
            where=where,
            expected="an int (int, NumPy integer or gmpy2 mpz)",
            shown=lambda out: f"{type_name(out)}: {short(out)}",
        )

    seen: dict[tuple[int, int], int] = {}  # (n, r) -> the plaintext it was drawn for

    def enc(public: paillier.PublicKey, m: int, r: int, k: int, where: str) -> int:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        args = (public.n, m) if randomized else (public.n, m, r)
        clause = "C13.4" if randomized else "D13.2"
        what = f"encrypt(n, m{k})" if randomized else f"encrypt(n, m{k}, r{k})"
        c = returned(
            call_user(encrypt, *args, check=label, clause=clause, what=what, where=where),
            clause,
            what,
            where,
        )
        if randomized and 1 <= c < public.n**2 and math.gcd(c, public.n) != 1:
            # gcd(c, n) = gcd(r, n), as 1 + m n is a unit: the r drawn is not in Z*_n.
            raise ConformanceError(
                label,
                "C13.3",
                "each encryption draws a fresh r, uniform in Z*_n",
                f"{where}; {what}, gcd(c, n) = gcd(r, n) = {short_int(math.gcd(c, public.n))}",
                "an r in Z*_n (gcd(r, n) = 1)",
                "an r sharing a factor with n",
            )
        if not randomized and c != paillier.encrypt_with(public, m, r):
            raise ConformanceError(
                label,
                "D13.2",
                f"encrypt(n, m{k}, r{k}) = Enc(m{k}; r{k}) = (1 + m{k} n) r{k}^n mod n^2",
                where,
                paillier.encrypt_with(public, m, r),
                c,
            )
        return c

    def dec(
        private: paillier.PrivateKey, c: int, m: int, clause: str, what: str, where: str
    ) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        n_squared = (private.p * private.q) ** 2
        if not 1 <= c < n_squared:
            # Refused here, not by the reference: its message prints c whole, which fails
            # beyond Python's int-to-decimal digit limit.
            refused = f"{short_int(c)}, refused: not an int in [1, n^2) (C13.6)"
            raise ConformanceError(label, "C13.6", what, where, m, refused)
        try:
            got: Any = paillier.decrypt(private, c)
        except SpecError as err:
            raise ConformanceError(
                label, err.clause, what, where, m, f"{short_int(c)}, refused: {err}"
            ) from None
        if got != m:
            raise ConformanceError(label, clause, what, where, m, got)

    def fresh(private: paillier.PrivateKey, c: int, m: int, call: int, where: str) -> None:
        """C13.3 on one ciphertext of a randomized encrypt: its r is new and not small."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        n = private.p * private.q
        r = randomness_of(private, c)
        where = f"{where}; call {call} of encrypt(n, m1), r = {short_int(r)}"
        if (n, r) in seen:
            raise ConformanceError(
                label,
                "C13.3",
                "each encryption draws a fresh r, uniform in Z*_n",
                where,
                "an r not seen before in this check",
                f"r = {short_int(r)} again (first seen encrypting {short_int(seen[(n, r)])})",
            )
        if r < n >> SMALL_R_BITS:
            raise ConformanceError(
                label,
                "C13.3",
                "each encryption draws a fresh r, uniform in Z*_n",
                where,
                f"r >= n / 2^{SMALL_R_BITS} (a uniform r is below with probability ~2^-32)",
                f"r = {short_int(r)} ({r.bit_length()} bits; n has {n.bit_length()})",
            )
        seen[(n, r)] = m

    def body(item: tuple[int, int, int, int, int]) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        k, m1, r1, m2, r2 = item
        public, private = paillier_keys()[k]
        n = public.n
        where = f"n = {short_int(n)} ({public.bits} bits), " + ", ".join(
            f"{name} = {short_int(v)}"
            for name, v in (("m1", m1), ("r1", r1), ("m2", m2), ("r2", r2))
        )
        c1, c2 = enc(public, m1, r1, 1, where), enc(public, m2, r2, 2, where)
        dec(private, c1, m1, "C13.4", "the reference decrypts c1 = encrypt(n, m1) to m1", where)
        if add is not None:
            what = "add(n, c1, c2)"
            total = returned(
                call_user(add, n, c1, c2, check=label, clause="D13.3", what=what, where=where),
                "D13.3",
                what,
                where,
            )
        else:
            total = paillier.add(public, c1, c2)
        adder = "your add" if add is not None else "the reference's add"
        dec(
            private,
            total,
            (m1 + m2) % n,
            "D13.3",
            f"{adder} of c1, c2 decrypts to m1 + m2 mod n",
            where,
        )
        if decrypt is not None:
            c = paillier.encrypt_with(public, m1, r1)
            what = "decrypt(p, q, Enc(m1; r1))"
            out = call_user(
                decrypt,
                private.p,
                private.q,
                c,
                check=label,
                clause="C13.4",
                what=what,
                where=where,
            )
            got = returned(out, "C13.4", what, where)
            if got != m1:
                raise ConformanceError(
                    label, "C13.4", "your decrypt(p, q, Enc(m1; r1)) = m1", where, m1, got
                )
        if randomized and public.bits >= 64:
            fresh(private, c1, m1, 1, where)
            result.add("fresh r (C13.3)")
        result.add("generated cases")

    def spread(private: paillier.PrivateKey, rs: list[int], where: str) -> None:
        """C13.3 on the r of RANDOM_CALLS encryptions in a row: spread over ``[0, n)`` (a
        chi-squared test on R_BINS bins at significance 1e-9) and no two consecutive ones
        within ``n / 2^32`` of each other (a counter fails both)."""
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        n = private.p * private.q
        counts = [0] * R_BINS
        for r in rs:
            counts[r * R_BINS // n] += 1
        expected = len(rs) / R_BINS
        stat = sum((c - expected) ** 2 for c in counts) / expected
        p = float(chi2.sf(stat, R_BINS - 1))
        close = [
            k
            for k in range(1, len(rs))
            if min((rs[k] - rs[k - 1]) % n, (rs[k - 1] - rs[k]) % n) < n >> SMALL_R_BITS
        ]
        if p < 1e-9 or close:
            raise ConformanceError(
                label,
                "C13.3",
                "each encryption draws a fresh r, uniform in Z*_n",
                where,
                f"r spread over [0, n): about {expected:.0f} in each 1/{R_BINS} of it "
                f"(chi-squared p >= 1e-9), consecutive r at least n / 2^{SMALL_R_BITS} apart",
                f"counts per 1/{R_BINS} of n: {counts} (p = {p:.3g}); "
                f"{len(close)} consecutive pairs closer than n / 2^{SMALL_R_BITS}",
            )

    for_all(_paillier_case(), body, examples)
    if randomized:
        for public, private in paillier_keys():
            if public.bits < 64:
                continue
            rs = []
            for call in range(RANDOM_CALLS):
                m = call * 0x9E3779B97F4A7C15 % public.n
                where = (
                    f"n = {short_int(public.n)} ({public.bits} bits), "
                    f"call {call} of {RANDOM_CALLS}, m = {short_int(m)}"
                )
                c = enc(public, m, 1, 1, where)
                dec(private, c, m, "C13.4", "the reference decrypts encrypt(n, m) to m", where)
                fresh(private, c, m, call, where)
                rs.append(randomness_of(private, c))
            where = (
                f"the r of {RANDOM_CALLS} encryptions in a row under n = {short_int(public.n)} "
                f"({public.bits} bits)"
            )
            spread(private, rs, where)
            result.add("fresh r (C13.3)", RANDOM_CALLS)
            result.add("spread of r (C13.3)")
    return result
