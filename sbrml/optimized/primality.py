"""Primality testing and prime generation with gmpy2 (spec/13-paillier.md, C13.2); same API
as the reference's ``primality``.

The reference's trial division, candidates and Miller-Rabin bases (the same bytes from the
same rng, so both trees find the same primes from one seed), with gmpy2's modular powers.
"""

from __future__ import annotations

import gmpy2

from sbrml.optimized.randomness import RandomSource, uniform_below
from sbrml.reference import primality as _reference
from sbrml.reference.primality import MILLER_RABIN_ROUNDS, SMALL_PRIMES

__all__ = ["MILLER_RABIN_ROUNDS", "is_probable_prime", "random_prime"]


def is_probable_prime(
    candidate: int, *, rng: RandomSource, rounds: int = MILLER_RABIN_ROUNDS
) -> bool:
    """Implements C13.2 with gmpy2.powmod; the reference's trial division and base draws."""
    if candidate < 2:
        return False
    for small in (2, *SMALL_PRIMES):
        if candidate == small:
            return True
        if candidate % small == 0:
            return False
    c = gmpy2.mpz(candidate)
    d, s = c - 1, 0
    while not d & 1:
        d, s = d >> 1, s + 1
    for _ in range(rounds):
        x = gmpy2.powmod(2 + uniform_below(rng, candidate - 3), d, c)
        if x in (1, c - 1):
            continue
        for _ in range(s - 1):
            x = gmpy2.powmod(x, 2, c)
            if x == c - 1:
                break
        else:
            return False
    return True


def random_prime(bits: int, *, rng: RandomSource) -> int:
    """Implements C13.2: the reference's candidates, tested with gmpy2."""
    return _reference.random_prime(bits, rng=rng, is_prime=is_probable_prime)
