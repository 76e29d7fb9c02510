"""Paillier encryption with g = n + 1 and CRT decryption (spec/13-paillier.md).

Raw operations on integers, in the style of python-paillier's raw layer: keys, encryption,
decryption, homomorphic addition, plaintext-scalar multiplication, negation and
re-randomisation, each validating its inputs. Randomness comes only from the injected rng.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.params import check_processes

# Primality testing and prime generation (C13.2) have their own module; the names stay here
# for their callers.
from sbrml.reference.primality import MILLER_RABIN_ROUNDS as MILLER_RABIN_ROUNDS
from sbrml.reference.primality import SMALL_PRIMES as SMALL_PRIMES
from sbrml.reference.primality import PrimalityTest as PrimalityTest
from sbrml.reference.primality import is_probable_prime as is_probable_prime
from sbrml.reference.primality import random_prime as random_prime
from sbrml.reference.randomness import RandomSource, SystemRandomSource, uniform_below

DEFAULT_BITS = 2048
SECURE_BITS = (2048, 3072)


@dataclass(frozen=True)
class PublicKey:
    """D13.1: the modulus n = p q (its bit length is ``bits``); g = n + 1 implicitly."""

    n: int
    bits: int

    @property
    def n_squared(self) -> int:
        return self.n * self.n


@dataclass(frozen=True)
class PrivateKey:
    """D13.1: the primes, with the CRT constants of C13.4 derived from them."""

    public: PublicKey
    p: int
    q: int

    @cached_property
    def h_p(self) -> int:
        """h_p = L_p((n + 1)^(p-1) mod p^2)^-1 mod p, with L_p(u) = (u - 1) / p."""
        return pow(_l(pow(self.public.n + 1, self.p - 1, self.p * self.p), self.p), -1, self.p)

    @cached_property
    def h_q(self) -> int:
        return pow(_l(pow(self.public.n + 1, self.q - 1, self.q * self.q), self.q), -1, self.q)


def _l(u: int, m: int) -> int:
    return (u - 1) // m


def check_key_size(function: str, bits: int, insecure_test: bool) -> None:
    """Implements C13.1: 2048 or 3072 bits; smaller even sizes >= 16 only with insecure_test."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 16 or bits % 2:
        raise ParameterError(function, "bits", "an even int >= 16", "C13.1", shown(bits))
    if bits not in SECURE_BITS and not insecure_test:
        raise ParameterError(
            function,
            "bits",
            "2048 or 3072 bits (a smaller key needs insecure_test=True and is breakable)",
            "C13.1",
            shown(bits),
        )


def check_prime_pair(function: str, p: int, q: int, insecure_test: bool) -> None:
    """Implements D13.1 and C13.12 without the primality test: the shape of a key's primes.

    Two distinct ints of equal bit length whose product n has exactly 2048 or 3072 bits (with
    ``insecure_test``, at least 16 bits; no rounding), with gcd(n, (p-1)(q-1)) = 1. Messages
    give bit lengths, never the primes.
    """
    for name, v in (("p", p), ("q", q)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            # A negative prime's magnitude is the prime itself: give its size, not its value.
            got = f"an int < 2 of {v.bit_length()} bits" if isinstance(v, int) else type(v).__name__
            raise ParameterError(function, name, "a prime (an int >= 2)", "D13.1", got)
    if p == q:
        raise ParameterError(function, "p, q", "distinct primes", "D13.1", "p = q")
    if p.bit_length() != q.bit_length():
        raise ParameterError(
            function,
            "p, q",
            "primes of equal bit length",
            "D13.1",
            f"p of {p.bit_length()} bits, q of {q.bit_length()} bits",
        )
    bits = (p * q).bit_length()
    if bits not in SECURE_BITS and not (insecure_test and bits >= 16):
        raise ParameterError(
            function,
            "p, q",
            "n = pq of exactly 2048 or 3072 bits (a smaller key needs insecure_test=True, "
            "which admits n of >= 16 bits, and is breakable)",
            "C13.1",
            f"n of {bits} bits",
        )
    if math.gcd(p * q, (p - 1) * (q - 1)) != 1:
        raise ParameterError(
            function, "p, q", "gcd(pq, (p-1)(q-1)) = 1", "D13.1", "a common factor"
        )


def keypair_from_primes(
    p: int,
    q: int,
    *,
    insecure_test: bool = False,
    rng: RandomSource | None = None,
    is_prime: PrimalityTest = is_probable_prime,
) -> tuple[PublicKey, PrivateKey]:
    """Implements D13.1 and C13.12 from given primes (known-answer tests use p = 293, q = 433).

    Checks the shape (``check_prime_pair``), then tests p and q with C13.2's test (trial
    division, 40 Miller-Rabin rounds) whose bases come from ``rng``, by default a fresh
    ``SystemRandomSource``: whoever chose p and q cannot predict them, so a composite passes
    with probability at most 4^-40. ``is_prime`` lets the optimized tree plug in gmpy2.
    Raises ParameterError citing D13.1 (primes) or C13.1 (size of n).
    """
    check_prime_pair("keypair_from_primes", p, q, insecure_test)
    source = SystemRandomSource() if rng is None else rng
    for name, v in (("p", p), ("q", q)):
        if not is_prime(v, rng=source):
            raise ParameterError(
                "keypair_from_primes",
                name,
                f"a probable prime ({MILLER_RABIN_ROUNDS} Miller-Rabin rounds, C13.2)",
                "D13.1",
                f"a composite of {v.bit_length()} bits",
            )
    return _keypair(p, q)


def _keypair(p: int, q: int) -> tuple[PublicKey, PrivateKey]:
    public = PublicKey(p * q, (p * q).bit_length())
    return public, PrivateKey(public, p, q)


def generate_keypair(
    bits: int = DEFAULT_BITS,
    *,
    rng: RandomSource,
    insecure_test: bool = False,
    is_prime: PrimalityTest = is_probable_prime,
) -> tuple[PublicKey, PrivateKey]:
    """Implements C13.1-C13.3: p then q from ``random_prime(bits/2)``, q redrawn while q == p."""
    check_key_size("generate_keypair", bits, insecure_test)
    p = random_prime(bits // 2, rng=rng, is_prime=is_prime)
    q = random_prime(bits // 2, rng=rng, is_prime=is_prime)
    while q == p:
        q = random_prime(bits // 2, rng=rng, is_prime=is_prime)
    # p and q passed the primality test as they were drawn; only their shape is checked here.
    check_prime_pair("generate_keypair", p, q, insecure_test)
    return _keypair(p, q)


def check_plaintext(function: str, public: PublicKey, m: int) -> int:
    """Implements C13.5: a plaintext is an int in [0, n)."""
    if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < public.n:
        raise ShapeError(
            function, "m", f"an int in [0, n) with n={shown(public.n)}", "C13.5", shown(m)
        )
    return m


def check_ciphertext(function: str, public: PublicKey, c: int) -> int:
    """Implements C13.6: a ciphertext is an int in [1, n^2) coprime to n."""
    if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c < public.n_squared:
        raise ShapeError(function, "c", "an int in [1, n^2)", "C13.6", shown(c))
    if math.gcd(c, public.n) != 1:
        # The gcd is a prime factor of n: the message must not carry it (C13.6).
        raise ShapeError(function, "c", "gcd(c, n) = 1", "C13.6", "c shares a factor with n")
    return c


def random_unit(public: PublicKey, *, rng: RandomSource) -> int:
    """Implements C13.3: r uniform in Z*_n, by uniform_below(n) until r >= 1 and gcd(r, n) = 1."""
    while True:
        r = uniform_below(rng, public.n)
        if r and math.gcd(r, public.n) == 1:
            return r


def encrypt_with(public: PublicKey, m: int, r: int) -> int:
    """Implements D13.2 with a given r in Z*_n: c = (1 + m n) r^n mod n^2."""
    check_plaintext("encrypt_with", public, m)
    if (
        isinstance(r, bool)
        or not isinstance(r, int)
        or not 1 <= r < public.n
        or math.gcd(r, public.n) != 1
    ):
        raise ShapeError("encrypt_with", "r", "an int in Z*_n", "C13.3", shown(r))
    n2 = public.n_squared
    return (1 + m * public.n) % n2 * pow(r, public.n, n2) % n2


def encrypt(public: PublicKey, m: int, *, rng: RandomSource) -> int:
    """Implements D13.2 with r drawn by C13.3."""
    check_plaintext("encrypt", public, m)
    return encrypt_with(public, m, random_unit(public, rng=rng))


def decrypt(private: PrivateKey, c: int) -> int:
    """Implements C13.4: m_p = L_p(c^(p-1) mod p^2) h_p mod p, likewise m_q, then CRT."""
    p, q = private.p, private.q
    check_ciphertext("decrypt", private.public, c)
    m_p = _l(pow(c, p - 1, p * p), p) * private.h_p % p
    m_q = _l(pow(c, q - 1, q * q), q) * private.h_q % q
    # CRT: m = m_p + p ((m_q - m_p) p^-1 mod q).
    return m_p + p * ((m_q - m_p) * pow(p, -1, q) % q)


def add(public: PublicKey, c1: int, c2: int) -> int:
    """Implements D13.3: Enc(m1) Enc(m2) = Enc(m1 + m2 mod n)."""
    check_ciphertext("add", public, c1)
    check_ciphertext("add", public, c2)
    return c1 * c2 % public.n_squared


def mul_scalar(public: PublicKey, c: int, k: int) -> int:
    """Implements D13.3: Enc(m)^k = Enc(k m mod n) for an int k (reduced mod n)."""
    check_ciphertext("mul_scalar", public, c)
    if isinstance(k, bool) or not isinstance(k, int):
        raise ShapeError("mul_scalar", "k", "an int", "D13.3", shown(k))
    return pow(c, k % public.n, public.n_squared)


def negate(public: PublicKey, c: int) -> int:
    """Implements D13.3: Enc(m)^-1 = Enc(-m mod n)."""
    check_ciphertext("negate", public, c)
    return pow(c, -1, public.n_squared)


def rerandomize(public: PublicKey, c: int, *, rng: RandomSource) -> int:
    """Implements D13.3: c r^n mod n^2 for a fresh r (C13.3): same plaintext, fresh ciphertext."""
    check_ciphertext("rerandomize", public, c)
    return c * pow(random_unit(public, rng=rng), public.n, public.n_squared) % public.n_squared


def check_ciphertexts(function: str, public: PublicKey, cts: list[int]) -> None:
    """Implements C13.8: C13.6 for many ciphertexts with one gcd.

    Each must lie in [1, n^2); then gcd(prod_i c_i mod n, n) = 1 exactly when every c_i is a
    unit, because n = pq and a product mod n shares a prime with n iff a factor does. Only on
    failure is the offender found one by one.
    """
    product = 1
    for c in cts:
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c < public.n_squared:
            check_ciphertext(function, public, c)
        product = product * c % public.n
    if math.gcd(product, public.n) != 1:
        for c in cts:
            check_ciphertext(function, public, c)


def obfuscators(
    public: PublicKey,
    count: int,
    *,
    rng: RandomSource,
    private: PrivateKey | None = None,
    processes: int = 1,
) -> list[int]:
    """Implements C13.9: r_i^n mod n^2 for ``count`` fresh r_i (C13.3), in draw order (offline).

    With ``private`` each power is computed mod p^2 and mod q^2 with the exponent reduced as
    in C13.7, then joined by CRT: the same value. ``processes`` is checked (C0.2); this tree
    runs in one process.
    """
    check_processes("obfuscators", processes)
    rs = [random_unit(public, rng=rng) for _ in range(count)]
    if private is None:
        return [pow(r, public.n, public.n_squared) for r in rs]
    p, q, n = private.p, private.q, public.n
    return [
        crt_squares(private, pow(r, n % (p * (p - 1)), p * p), pow(r, n % (q * (q - 1)), q * q))
        for r in rs
    ]


def unit_below(rng: RandomSource, bound: int) -> int:
    """D13.4: ``uniform_below(rng, bound)`` (C2.7) repeated until it is at least 1."""
    while True:
        r = uniform_below(rng, bound)
        if r:
            return r


def crt_squares(private: PrivateKey, a: int, b: int) -> int:
    """The x mod n^2 with x = a mod p^2 and x = b mod q^2 (n^2 = p^2 q^2, coprime factors)."""
    p2, q2 = private.p * private.p, private.q * private.q
    return a + p2 * ((b - a) * pow(p2, -1, q2) % q2)


def key_holder_obfuscators(
    private: PrivateKey, count: int, *, rng: RandomSource, processes: int = 1
) -> list[int]:
    """Implements D13.4: CRT(r_p^p mod p^2, r_q^q mod q^2) for fresh r_p, r_q, in draw order.

    Each equals r^n mod n^2 for the r of ``key_holder_randomness`` (C13.10), an r uniform in
    Z*_n, at half the cost of C13.7's exponent n mod p(p-1). ``processes`` is checked (C0.2);
    this tree runs in one process.
    """
    check_processes("key_holder_obfuscators", processes)
    p, q = private.p, private.q
    out = []
    for _ in range(count):
        r_p = unit_below(rng, p)
        r_q = unit_below(rng, q)
        out.append(crt_squares(private, pow(r_p, p, p * p), pow(r_q, q, q * q)))
    return out


def key_holder_randomness(private: PrivateKey, r_p: int, r_q: int) -> int:
    """C13.10: the r in Z*_n with r^n = CRT(r_p^p mod p^2, r_q^q mod q^2) mod n^2.

    r = CRT(r_p^(q^-1 mod (p-1)) mod p, r_q^(p^-1 mod (q-1)) mod q); it exists because
    gcd(q, p - 1) = gcd(p, q - 1) = 1 (D13.1), and r is uniform in Z*_n when r_p, r_q are.
    """
    p, q = private.p, private.q
    a = pow(r_p, pow(q, -1, p - 1), p)
    b = pow(r_q, pow(p, -1, q - 1), q)
    return a + p * ((b - a) * pow(p, -1, q) % q)


SHORT_EXPONENT_BITS = 256


def short_exponent_base(public: PublicKey, *, rng: RandomSource) -> int:
    """Implements D13.5: the public base h = x^n mod n^2 for x drawn by C13.3."""
    return pow(random_unit(public, rng=rng), public.n, public.n_squared)


SMALL_ORDER_BOUND = 1024
# L = lcm(1, ..., 1024), 1,479 bits: every order up to SMALL_ORDER_BOUND divides it.
SMALL_ORDER_EXPONENT = math.lcm(*range(1, SMALL_ORDER_BOUND + 1))
BASE_RANGE = "an int in (1, n^2) coprime to n"
BASE_ORDER = (
    f"a base whose order modulo each prime factor of n does not divide lcm(1..{SMALL_ORDER_BOUND})"
)
BASE_RESIDUE = "an n-th residue mod n^2 (h = x^n mod n^2, checked with the secret key)"


def check_short_exponent_base(
    function: str, public: PublicKey, base: int, private: PrivateKey | None = None
) -> None:
    """Implements C13.11: refuse every base D13.5's assumption excludes that can be detected.

    1. ``base`` is an int in (1, n^2) with gcd(base, n) = 1 (a unit mod n^2).
    2. gcd(base^L - 1 mod n, n) = 1 for L = lcm(1..1024): the order of base mod p and mod q
       does not divide L. This refuses base = 1 mod n (1 + n, say), base of order <= 2 mod n^2
       (n^2 - 1) and every base of order <= 1024 modulo p or q, whose powers take few values.
    3. With ``private``: base^(p-1) = 1 mod p^2 and base^(q-1) = 1 mod q^2, i.e. base is an
       n-th residue; without the key this is the DCR problem (C13.11 says what stays unchecked).

    Raises ShapeError citing C13.11; the message never names a factor of n.
    """
    if (
        isinstance(base, bool)
        or not isinstance(base, int)
        or not 1 < base < public.n_squared
        or math.gcd(base, public.n) != 1
    ):
        raise ShapeError(function, "base", BASE_RANGE, "C13.11", shown(base))
    if math.gcd(pow(base, SMALL_ORDER_EXPONENT, public.n) - 1, public.n) != 1:
        raise ShapeError(function, "base", BASE_ORDER, "C13.11", "an order dividing it")
    if private is not None:
        p2, q2 = private.p * private.p, private.q * private.q
        if pow(base, private.p - 1, p2) != 1 or pow(base, private.q - 1, q2) != 1:
            raise ShapeError(function, "base", BASE_RESIDUE, "C13.11", "not an n-th residue")


def short_exponent_obfuscators(
    public: PublicKey, base: int, count: int, *, rng: RandomSource, processes: int = 1
) -> list[int]:
    """Implements D13.5 (option, stronger assumption): h^a mod n^2, a < 2^256, in draw order.

    ``processes`` is checked (C0.2); this tree runs in one process.
    """
    check_processes("short_exponent_obfuscators", processes)
    check_short_exponent_base("short_exponent_obfuscators", public, base)
    bound = 1 << SHORT_EXPONENT_BITS
    return [pow(base, uniform_below(rng, bound), public.n_squared) for _ in range(count)]


def encrypt_with_obfuscator(public: PublicKey, m: int, obfuscator: int) -> int:
    """Implements C13.9: (1 + m n) obfuscator mod n^2, the online half of D13.2."""
    check_plaintext("encrypt_with_obfuscator", public, m)
    return (1 + m * public.n) % public.n_squared * obfuscator % public.n_squared
