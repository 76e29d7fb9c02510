"""Encrypted averaging on the optimized tree (spec/14-packing.md, P14.3).

The protocol steps, validation and messages are the reference's; this tree plugs in its
vectorised packing and gmpy2 Paillier arithmetic, so the transcripts are identical.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np

from sbrml.optimized import paillier
from sbrml.optimized.packing import Packing
from sbrml.optimized.randomness import RandomSource
from sbrml.reference.he_averaging import AveragingResult, Backend
from sbrml.reference.he_averaging import encrypted_average as _protocol
from sbrml.reference.paillier import PrivateKey, PublicKey
from sbrml.reference.round import Tamper

__all__ = ["OPTIMIZED", "AveragingResult", "encrypted_average"]

PROCESSES = min(2, os.cpu_count() or 1)


def encrypt_many(private: PrivateKey, ms: Sequence[int], *, rng: RandomSource) -> list[int]:
    """P14.3 step 1: obfuscators by CRT over the worker processes, then one product each.

    The r are drawn in the same order as one-by-one encryption, so the ciphertexts match the
    reference's (C13.9).
    """
    public = private.public
    obf = paillier.obfuscators(
        public, len(ms), rng=rng, private=private, processes=_processes(len(ms))
    )
    return [paillier.encrypt_with_obfuscator(public, m, o) for m, o in zip(ms, obf, strict=True)]


def add_many(public: PublicKey, a: list[int], b: list[int]) -> list[int]:
    """Position-wise products mod n^2; the inputs were validated on receipt (C13.8)."""
    n2 = gmpy2.mpz(public.n) * public.n
    return [int(gmpy2.mpz(x) * y % n2) for x, y in zip(a, b, strict=True)]


def decrypt_many(private: PrivateKey, cts: list[int]) -> list[int]:
    """C13.4 over the worker processes."""
    return paillier.decrypt_many(private, cts, processes=_processes(len(cts)))


def _processes(count: int) -> int:
    # Small batches are not worth a process pool's start-up.
    return PROCESSES if count >= 256 else 1


OPTIMIZED = Backend(Packing, encrypt_many, paillier.check_ciphertexts, add_many, decrypt_many)


def encrypted_average(
    inputs: Sequence[Any] | np.ndarray[Any, Any],
    *,
    public: PublicKey,
    private: PrivateKey,
    rng: RandomSource,
    frac_bits: int = 16,
    int_bits: int = 8,
    tamper: Tamper | None = None,
) -> AveragingResult:
    """Implements P14.3 with NumPy packing and gmpy2 arithmetic."""
    result = _protocol(
        inputs,
        public=public,
        private=private,
        rng=rng,
        frac_bits=frac_bits,
        int_bits=int_bits,
        tamper=tamper,
        backend=OPTIMIZED,
    )
    result.mean = np.asarray(result.mean, dtype=np.float64)
    return result
