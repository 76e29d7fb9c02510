"""The shared half of spec section 2: key schedule, the source interface, bytes to integers.

Part of ``sbrml.core``. Each tree computes the ChaCha20 keystream its own way (pure Python in
``sbrml.reference.randomness``, OpenSSL in ``sbrml.optimized.randomness``); how keys are made
from seeds and labels, and how bytes become bounded integers, is defined once here so that
both trees draw the same values from the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

from sbrml.core.errors import ParameterError, RandomnessError, shown

KEY_BYTES = 32
BLOCK_BYTES = 64
MAX_BLOCKS = 1 << 32
SEED_DOMAIN = b"sbrml/seed/v1/"
DERIVE_DOMAIN = b"sbrml/derive/v2/"
MAX_DERIVES = 1 << 64


class RandomSource(Protocol):
    """The randomness interface (D2.2): a byte stream plus label derivation."""

    def random_bytes(self, count: int) -> bytes:
        """The next ``count`` bytes of this source's keystream (C2.4)."""
        ...

    def derive(self, label: str) -> RandomSource:
        """A fresh child source; no two calls on one source return the same stream (C2.3)."""
        ...


def check_key(function: str, key: bytes) -> None:
    """Implements D2.2: a source key is exactly 32 bytes."""
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise ParameterError(function, "key", "32 bytes", "D2.2", got)


def derive_key(key: bytes, index: int, label: str) -> bytes:
    """Implements C2.3: key_k = HMAC-SHA-256(key, "sbrml/derive/v2/" || LE64(k) || UTF-8(label))."""
    if not isinstance(label, str) or not label:
        raise ParameterError("derive", "label", "a non-empty str", "C2.3", shown(label))
    if not 0 <= index < MAX_DERIVES:
        raise RandomnessError(
            "derive", "label", "fewer than 2^64 derivations per source", "C2.9", f"k={index}"
        )
    message = DERIVE_DOMAIN + index.to_bytes(8, "little") + label.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).digest()


def seed_key(seed: int) -> bytes:
    """Implements C2.2: key = SHA-256("sbrml/seed/v1/" || LE256(seed)) for 0 <= seed < 2^256."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 256:
        raise ParameterError(
            "DeterministicRandomSource", "seed", "an int in [0, 2^256)", "C2.2", shown(seed)
        )
    return hashlib.sha256(SEED_DOMAIN + seed.to_bytes(32, "little")).digest()


def next_child_key(key: bytes, counts: dict[str, int], label: str) -> bytes:
    """Implements C2.3 and C2.9: the key of the next child of ``label``; counts it in ``counts``.

    ``counts`` is the source's own record of how often each label was derived, so asking
    twice never returns the same key; the parent's byte stream is not consumed.
    """
    index = counts.get(label, 0) if isinstance(label, str) else 0
    child = derive_key(key, index, label)
    counts[label] = index + 1
    return child


def uniform_below(rng: RandomSource, bound: int) -> int:
    """Implements C2.7: uniform in [0, bound) by masking to bit_length(bound - 1) and rejecting."""
    if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
        raise ParameterError("uniform_below", "bound", "an int >= 1", "C2.7", shown(bound))
    width = (bound - 1).bit_length()
    if width == 0:
        return 0
    mask = (1 << width) - 1
    nbytes = -(-width // 8)
    while True:
        candidate = int.from_bytes(rng.random_bytes(nbytes), "little") & mask
        if candidate < bound:
            return candidate
