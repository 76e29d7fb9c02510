"""Paillier encryption with gmpy2 (spec/13-paillier.md); same API and keys as the reference.

Key generation draws exactly the reference's bytes (same candidates, same Miller-Rabin bases),
so both trees produce the same key from the same seed; the arithmetic runs on gmpy2 integers.
``encrypt_private`` uses the secret key's CRT to compute r^n mod n^2 about 3x faster (C13.7).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import gmpy2

from sbrml.core.errors import ShapeError, shown
from sbrml.core.params import check_processes
from sbrml.optimized.primality import is_probable_prime, random_prime
from sbrml.optimized.processes import map_parts, split
from sbrml.optimized.randomness import RandomSource, SystemRandomSource, uniform_below
from sbrml.reference import paillier as _reference
from sbrml.reference.paillier import (
    BASE_ORDER,
    BASE_RANGE,
    BASE_RESIDUE,
    DEFAULT_BITS,
    SECURE_BITS,
    SHORT_EXPONENT_BITS,
    SMALL_ORDER_EXPONENT,
    PrivateKey,
    PublicKey,
    check_ciphertext,
    check_plaintext,
    short_exponent_base,
    unit_below,
)

S = TypeVar("S")
T = TypeVar("T")

__all__ = [
    "DEFAULT_BITS",
    "SECURE_BITS",
    "PrivateKey",
    "PublicKey",
    "add",
    "check_ciphertexts",
    "check_short_exponent_base",
    "decrypt",
    "decrypt_many",
    "encrypt",
    "encrypt_private",
    "encrypt_with",
    "encrypt_with_obfuscator",
    "generate_keypair",
    "is_probable_prime",
    "key_holder_obfuscators",
    "keypair_from_primes",
    "mul_scalar",
    "negate",
    "obfuscators",
    "random_prime",
    "rerandomize",
    "short_exponent_base",
    "short_exponent_obfuscators",
]


def keypair_from_primes(
    p: int, q: int, *, insecure_test: bool = False, rng: RandomSource | None = None
) -> tuple[PublicKey, PrivateKey]:
    """Implements D13.1 and C13.12: the reference's checks with the gmpy2 primality test.

    The Miller-Rabin bases come from ``rng`` (by default a fresh ``SystemRandomSource``) as in
    the reference, so both trees accept and refuse the same pairs given the same rng.
    """
    return _reference.keypair_from_primes(
        p,
        q,
        insecure_test=insecure_test,
        rng=SystemRandomSource() if rng is None else rng,
        is_prime=is_probable_prime,
    )


def generate_keypair(
    bits: int = DEFAULT_BITS, *, rng: RandomSource, insecure_test: bool = False
) -> tuple[PublicKey, PrivateKey]:
    """Implements C13.1-C13.3: the reference's key search with the gmpy2 primality test."""
    return _reference.generate_keypair(
        bits, rng=rng, insecure_test=insecure_test, is_prime=is_probable_prime
    )


def random_unit(public: PublicKey, *, rng: RandomSource) -> int:
    """Implements C13.3 (the reference's draws)."""
    while True:
        r = uniform_below(rng, public.n)
        if r and gmpy2.gcd(r, public.n) == 1:
            return r


def _check_unit(function: str, public: PublicKey, r: int) -> None:
    if (
        isinstance(r, bool)
        or not isinstance(r, int)
        or not 1 <= r < public.n
        or gmpy2.gcd(r, public.n) != 1
    ):
        raise ShapeError(function, "r", "an int in Z*_n", "C13.3", shown(r))


def encrypt_with(public: PublicKey, m: int, r: int) -> int:
    """Implements D13.2 with a given r: c = (1 + m n) r^n mod n^2."""
    check_plaintext("encrypt_with", public, m)
    _check_unit("encrypt_with", public, r)
    n = gmpy2.mpz(public.n)
    n2 = n * n
    return int((1 + m * n) % n2 * gmpy2.powmod(r, n, n2) % n2)


def encrypt(public: PublicKey, m: int, *, rng: RandomSource) -> int:
    """Implements D13.2 with r drawn by C13.3."""
    check_plaintext("encrypt", public, m)
    return encrypt_with(public, m, random_unit(public, rng=rng))


def _crt_pow_n(private: PrivateKey, r: int) -> gmpy2.mpz:
    # r^n mod n^2 from r^n mod p^2 and mod q^2: exponents reduced mod phi(p^2) = p(p-1).
    p, q, n = gmpy2.mpz(private.p), gmpy2.mpz(private.q), gmpy2.mpz(private.public.n)
    p2, q2 = p * p, q * q
    a = gmpy2.powmod(r, n % (p * (p - 1)), p2)
    b = gmpy2.powmod(r, n % (q * (q - 1)), q2)
    return a + p2 * ((b - a) * gmpy2.invert(p2, q2) % q2)


def encrypt_private(private: PrivateKey, m: int, *, rng: RandomSource) -> int:
    """Implements C13.7: the same ciphertext as ``encrypt`` from the same rng, via CRT."""
    public = private.public
    check_plaintext("encrypt_private", public, m)
    r = random_unit(public, rng=rng)
    n = gmpy2.mpz(public.n)
    n2 = n * n
    return int((1 + m * n) % n2 * _crt_pow_n(private, r) % n2)


def decrypt(private: PrivateKey, c: int) -> int:
    """Implements C13.4 (CRT decryption) with gmpy2."""
    check_ciphertext("decrypt", private.public, c)
    p, q = gmpy2.mpz(private.p), gmpy2.mpz(private.q)
    m_p = (gmpy2.powmod(c, p - 1, p * p) - 1) // p * private.h_p % p
    m_q = (gmpy2.powmod(c, q - 1, q * q) - 1) // q * private.h_q % q
    return int(m_p + p * ((m_q - m_p) * gmpy2.invert(p, q) % q))


def add(public: PublicKey, c1: int, c2: int) -> int:
    """Implements D13.3: homomorphic addition."""
    check_ciphertext("add", public, c1)
    check_ciphertext("add", public, c2)
    return int(gmpy2.mpz(c1) * c2 % public.n_squared)


def mul_scalar(public: PublicKey, c: int, k: int) -> int:
    """Implements D13.3: plaintext-scalar multiplication (k reduced mod n)."""
    check_ciphertext("mul_scalar", public, c)
    if isinstance(k, bool) or not isinstance(k, int):
        raise ShapeError("mul_scalar", "k", "an int", "D13.3", shown(k))
    return int(gmpy2.powmod(c, k % public.n, public.n_squared))


def negate(public: PublicKey, c: int) -> int:
    """Implements D13.3: the inverse ciphertext."""
    check_ciphertext("negate", public, c)
    return int(gmpy2.invert(c, public.n_squared))


def rerandomize(public: PublicKey, c: int, *, rng: RandomSource) -> int:
    """Implements D13.3: multiply by a fresh r^n."""
    check_ciphertext("rerandomize", public, c)
    n2 = public.n_squared
    return int(gmpy2.mpz(c) * gmpy2.powmod(random_unit(public, rng=rng), public.n, n2) % n2)


def check_ciphertexts(function: str, public: PublicKey, cts: list[int]) -> None:
    """Implements C13.8: range checks, then one gcd of the product mod n (gmpy2)."""
    n = gmpy2.mpz(public.n)
    n2 = n * n
    product = gmpy2.mpz(1)
    for c in cts:
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c < n2:
            check_ciphertext(function, public, c)
        product = product * c % n
    if gmpy2.gcd(product, n) != 1:
        for c in cts:
            check_ciphertext(function, public, c)


def _pow_n_part(key: tuple[int, int, int], rs: Sequence[int]) -> list[int]:
    # r^n mod n^2 by CRT over p^2 and q^2, or plainly without the secret key (p = 0); runs in
    # a worker process or in the caller's.
    n, p, q = key
    if not p:
        n2 = gmpy2.mpz(n) * n
        return [int(gmpy2.powmod(r, n, n2)) for r in rs]
    private = PrivateKey(PublicKey(n, n.bit_length()), p, q)
    return [int(_crt_pow_n(private, r)) for r in rs]


def _spread(
    fn: Callable[[S, Sequence[T]], list[int]], shared: S, items: list[T], processes: int
) -> list[int]:
    # C0.2: the items in order over ``processes`` processes, the results in order.
    return [v for part in map_parts(fn, shared, split(items, processes), processes) for v in part]


def obfuscators(
    public: PublicKey,
    count: int,
    *,
    rng: RandomSource,
    private: PrivateKey | None = None,
    processes: int = 1,
) -> list[int]:
    """Implements C13.9: r_i^n mod n^2 in draw order; CRT with the secret key; optional processes.

    The r_i are drawn here, in order, so the result depends on neither ``private`` nor
    ``processes`` (at most that many worker processes, C0.2); only the exponentiations are
    spread over the processes (embarrassingly parallel).
    """
    check_processes("obfuscators", processes)
    rs = [random_unit(public, rng=rng) for _ in range(count)]
    p, q = (private.p, private.q) if private is not None else (0, 0)
    return _spread(_pow_n_part, (public.n, p, q), rs, processes)


def _lift_part(key: tuple[int, int], pairs: Sequence[tuple[int, int]]) -> list[int]:
    # CRT(r_p^p mod p^2, r_q^q mod q^2) for each drawn pair (D13.4), in a worker process or here.
    p, q = gmpy2.mpz(key[0]), gmpy2.mpz(key[1])
    p2, q2 = p * p, q * q
    inv = gmpy2.invert(p2, q2)
    out = []
    for r_p, r_q in pairs:
        a = gmpy2.powmod(r_p, p, p2)
        b = gmpy2.powmod(r_q, q, q2)
        out.append(int(a + p2 * ((b - a) * inv % q2)))
    return out


def key_holder_obfuscators(
    private: PrivateKey, count: int, *, rng: RandomSource, processes: int = 1
) -> list[int]:
    """Implements D13.4 with gmpy2: the reference's draws, exponentiations over processes.

    The pairs (r_p, r_q) are drawn here, in order, so the result does not depend on
    ``processes`` (C13.10, C0.2).
    """
    check_processes("key_holder_obfuscators", processes)
    p, q = private.p, private.q
    pairs = [(unit_below(rng, p), unit_below(rng, q)) for _ in range(count)]
    return _spread(_lift_part, (p, q), pairs, processes)


def _small_order(base: int, n: int) -> bool:
    # C13.11 step 2 on gmpy2: one 1,479-bit exponentiation (about 2 ms at 2048 bits), paid
    # once per call that checks a base; nothing is cached between calls (C0.2).
    m = gmpy2.mpz(n)
    return bool(gmpy2.gcd(gmpy2.powmod(base, SMALL_ORDER_EXPONENT, m) - 1, m) != 1)


def check_short_exponent_base(
    function: str, public: PublicKey, base: int, private: PrivateKey | None = None
) -> None:
    """Implements C13.11 as the reference does (same checks, class and messages), on gmpy2."""
    if (
        isinstance(base, bool)
        or not isinstance(base, int)
        or not 1 < base < public.n_squared
        or gmpy2.gcd(base, public.n) != 1
    ):
        raise ShapeError(function, "base", BASE_RANGE, "C13.11", shown(base))
    if _small_order(base, public.n):
        raise ShapeError(function, "base", BASE_ORDER, "C13.11", "an order dividing it")
    if private is not None:
        p, q = gmpy2.mpz(private.p), gmpy2.mpz(private.q)
        if gmpy2.powmod(base, p - 1, p * p) != 1 or gmpy2.powmod(base, q - 1, q * q) != 1:
            raise ShapeError(function, "base", BASE_RESIDUE, "C13.11", "not an n-th residue")


WINDOW = 8  # bits per fixed-base digit: 32 products per 256-bit exponent, 8,160 table entries
# The table (about 4 MB at 2048 bits) costs about 30 ms and saves about 0.75 ms per
# obfuscator against one exponentiation, so it is built for 64 obfuscators or more.
TABLE_MIN_COUNT = 64

FixedBaseTable = list[list[gmpy2.mpz]]


def fixed_base_table(base: int, modulus: int) -> FixedBaseTable:
    """D13.5: table[i][j] = base^(j * 2^(WINDOW i)) mod modulus, for a 256-bit exponent."""
    m = gmpy2.mpz(modulus)
    table = []
    power = gmpy2.mpz(base)
    for _ in range(-(-SHORT_EXPONENT_BITS // WINDOW)):
        row = [gmpy2.mpz(1)]
        for _ in range((1 << WINDOW) - 1):
            row.append(row[-1] * power % m)
        table.append(row)
        power = row[-1] * power % m
    return table


def _fixed_base_part(shared: tuple[FixedBaseTable, int], alphas: Sequence[int]) -> list[int]:
    # base^a mod modulus from the fixed-base table, in a worker process or here.
    table, modulus = shared
    m = gmpy2.mpz(modulus)
    digit = (1 << WINDOW) - 1
    out = []
    for a in alphas:
        acc = gmpy2.mpz(1)
        for row in table:
            if a & digit:
                acc = acc * row[a & digit] % m
            a >>= WINDOW
        out.append(int(acc))
    return out


def _power_part(shared: tuple[int, int], alphas: Sequence[int]) -> list[int]:
    # base^a mod modulus, one exponentiation each (too few for the table to pay off).
    base, modulus = shared
    return [int(gmpy2.powmod(base, a, modulus)) for a in alphas]


def short_exponent_obfuscators(
    public: PublicKey, base: int, count: int, *, rng: RandomSource, processes: int = 1
) -> list[int]:
    """Implements D13.5 with a fixed-base table: one product per 8-bit digit of a (C13.11).

    The exponents are drawn here, in the reference's order, so the result does not depend on
    ``processes`` (C0.2); the table is built for this call (from ``TABLE_MIN_COUNT``
    obfuscators on; fewer take one exponentiation each) and handed to the worker processes.
    """
    check_processes("short_exponent_obfuscators", processes)
    check_short_exponent_base("short_exponent_obfuscators", public, base)
    bound = 1 << SHORT_EXPONENT_BITS
    alphas = [uniform_below(rng, bound) for _ in range(count)]
    n2 = public.n_squared
    if count < TABLE_MIN_COUNT:
        return _spread(_power_part, (base, n2), alphas, processes)
    return _spread(_fixed_base_part, (fixed_base_table(base, n2), n2), alphas, processes)


def encrypt_with_obfuscator(public: PublicKey, m: int, obfuscator: int) -> int:
    """Implements C13.9: the online half of D13.2, one modular multiplication."""
    check_plaintext("encrypt_with_obfuscator", public, m)
    n = gmpy2.mpz(public.n)
    n2 = n * n
    return int((1 + m * n) % n2 * obfuscator % n2)


def _decrypt_part(key: tuple[int, int], cts: Sequence[int]) -> list[int]:
    p, q = key
    private = PrivateKey(PublicKey(p * q, (p * q).bit_length()), p, q)
    return [decrypt(private, c) for c in cts]


def decrypt_many(private: PrivateKey, cts: list[int], *, processes: int = 1) -> list[int]:
    """C13.4 for many ciphertexts over at most ``processes`` processes (C0.2); in input order."""
    check_processes("decrypt_many", processes)
    return _spread(_decrypt_part, (private.p, private.q), cts, processes)
