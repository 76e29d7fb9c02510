"""X25519 via ``cryptography`` and Shamir sharing (spec/19-pairwise-masks.md); the reference's API.

Shamir sharing of a few 32-byte seeds is small integer arithmetic, so this tree uses the
reference's functions; X25519 runs in OpenSSL.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sbrml.reference.masking_primitives import (
    SHAMIR_PRIME,
    check_32_bytes,
    shamir_reconstruct,
    shamir_share,
)

__all__ = [
    "SHAMIR_PRIME",
    "shamir_reconstruct",
    "shamir_share",
    "x25519",
    "x25519_many",
    "x25519_public",
]


def x25519(k: bytes, u: bytes) -> bytes:
    """Implements D19.1 with OpenSSL (RFC 7748); an all-zero output is returned, not refused."""
    check_32_bytes("x25519", "k", k)
    check_32_bytes("x25519", "u", u)
    try:
        return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))
    except ValueError:
        # OpenSSL refuses low-order points (an all-zero secret); RFC 7748's function returns 0.
        return bytes(32)


def x25519_many(k: bytes, us: Sequence[bytes]) -> list[bytes]:
    """D19.1 for one private key and several public keys: the key is loaded into OpenSSL once."""
    check_32_bytes("x25519", "k", k)
    private = X25519PrivateKey.from_private_bytes(k)
    out = []
    for u in us:
        check_32_bytes("x25519", "u", u)
        try:
            out.append(private.exchange(X25519PublicKey.from_public_bytes(u)))
        except ValueError:
            out.append(bytes(32))  # as in x25519: RFC 7748 returns 0 for low-order points
    return out


def x25519_public(k: bytes) -> bytes:
    """D19.1: X25519(k, 9)."""
    check_32_bytes("x25519_public", "k", k)
    return X25519PrivateKey.from_private_bytes(k).public_key().public_bytes_raw()
