"""Two-party additive secret sharing over Z_2^k on uint64 arrays (spec/03-sharing.md)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from sbrml.core.errors import ShapeError
from sbrml.core.params import check_ring_bits
from sbrml.optimized.randomness import RandomSource, ring_elements
from sbrml.optimized.ring import RING_BITS, U64, as_ring, mask_bits


def share(secret: ArrayLike, *, rng: RandomSource, bits: int = RING_BITS) -> tuple[U64, U64]:
    """Implements P3.1: x^0 = r (x.size fresh ring elements, row-major), x^1 = x - r."""
    check_ring_bits("share", bits)
    x = as_ring("share", "secret", secret, bits)
    # P3.1 step 1: draw r, in row-major coordinate order.
    mask0 = ring_elements(rng, x.size, bits).reshape(x.shape)
    # P3.1 step 2: the second share is the difference.
    return mask0, mask_bits(x - mask0, bits)


def reconstruct(share0: ArrayLike, share1: ArrayLike, *, bits: int = RING_BITS) -> U64:
    """Implements P3.2: x = x^0 + x^1 in Z_2^k."""
    check_ring_bits("reconstruct", bits)
    a = as_ring("reconstruct", "share0", share0, bits)
    b = as_ring("reconstruct", "share1", share1, bits)
    if a.shape != b.shape:
        raise ShapeError(
            "reconstruct", "share1", "the shape of share0", "P3.2", f"{b.shape} vs {a.shape}"
        )
    return mask_bits(np.add(a, b), bits)
