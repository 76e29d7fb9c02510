"""Primality testing and prime generation for Paillier keys (spec/13-paillier.md, C13.2).

Trial division by the primes below 1000, then Miller-Rabin with bases drawn from the injected
rng; candidates are drawn from the rng as C13.2 fixes, so a seeded source gives the same
primes in both trees. ``sbrml.reference.paillier`` builds keys from them (D13.1, C13.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from sbrml.reference.randomness import RandomSource, uniform_below

MILLER_RABIN_ROUNDS = 40
SMALL_PRIMES = [p for p in range(3, 1000) if all(p % k for k in range(2, math.isqrt(p) + 1))]


def is_probable_prime(
    candidate: int, *, rng: RandomSource, rounds: int = MILLER_RABIN_ROUNDS
) -> bool:
    """Implements C13.2: trial division by the primes below 1000, then Miller-Rabin.

    Each round draws its base a = 2 + uniform_below(rng, candidate - 3), so a is in
    [2, candidate - 2]; a composite passes a round with probability at most 1/4.
    """
    if candidate < 2:
        return False
    for small in (2, *SMALL_PRIMES):
        if candidate == small:
            return True
        if candidate % small == 0:
            return False
    d, s = candidate - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(2 + uniform_below(rng, candidate - 3), d, candidate)
        if x in (1, candidate - 1):
            continue
        for _ in range(s - 1):
            x = x * x % candidate
            if x == candidate - 1:
                break
        else:
            return False
    return True


PrimalityTest = Callable[..., bool]


def random_prime(
    bits: int, *, rng: RandomSource, is_prime: PrimalityTest = is_probable_prime
) -> int:
    """Implements C13.2: ceil(bits/8) LE bytes, masked to ``bits``, top two and low bit set.

    ``is_prime`` lets the optimized tree plug in its gmpy2 test; it draws the same bases.
    """
    while True:
        raw = int.from_bytes(rng.random_bytes(-(-bits // 8)), "little") & ((1 << bits) - 1)
        candidate = raw | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if is_prime(candidate, rng=rng):
            return candidate
