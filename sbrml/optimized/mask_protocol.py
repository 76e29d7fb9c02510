"""Pairwise-mask secure aggregation on the optimized tree (spec/20-mask-protocol.md, P20.1).

The rounds, message formats and checks are the reference's; this tree plugs in X25519 and
ChaCha20 from OpenSSL (``cryptography``) and NumPy ring arithmetic, so the transcripts are
identical. Masks are expanded straight into a reused uint64 buffer and added in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sbrml.optimized import masking_primitives as prim
from sbrml.optimized.channel import pack_ring, unpack_ring
from sbrml.optimized.randomness import ChaCha20RandomSource, RandomSource
from sbrml.optimized.ring import U64, decode, encode, to_signed
from sbrml.reference.mask_protocol import (
    ROUNDS,
    Backend,
    MaskResult,
    MaskTamper,
    MaskTerms,
    sum_limit,
    wrap_error,
)
from sbrml.reference.mask_protocol import masked_aggregate as _protocol
from sbrml.reference.ring import DEFAULT_FRAC_BITS

__all__ = ["OPTIMIZED", "ROUNDS", "MaskResult", "masked_aggregate"]


def encode_input(x: ArrayLike, frac_bits: int, n: int) -> U64:
    """Implements C20.2: fixed point (D1.3) with |round(x 2^F)| <= (2^63 - 1) // n."""
    encoded = encode(x, frac_bits=frac_bits)
    limit = sum_limit(n)
    signed = to_signed(encoded)
    # Not np.abs: it maps -2^63 to itself.
    over = np.flatnonzero((signed > limit) | (signed < -limit))
    if over.size:
        k = int(over[0])
        raise wrap_error(k, frac_bits, n, float(np.asarray(x, dtype=np.float64).reshape(-1)[k]))
    return encoded


def apply_masks(vector: U64, terms: MaskTerms, d: int) -> U64:
    """Implements D19.4 on vectors: vector + sum_k sign_k PRG(key_k), wrapping mod 2^64."""
    out = np.array(vector, dtype=np.uint64, copy=True)
    mask = np.empty(d, dtype=np.uint64)
    for sign, key in terms:
        ChaCha20RandomSource(key).fill_uint64(mask)
        if sign > 0:
            np.add(out, mask, out=out)
        else:
            np.subtract(out, mask, out=out)
    return out


def total(vectors: list[U64], d: int) -> U64:
    """The ring sum of the masked inputs (uint64 addition wraps mod 2^64)."""
    out = np.zeros(d, dtype=np.uint64)
    for v in vectors:
        np.add(out, v, out=out)
    return out


def decode_sum(vector: U64, frac_bits: int, count: int) -> tuple[Any, Any]:
    """C1.4 on the unmasked sum; the mean divides it by the number of workers counted."""
    values = decode(vector, frac_bits=frac_bits)
    return values, values / count


OPTIMIZED = Backend(
    prim.x25519,
    prim.x25519_public,
    ChaCha20RandomSource,
    encode_input,
    apply_masks,
    pack_ring,
    unpack_ring,
    total,
    decode_sum,
)


def masked_aggregate(
    inputs: Any,
    *,
    t: int,
    rng: RandomSource,
    frac_bits: int = DEFAULT_FRAC_BITS,
    dropouts: Mapping[int, str] | None = None,
    tamper: MaskTamper | None = None,
) -> MaskResult:
    """Implements P20.1 with OpenSSL X25519/ChaCha20 and NumPy vectors."""
    return _protocol(
        inputs,
        t=t,
        rng=rng,
        frac_bits=frac_bits,
        dropouts=dropouts,
        tamper=tamper,
        backend=OPTIMIZED,
    )
