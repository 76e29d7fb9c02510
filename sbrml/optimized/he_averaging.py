"""Encrypted averaging on the optimized tree (spec/14-packing.md, P14.3).

The protocol steps, validation and messages are the reference's; this tree plugs in its
vectorised packing and gmpy2 Paillier arithmetic, so the transcripts are identical.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import gmpy2
import numpy as np

from sbrml.core.channel import Payload
from sbrml.core.round import Tamper
from sbrml.optimized import paillier
from sbrml.optimized.packing import Packing
from sbrml.optimized.randomness import RandomSource
from sbrml.reference.he_averaging import AveragingResult, Backend, ciphertext_width
from sbrml.reference.he_averaging import encrypted_average as _protocol
from sbrml.reference.he_averaging import sum_valid as _reference_sum_valid
from sbrml.reference.paillier import PrivateKey, PublicKey

__all__ = ["OPTIMIZED", "AveragingResult", "encrypted_average"]

PROCESSES = min(2, os.cpu_count() or 1)


def encrypt_many(
    private: PrivateKey, ms: Sequence[int], *, rng: RandomSource, base: int | None = None
) -> list[int]:
    """P14.3 step 1: key-holder obfuscators (D13.4) over the worker processes, or with
    ``base`` short-exponent ones (D13.5, fixed-base table), then one product
    each; drawn in the reference's order, so the ciphertexts match (C13.10, C13.11)."""
    public = private.public
    if base is None:
        obf = paillier.key_holder_obfuscators(
            private, len(ms), rng=rng, processes=_processes(len(ms))
        )
    else:
        obf = paillier.short_exponent_obfuscators(
            public, base, len(ms), rng=rng, processes=_processes(len(ms))
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


# The workers' payloads, inherited by forked processes instead of being pickled to them.
_SHARED: dict[str, Any] = {}


def _product_chunk(span: tuple[int, int]) -> tuple[bytes, bool, int]:
    """Positions [a, b): the product mod n^2 of every worker's ciphertext, as packed bytes;
    whether every value was in [1, n^2) (else the caller takes the exact slow path); and the
    product of the results mod n, for the one gcd (C13.8)."""
    a, b = span
    n2, width, views = _SHARED["n2"], _SHARED["width"], _SHARED["views"]
    m = gmpy2.mpz(n2)
    n = gmpy2.isqrt(m)
    acc: list[Any] = []
    for view in views:
        values = [
            gmpy2.mpz(int.from_bytes(view[k * width : (k + 1) * width], "little"))
            for k in range(a, b)
        ]
        if not all(1 <= v < m for v in values):
            return b"", False, 0
        acc = values if not acc else [x * y % m for x, y in zip(acc, values, strict=True)]
    product = gmpy2.mpz(1)
    for v in acc:
        product = product * v % n
    return b"".join(int(v).to_bytes(width, "little") for v in acc), True, int(product)


def sum_valid(
    public: PublicKey, payloads: Mapping[int, Payload], count: int, backend: Backend | None = None
) -> tuple[list[int], dict[int, str]]:
    """P14.3 step 2 and C14.4 with one check for all workers: the product of the position-wise
    products mod n equals the product of every ciphertext mod n, so one gcd with n clears them
    all (C13.8). Positions are split over the worker processes. Any failure - a wrong length,
    a value outside [1, n^2), a common factor with n - falls back to the reference's
    worker-by-worker path, which names the culprits; the result is the same either way."""
    width = ciphertext_width(public)
    views = [memoryview(payloads[i]).cast("B") for i in sorted(payloads)]
    if not views or any(v.nbytes != count * width for v in views):
        return _reference_sum_valid(public, payloads, count, OPTIMIZED)
    _SHARED.update(n2=public.n_squared, width=width, views=views)
    try:
        parts = _split_positions(count, _processes(count * len(views)))
        if len(parts) > 1:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=len(parts), mp_context=context) as pool:
                results = list(pool.map(_product_chunk, parts))
        else:
            results = [_product_chunk(p) for p in parts]
    finally:
        _SHARED.clear()
    if not all(ok for _, ok, _ in results):
        return _reference_sum_valid(public, payloads, count, OPTIMIZED)
    n = gmpy2.mpz(public.n)
    product = gmpy2.mpz(1)
    for _, _, part in results:
        product = product * part % n
    if gmpy2.gcd(product, n) != 1:
        return _reference_sum_valid(public, payloads, count, OPTIMIZED)
    raw = b"".join(chunk for chunk, _, _ in results)
    return [int.from_bytes(raw[k : k + width], "little") for k in range(0, len(raw), width)], {}


def _split_positions(count: int, parts: int) -> list[tuple[int, int]]:
    size = -(-count // parts)
    return [(a, min(count, a + size)) for a in range(0, count, size)]


OPTIMIZED = Backend(
    Packing, encrypt_many, paillier.check_ciphertexts, add_many, decrypt_many, sum_valid
)


def encrypted_average(
    inputs: Sequence[Any] | np.ndarray[Any, Any],
    *,
    public: PublicKey,
    private: PrivateKey,
    rng: RandomSource,
    frac_bits: int = 16,
    int_bits: int = 8,
    tamper: Tamper | None = None,
    short_exponent_base: int | None = None,
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
        short_exponent_base=short_exponent_base,
    )
    result.mean = np.asarray(result.mean, dtype=np.float64)
    return result
