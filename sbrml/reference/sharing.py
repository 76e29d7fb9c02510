"""Two-party additive secret sharing over Z_2^k (spec/03-sharing.md)."""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.errors import ShapeError
from sbrml.core.params import RING_BITS, check_ring_bits
from sbrml.reference.randomness import RandomSource, ring_elements
from sbrml.reference.ring import check_ring_vector, ring_add, ring_sub


def share(
    secret: Sequence[int], *, rng: RandomSource, bits: int = RING_BITS
) -> tuple[list[int], list[int]]:
    """Implements P3.1: x^0 = r (len(x) fresh ring elements from rng), x^1 = x - r."""
    check_ring_bits("share", bits)
    check_ring_vector("share", "secret", secret, bits)
    # P3.1 step 1: draw r, in coordinate order.
    mask0 = ring_elements(rng, len(secret), bits)
    # P3.1 step 2: the second share is the difference.
    return mask0, ring_sub(secret, mask0, bits)


def reconstruct(
    share0: Sequence[int], share1: Sequence[int], *, bits: int = RING_BITS
) -> list[int]:
    """Implements P3.2: x = x^0 + x^1 in Z_2^k."""
    check_ring_bits("reconstruct", bits)
    check_ring_vector("reconstruct", "share0", share0, bits)
    check_ring_vector("reconstruct", "share1", share1, bits)
    if len(share0) != len(share1):
        raise ShapeError(
            "reconstruct",
            "share1",
            "len(share1) == len(share0)",
            "P3.2",
            f"{len(share1)} vs {len(share0)}",
        )
    return ring_add(share0, share1, bits)
