"""Pairwise-mask secure aggregation on the optimized tree (spec/20-mask-protocol.md, P20.1).

The rounds, message formats and checks are the reference's; this tree plugs in X25519 and
ChaCha20 from OpenSSL (``cryptography``) and NumPy ring arithmetic, so the transcripts are
identical. Masks are expanded straight into a reused uint64 buffer and added in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sbrml.core.params import DEFAULT_FRAC_BITS
from sbrml.optimized import masking_primitives as prim
from sbrml.optimized.channel import pack_ring, unpack_ring
from sbrml.optimized.randomness import ChaCha20RandomSource, RandomSource
from sbrml.optimized.ring import U64, as_real_array, decode, encode, to_signed
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


CHUNK = 1 << 16  # ring elements: 512 KiB of keystream, added while it is still in cache


def apply_masks(vector: U64, terms: MaskTerms, d: int) -> U64:
    """Implements D19.4 on vectors: vector + sum_k sign_k PRG(key_k), wrapping mod 2^64."""
    source = np.asarray(vector, dtype=np.uint64)

    def load(start: int, stop: int, out: U64) -> None:
        out[...] = source[start:stop]

    return _masked(d, terms, load)


def mask_input(x: ArrayLike, frac_bits: int, n: int, terms: MaskTerms) -> U64:
    """P20.1 round 2: encode (C20.2) and mask, one cache-sized chunk at a time.

    The whole input is screened first with one min/max pass (rounding is monotone, so the
    extremes decide C1.1, C1.2 and C20.2; a failure re-runs ``encode_input`` for its precise
    error), then each chunk is scaled, rounded and converted where the masks are added.
    """
    arr = as_real_array("encode", "values", x, frac_bits=frac_bits).reshape(-1)
    scale = float(1 << frac_bits)
    limit = sum_limit(n)
    with np.errstate(over="ignore", invalid="ignore"):
        extremes = np.rint(np.array([arr.min(), arr.max()]) * scale) if arr.size else np.zeros(2)
    if not (
        np.isfinite(extremes).all() and -limit <= int(extremes[0]) <= int(extremes[1]) <= limit
    ):
        encode_input(arr, frac_bits, n)  # raises the C1.1 / C1.2 / C20.2 error for the index
    scaled = np.empty(min(arr.size, CHUNK), dtype=np.float64)

    def load(start: int, stop: int, out: U64) -> None:
        part = scaled[: stop - start]
        np.multiply(arr[start:stop], scale, out=part)
        np.rint(part, out=part)  # half to even, as encode (C1.3)
        out.view(np.int64)[...] = part

    return _masked(arr.size, terms, load)


def _masked(d: int, terms: MaskTerms, load: Callable[[int, int, U64], None]) -> U64:
    # All keystreams advance together, one cache-sized chunk at a time, so each mask chunk is
    # added right after it is written instead of after a round trip through main memory.
    out = np.empty(d, dtype=np.uint64)
    streams = [(sign > 0, ChaCha20RandomSource(key)) for sign, key in terms]
    mask = np.empty(min(d, CHUNK), dtype=np.uint64)
    for start in range(0, d, CHUNK):
        stop = min(d, start + CHUNK)
        chunk, part = out[start:stop], mask[: stop - start]
        load(start, stop, chunk)
        for plus, stream in streams:
            stream.fill_uint64(part)
            (np.add if plus else np.subtract)(chunk, part, out=chunk)
    return out


def total(vectors: list[U64], d: int) -> U64:
    """The ring sum of the masked inputs (uint64 addition wraps mod 2^64), chunk by chunk so
    that the partial sum stays in cache while every input streams through once."""
    out = np.zeros(d, dtype=np.uint64)
    for start in range(0, d, CHUNK):
        chunk = out[start : start + CHUNK]
        for v in vectors:
            np.add(chunk, v[start : start + CHUNK], out=chunk)
    return out


def decode_sum(vector: U64, frac_bits: int, count: int) -> tuple[Any, Any]:
    """C1.4 on the unmasked sum; the mean divides it by the number of workers counted."""
    values = decode(vector, frac_bits=frac_bits)
    return values, values / count


OPTIMIZED = Backend(
    prim.x25519_many,
    prim.x25519_public,
    ChaCha20RandomSource,
    mask_input,
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
