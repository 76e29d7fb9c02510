"""Primitives of pairwise-mask secure aggregation (spec/19-pairwise-masks.md).

X25519 follows RFC 7748 section 5 in readable Python (the optimized tree calls
``cryptography``); HKDF-SHA-256 follows RFC 5869; masks are ChaCha20 keystreams (D2.2) keyed
by HKDF outputs; Shamir's t-of-n secret sharing works over the Mersenne prime 2^521 - 1,
wide enough for 32-byte keys and seeds; a share travels in an encrypt-then-MAC box.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Sequence

from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.reference.randomness import ChaCha20RandomSource, RandomSource, uniform_below

P25519 = 2**255 - 19
A24 = 121665
SHAMIR_PRIME = 2**521 - 1
SHAMIR_BYTES = 66  # ceil(521 / 8): one field element on the wire
HASH_BYTES = 32
MASK_INFO = b"sbrml/masks/v1/pairwise"
SELF_MASK_INFO = b"sbrml/masks/v1/self"
BOX_INFO = b"sbrml/masks/v1/box/"
TAG_BYTES = 32


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


def x25519_many(k: bytes, us: Sequence[bytes]) -> list[bytes]:
    """D19.1 for one private key and several public keys, in order."""
    return [x25519(k, u) for u in us]


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
            "shamir_share", "t, n", "1 <= t <= n < prime", "C19.2", f"t={shown(t)}, n={shown(n)}"
        )
    if isinstance(secret, bool) or not isinstance(secret, int) or not 0 <= secret < prime:
        raise ShapeError("shamir_share", "secret", "an int in [0, prime)", "C19.2", shown(secret))
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
    weights = lagrange_at_zero(tuple(x for x, _ in used), prime)
    return sum(w * y for w, (_, y) in zip(weights, used, strict=True)) % prime


@functools.lru_cache(maxsize=64)
def lagrange_at_zero(xs: tuple[int, ...], prime: int) -> tuple[int, ...]:
    """C19.2: l_i = prod_{j != i} x_j / (x_j - x_i) mod prime, so f(0) = sum_i l_i f(x_i).

    The points are public, and a server reconstructs many secrets from the same survivors,
    so the weights are cached.
    """
    weights = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if i != j:
                num = num * (-xj) % prime
                den = den * (xi - xj) % prime
        weights.append(num * pow(den, -1, prime) % prime)
    return tuple(weights)


def hkdf_sha256(ikm: bytes, info: bytes, length: int, salt: bytes = b"") -> bytes:
    """Implements D19.3: HKDF-SHA-256 of RFC 5869 (extract, then expand to ``length`` bytes)."""
    if not 1 <= length <= 255 * HASH_BYTES:
        raise ParameterError("hkdf_sha256", "length", "1 <= length <= 8160", "D19.3", shown(length))
    prk = hmac.new(salt or bytes(HASH_BYTES), ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // HASH_BYTES) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def pairwise_seed(shared_secret: bytes) -> bytes:
    """Implements D19.4: the pairwise mask key HKDF(X25519 secret, info "…/pairwise", 32)."""
    return hkdf_sha256(shared_secret, MASK_INFO, 32)


def self_seed(seed: bytes) -> bytes:
    """Implements D19.4: the self-mask key HKDF(b_u, info "…/self", 32)."""
    return hkdf_sha256(seed, SELF_MASK_INFO, 32)


def expand_mask(key: bytes, d: int) -> list[int]:
    """Implements D19.4: the first d ring elements (C2.6) of ChaCha20 keyed by ``key``."""
    data = ChaCha20RandomSource(key).random_bytes(8 * d)
    return [int.from_bytes(data[i : i + 8], "little") for i in range(0, len(data), 8)]


def box_keys(shared_secret: bytes, sender: int, receiver: int) -> tuple[bytes, bytes]:
    """Implements D19.5: (encryption key, MAC key), one pair per direction of each link."""
    info = BOX_INFO + sender.to_bytes(4, "little") + receiver.to_bytes(4, "little")
    okm = hkdf_sha256(shared_secret, info, 64)
    return okm[:32], okm[32:]


Keystream = Callable[[bytes], RandomSource]


def seal(
    shared_secret: bytes,
    sender: int,
    receiver: int,
    plaintext: bytes,
    keystream: Keystream = ChaCha20RandomSource,
) -> bytes:
    """Implements D19.5: ChaCha20 encryption, then HMAC-SHA-256 over the ciphertext."""
    enc, mac = box_keys(shared_secret, sender, receiver)
    stream = keystream(enc).random_bytes(len(plaintext))
    ciphertext = bytes(a ^ b for a, b in zip(plaintext, stream, strict=True))
    return ciphertext + hmac.new(mac, ciphertext, hashlib.sha256).digest()


def open_box(
    shared_secret: bytes,
    sender: int,
    receiver: int,
    box: bytes,
    keystream: Keystream = ChaCha20RandomSource,
) -> bytes:
    """Implements C19.3: the plaintext of a box whose tag verifies, else ShapeError."""
    enc, mac = box_keys(shared_secret, sender, receiver)
    ciphertext, tag = box[:-TAG_BYTES], box[-TAG_BYTES:]
    expected = hmac.new(mac, ciphertext, hashlib.sha256).digest()
    if len(box) < TAG_BYTES or not hmac.compare_digest(tag, expected):
        raise ShapeError(
            "open_box", "box", "a box whose HMAC tag verifies", "C19.3", f"{len(box)} bytes"
        )
    stream = keystream(enc).random_bytes(len(ciphertext))
    return bytes(a ^ b for a, b in zip(ciphertext, stream, strict=True))


def is_low_order(
    public: bytes, agree: Callable[[bytes, Sequence[bytes]], list[bytes]] | None = None
) -> bool:
    """Implements C19.4: X25519(0^32, u) = 0 exactly when u has order dividing 8.

    The clamped all-zero scalar is 2^254, which kills exactly the points whose order is a
    power of two (the curve's cofactor is 8, the twist's 4); every other point survives.
    """
    return (agree or x25519_many)(bytes(32), [public])[0] == bytes(32)
