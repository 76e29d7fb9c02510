"""Random sources: one ChaCha20 keystream construction (spec/02-randomness.md).

The reference computes ChaCha20 (RFC 8439, section 2.3-2.4) in readable pure Python; the
optimized tree calls ``cryptography`` and must produce the same bytes. The key schedule and
bytes-to-integers (``sbrml.core.randomness``) are shared. Every randomized
function in sbrml takes such a source as its keyword-only ``rng`` argument.
"""

from __future__ import annotations

import secrets
from typing import Any

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

_MASK32 = 0xFFFFFFFF
_CONSTANTS = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)


def _rotl(v: int, c: int) -> int:
    return ((v << c) & _MASK32) | (v >> (32 - c))


def _quarter_round(s: list[int], a: int, b: int, c: int, d: int) -> None:
    # RFC 8439 section 2.1.
    s[a] = (s[a] + s[b]) & _MASK32
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & _MASK32
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & _MASK32
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & _MASK32
    s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key: bytes, counter: int, nonce: bytes) -> bytes:
    """Implements D2.1: the ChaCha20 block function of RFC 8439, section 2.3."""
    if len(key) != KEY_BYTES or len(nonce) != 12 or not 0 <= counter < MAX_BLOCKS:
        raise ParameterError(
            "chacha20_block",
            "key/counter/nonce",
            "32-byte key, 0 <= counter < 2^32, 12-byte nonce",
            "D2.1",
            f"key {len(key)} bytes, counter={counter}, nonce {len(nonce)} bytes",
        )
    initial = [
        *_CONSTANTS,
        *(int.from_bytes(key[i : i + 4], "little") for i in range(0, 32, 4)),
        counter,
        *(int.from_bytes(nonce[i : i + 4], "little") for i in range(0, 12, 4)),
    ]
    s = list(initial)
    for _ in range(10):
        _quarter_round(s, 0, 4, 8, 12)
        _quarter_round(s, 1, 5, 9, 13)
        _quarter_round(s, 2, 6, 10, 14)
        _quarter_round(s, 3, 7, 11, 15)
        _quarter_round(s, 0, 5, 10, 15)
        _quarter_round(s, 1, 6, 11, 12)
        _quarter_round(s, 2, 7, 8, 13)
        _quarter_round(s, 3, 4, 9, 14)
    return b"".join(
        ((w + i) & _MASK32).to_bytes(4, "little") for w, i in zip(s, initial, strict=True)
    )


class ChaCha20RandomSource:
    """Implements D2.2: the keystream of ChaCha20(key, nonce = 0^12, counter = 0, 1, ...)."""

    def __init__(self, key: bytes):
        check_key(type(self).__name__, key)
        self._key = key
        self._counter = 0
        self._buffer = b""
        self._derived: dict[str, int] = {}

    def random_bytes(self, count: int) -> bytes:
        """Implements C2.4 and C2.5: the next ``count`` keystream bytes, in order."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ParameterError("random_bytes", "count", "an int >= 0", "C2.4", shown(count))
        needed = count - len(self._buffer)
        blocks = max(0, -(-needed // BLOCK_BYTES))
        if self._counter + blocks > MAX_BLOCKS:
            raise RandomnessError(
                "random_bytes",
                "count",
                "at most 2^32 blocks per key",
                "C2.5",
                f"{shown(count)} bytes at block {self._counter}",
            )
        parts = [self._buffer]
        nonce = bytes(12)
        for _ in range(blocks):
            parts.append(chacha20_block(self._key, self._counter, nonce))
            self._counter += 1
        stream = b"".join(parts)
        self._buffer = stream[count:]
        return stream[:count]

    def __reduce__(self) -> Any:
        # C2.9: a copy (copy, deepcopy, pickle) would hand out this source's streams twice.
        raise TypeError(
            f"{type(self).__name__} cannot be copied or pickled: a copy would repeat every "
            "secret it draws (spec C2.9); derive a child instead"
        )

    def derive(self, label: str) -> ChaCha20RandomSource:
        """Implements C2.3 and C2.9: child k of ``label``, keyed by HMAC(key, LE64(k) || label).

        ``k`` counts this source's earlier ``derive`` calls with the same label, so asking
        twice never returns the same stream; the parent's byte stream is not consumed.
        """
        return ChaCha20RandomSource(next_child_key(self._key, self._derived, label))


class SystemRandomSource(ChaCha20RandomSource):
    """Implements C2.1: the keystream keyed from the operating system's CSPRNG (the default)."""

    def __init__(self) -> None:
        super().__init__(secrets.token_bytes(KEY_BYTES))


class DeterministicRandomSource(ChaCha20RandomSource):
    """UNSAFE for real secrets: the keystream keyed from a public seed (C2.2).

    For tests, conformance vectors and reproducible demos only; anyone who knows the seed
    knows every share and mask.
    """

    def __init__(self, seed: int):
        super().__init__(seed_key(seed))


def ring_elements(rng: RandomSource, count: int, bits: int = RING_BITS) -> list[int]:
    """Implements C2.6: each element is 8 keystream bytes, little-endian, reduced mod 2^bits."""
    check_ring_bits("ring_elements", bits)
    data = rng.random_bytes(8 * count)
    mask = (1 << bits) - 1
    return [int.from_bytes(data[i : i + 8], "little") & mask for i in range(0, len(data), 8)]


__all__ = [
    "ChaCha20RandomSource",
    "DeterministicRandomSource",
    "RandomSource",
    "SystemRandomSource",
    "chacha20_block",
    "ring_elements",
    "uniform_below",
]
