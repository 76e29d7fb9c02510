"""Primitives of pairwise-mask secure aggregation (spec/19-pairwise-masks.md): X25519, Shamir.

X25519 follows RFC 7748 section 5 in readable Python (the optimized tree calls
``cryptography``); Shamir's t-of-n secret sharing works over the Mersenne prime 2^521 - 1,
wide enough for 32-byte keys and seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.reference.errors import ParameterError, ShapeError
from sbrml.reference.randomness import RandomSource, uniform_below

P25519 = 2**255 - 19
A24 = 121665
SHAMIR_PRIME = 2**521 - 1


def check_32_bytes(function: str, name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ShapeError(
            function,
            name,
            "32 bytes",
            "D19.1",
            repr(type(value).__name__) if not isinstance(value, bytes) else f"{len(value)} bytes",
        )


def decode_scalar(k: bytes) -> int:
    """RFC 7748 decodeScalar25519: clear bits 0-2 and 255, set bit 254."""
    b = bytearray(k)
    b[0] &= 248
    b[31] &= 127
    b[31] |= 64
    return int.from_bytes(b, "little")


def x25519(k: bytes, u: bytes) -> bytes:
    """Implements D19.1: the X25519 function of RFC 7748 section 5 (Montgomery ladder)."""
    check_32_bytes("x25519", "k", k)
    check_32_bytes("x25519", "u", u)
    scalar = decode_scalar(k)
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)  # the top bit is masked (RFC 7748)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in range(254, -1, -1):
        bit = (scalar >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % P25519, (x2 - z2) % P25519
        aa, bb = a * a % P25519, b * b % P25519
        e = (aa - bb) % P25519
        c, d = (x3 + z3) % P25519, (x3 - z3) % P25519
        da, cb = d * a % P25519, c * b % P25519
        x3 = (da + cb) ** 2 % P25519
        z3 = x1 * (da - cb) ** 2 % P25519
        x2 = aa * bb % P25519
        z2 = e * (aa + A24 * e) % P25519
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P25519 - 2, P25519) % P25519).to_bytes(32, "little")


def x25519_public(k: bytes) -> bytes:
    """D19.1: the public key X25519(k, 9)."""
    return x25519(k, (9).to_bytes(32, "little"))


def shamir_share(
    secret: int, t: int, n: int, *, rng: RandomSource, prime: int = SHAMIR_PRIME
) -> list[tuple[int, int]]:
    """Implements D19.2: shares (x, f(x)) for x = 1..n of a random polynomial of degree t - 1
    with f(0) = secret; the coefficients a_1..a_{t-1} are drawn in order by uniform_below."""
    if (
        isinstance(t, bool)
        or isinstance(n, bool)
        or not isinstance(t, int)
        or not isinstance(n, int)
        or not 1 <= t <= n < prime
    ):
        raise ParameterError(
            "shamir_share", "t, n", "1 <= t <= n < prime", "C19.2", f"t={t}, n={n}"
        )
    if isinstance(secret, bool) or not isinstance(secret, int) or not 0 <= secret < prime:
        raise ShapeError("shamir_share", "secret", "an int in [0, prime)", "C19.2", repr(secret))
    coefficients = [secret] + [uniform_below(rng, prime) for _ in range(t - 1)]
    shares = []
    for x in range(1, n + 1):
        y = 0
        for a in reversed(coefficients):  # Horner
            y = (y * x + a) % prime
        shares.append((x, y))
    return shares


def shamir_reconstruct(
    shares: Sequence[tuple[int, int]], t: int, *, prime: int = SHAMIR_PRIME
) -> int:
    """Implements C19.2: Lagrange interpolation at 0 from any t shares with distinct x."""
    xs = [x for x, _ in shares]
    if len(shares) < t or len(set(xs)) != len(xs) or any(not 1 <= x < prime for x in xs):
        raise ShapeError(
            "shamir_reconstruct",
            "shares",
            f"at least t={t} shares with distinct x in [1, prime)",
            "C19.2",
            f"{len(shares)} shares, x = {sorted(xs)}",
        )
    used = list(shares)[:t]
    secret = 0
    for i, (xi, yi) in enumerate(used):
        num, den = 1, 1
        for j, (xj, _) in enumerate(used):
            if i != j:
                num = num * (-xj) % prime
                den = den * (xi - xj) % prime
        secret = (secret + yi * num * pow(den, -1, prime)) % prime
    return secret
