"""Pairwise-mask secure aggregation, the reference's vector arithmetic (spec/20, C20.2, D19.4).

Lists of ints mod 2^64: encode with the sum bound, add masks, sum, decode. The optimized tree
plugs NumPy versions of the same functions into the same ``Backend``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.errors import EncodingError, shown
from sbrml.core.params import RING_BITS
from sbrml.reference import masking_primitives as prim
from sbrml.reference.channel import pack_ring, unpack_ring
from sbrml.reference.mask_worker import Backend, MaskTerms
from sbrml.reference.randomness import ChaCha20RandomSource
from sbrml.reference.ring import decode, encode


def sum_limit(n: int) -> int:
    """C20.2: the largest |round(x 2^F)| for which a sum of n encodings cannot wrap."""
    return ((1 << (RING_BITS - 1)) - 1) // n


def wrap_error(k: int, frac_bits: int, n: int, value: float) -> EncodingError:
    """The C20.2 error for coordinate k."""
    return EncodingError(
        "encode_input",
        f"x[{k}]",
        f"|round(x 2^{frac_bits})| <= (2^63 - 1) // n = {sum_limit(n)} so a sum of n={n} "
        "cannot wrap",
        "C20.2",
        shown(value),
    )


def encode_input(x: Sequence[float], frac_bits: int, n: int) -> list[int]:
    """Implements C20.2: fixed point (D1.3) with |round(x 2^F)| <= (2^63 - 1) // n."""
    encoded = encode(x, frac_bits=frac_bits)
    for k, e in enumerate(encoded):
        signed = e - (1 << RING_BITS) if e >> (RING_BITS - 1) else e
        if abs(signed) > sum_limit(n):
            raise wrap_error(k, frac_bits, n, x[k])
    return encoded


def apply_masks(vector: Sequence[int], terms: MaskTerms, d: int) -> list[int]:
    """Implements D19.4 on vectors: vector + sum_k sign_k * PRG(key_k) mod 2^64."""
    out = list(vector)
    modulus = 1 << RING_BITS
    for sign, key in terms:
        out = [(a + sign * m) % modulus for a, m in zip(out, prim.expand_mask(key, d), strict=True)]
    return out


def mask_input(x: Sequence[float], frac_bits: int, n: int, terms: MaskTerms) -> list[int]:
    """P20.1 round 2: the worker's encoded input (C20.2) plus its masks (D19.4)."""
    return apply_masks(encode_input(x, frac_bits, n), terms, len(x))


def total(vectors: list[list[int]], d: int) -> list[int]:
    """The ring sum of the masked inputs, position by position."""
    out = [0] * d
    for v in vectors:
        out = [(a + b) % (1 << RING_BITS) for a, b in zip(out, v, strict=True)]
    return out


def decode_sum(vector: list[int], frac_bits: int, count: int) -> tuple[list[float], list[float]]:
    """C1.4 on the unmasked sum; the mean divides it by the number of workers counted."""
    values = decode(vector, frac_bits=frac_bits)
    return values, [v / count for v in values]


REFERENCE = Backend(
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
