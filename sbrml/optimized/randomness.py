"""Random sources: the ChaCha20 keystream of spec/02-randomness.md via ``cryptography``.

Same construction and byte order as ``sbrml.reference.randomness``, so both trees draw
identical values from identical seeds; key derivation (SHA-256, HMAC) is shared code.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from sbrml.core.errors import ParameterError, RandomnessError, shown
from sbrml.core.params import RING_BITS, check_ring_bits
from sbrml.core.randomness import (
    BLOCK_BYTES,
    KEY_BYTES,
    MAX_BLOCKS,
    RandomSource,
    check_key,
    next_child_key,
    seed_key,
    uniform_below,
)
from sbrml.optimized.ring import U64, mask_bits

__all__ = [
    "ChaCha20RandomSource",
    "DeterministicRandomSource",
    "RandomSource",
    "SystemRandomSource",
    "fill_ring_elements",
    "ring_elements",
    "uniform_below",
]

# ChaCha20 "encrypts" zeros into the keystream, one block of this constant at a time. Zeros
# made per call (calloc) took twice as long at 9 x 1.25M elements on the project machine
# (27 ms against 12 ms: the first touch of fresh pages), and a zero buffer grown to the largest
# request would keep that memory for the life of the process.
ZERO_BLOCK = bytes(1 << 16)


class ChaCha20RandomSource:
    """Implements D2.2: ChaCha20(key, nonce = 0^12, counter from 0) keystream, via OpenSSL."""

    def __init__(self, key: bytes):
        check_key(type(self).__name__, key)
        self._key = key
        # cryptography's 16-byte ChaCha20 nonce is the 32-bit counter (LE) then RFC 8439's nonce.
        self._stream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
        self._used = 0
        self._derived: dict[str, int] = {}

    def _reserve(self, count: int) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ParameterError("random_bytes", "count", "an int >= 0", "C2.4", shown(count))
        if self._used + count > MAX_BLOCKS * BLOCK_BYTES:
            raise RandomnessError(
                "random_bytes",
                "count",
                "at most 2^32 blocks per key",
                "C2.5",
                f"{shown(count)} bytes at block {self._used // BLOCK_BYTES}",
            )
        self._used += count

    def random_bytes(self, count: int) -> bytes:
        """Implements C2.4 and C2.5: the next ``count`` keystream bytes, in order."""
        self._reserve(count)
        # ChaCha20 "encrypts" zeros into the keystream; the zeros are made for this call.
        return self._stream.update(bytes(count))

    def fill_uint64(self, out: U64) -> None:
        """Fill a C-contiguous uint64 array with the next 8*out.size keystream bytes (C2.6)."""
        nbytes = 8 * out.size
        self._reserve(nbytes)
        view = out.reshape(-1).data.cast("B")
        zeros = memoryview(ZERO_BLOCK)
        for start in range(0, nbytes, len(ZERO_BLOCK)):
            stop = min(nbytes, start + len(ZERO_BLOCK))
            self._stream.update_into(zeros[: stop - start], view[start:stop])

    def __reduce__(self) -> Any:
        # C2.9: a copy (copy, deepcopy, pickle) would hand out this source's streams twice.
        raise TypeError(
            f"{type(self).__name__} cannot be copied or pickled: a copy would repeat every "
            "secret it draws (spec C2.9); derive a child instead"
        )

    def derive(self, label: str) -> ChaCha20RandomSource:
        """Implements C2.3 and C2.9: child k of ``label``; never the same stream twice."""
        return ChaCha20RandomSource(next_child_key(self._key, self._derived, label))


class SystemRandomSource(ChaCha20RandomSource):
    """Implements C2.1: the keystream keyed from the operating system's CSPRNG (the default)."""

    def __init__(self) -> None:
        super().__init__(secrets.token_bytes(KEY_BYTES))


class DeterministicRandomSource(ChaCha20RandomSource):
    """UNSAFE for real secrets: the keystream keyed from a public seed (C2.2)."""

    def __init__(self, seed: int):
        super().__init__(seed_key(seed))


def fill_ring_elements(rng: RandomSource, out: U64) -> None:
    """Implements C2.6 into an existing C-contiguous uint64 array (64-bit ring), row-major."""
    if isinstance(rng, ChaCha20RandomSource):
        rng.fill_uint64(out)
    else:
        out.reshape(-1)[...] = np.frombuffer(rng.random_bytes(8 * out.size), dtype="<u8")


def ring_elements(rng: RandomSource, count: int, bits: int = RING_BITS) -> U64:
    """Implements C2.6: each element is 8 keystream bytes, little-endian, reduced mod 2^bits."""
    check_ring_bits("ring_elements", bits)
    out = np.empty(count, dtype=np.uint64)
    fill_ring_elements(rng, out)
    return mask_bits(out, bits)
