"""Encrypted averaging on the optimized tree (spec/14-packing.md, P14.3).

The protocol steps, validation and messages are the reference's; this tree plugs in its
vectorised packing and gmpy2 Paillier arithmetic, so the transcripts are identical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import gmpy2
import numpy as np

from sbrml.core.channel import Payload
from sbrml.core.params import check_processes
from sbrml.core.round import Tamper
from sbrml.optimized import paillier
from sbrml.optimized.packing import Packing
from sbrml.optimized.processes import START_METHOD, map_parts, split, worth_processes
from sbrml.optimized.randomness import RandomSource
from sbrml.reference.he_averaging import AveragingResult, Backend, ciphertext_width
from sbrml.reference.he_averaging import encrypted_average as _protocol
from sbrml.reference.he_averaging import sum_valid as _reference_sum_valid
from sbrml.reference.paillier import PrivateKey, PublicKey

__all__ = ["OPTIMIZED", "AveragingResult", "encrypted_average", "optimized_backend"]


def encrypt_many(
    private: PrivateKey,
    ms: Sequence[int],
    *,
    rng: RandomSource,
    base: int | None = None,
    processes: int = 1,
) -> list[int]:
    """P14.3 step 1: key-holder obfuscators (D13.4) over at most ``processes`` processes, or
    with ``base`` short-exponent ones (D13.5, fixed-base table), then one product each;
    drawn in the reference's order, so the ciphertexts match (C13.10, C13.11, C0.2)."""
    public = private.public
    procs = worth_processes(processes, len(ms))
    if base is None:
        obf = paillier.key_holder_obfuscators(private, len(ms), rng=rng, processes=procs)
    else:
        obf = paillier.short_exponent_obfuscators(public, base, len(ms), rng=rng, processes=procs)
    return [paillier.encrypt_with_obfuscator(public, m, o) for m, o in zip(ms, obf, strict=True)]


def add_many(public: PublicKey, a: list[int], b: list[int]) -> list[int]:
    """Position-wise products mod n^2; the inputs were validated on receipt (C13.8)."""
    n2 = gmpy2.mpz(public.n) * public.n
    return [int(gmpy2.mpz(x) * y % n2) for x, y in zip(a, b, strict=True)]


def decrypt_many(private: PrivateKey, cts: list[int], *, processes: int = 1) -> list[int]:
    """C13.4 over at most ``processes`` processes (one for a small batch)."""
    return paillier.decrypt_many(private, cts, processes=worth_processes(processes, len(cts)))


def _product_part(
    shared: tuple[int, int, list[Payload]], span: tuple[int, int]
) -> tuple[bytes, bool, int]:
    """Positions [a, b): the product mod n^2 of every worker's ciphertext, as packed bytes;
    whether every value was in [1, n^2) (else the caller takes the exact slow path); and the
    product of the results mod n, for the one gcd (C13.8). Runs in a worker process or here."""
    n2, width, payloads = shared
    a, b = span
    m = gmpy2.mpz(n2)
    n = gmpy2.isqrt(m)
    acc: list[Any] = []
    for payload in payloads:
        view = memoryview(payload).cast("B")
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
    public: PublicKey,
    payloads: Mapping[int, Payload],
    count: int,
    backend: Backend | None = None,
    *,
    processes: int = 1,
) -> tuple[list[int], dict[int, str]]:
    """P14.3 step 2 and C14.4 with one check for all workers: the product of the position-wise
    products mod n equals the product of every ciphertext mod n, so one gcd with n clears them
    all (C13.8). Positions are split over at most ``processes`` processes, which receive the
    payloads as an argument (C0.2). Any failure - a wrong length, a value outside [1, n^2), a
    common factor with n - falls back to the reference's worker-by-worker path, which names
    the culprits; the result is the same either way."""
    width = ciphertext_width(public)
    ordered = [payloads[i] for i in sorted(payloads)]
    if not ordered or any(memoryview(v).nbytes != count * width for v in ordered):
        return _reference_sum_valid(public, payloads, count, OPTIMIZED)
    procs = worth_processes(processes, count * len(ordered))
    if procs > 1 and START_METHOD != "fork":  # a spawned child gets a pickled copy
        ordered = [bytes(v) for v in ordered]
    spans = [(part[0], part[-1] + 1) for part in split(range(count), procs)]
    results = map_parts(_product_part, (public.n_squared, width, ordered), spans, procs)
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


def optimized_backend(processes: int = 1) -> Backend:
    """The optimized tree's arithmetic for P14.3, using at most ``processes`` processes (C0.2)."""
    check_processes("optimized_backend", processes)
    return Backend(
        Packing,
        partial(encrypt_many, processes=processes),
        paillier.check_ciphertexts,
        add_many,
        partial(decrypt_many, processes=processes),
        partial(sum_valid, processes=processes),
    )


# The backend of one process; encrypted_average(processes=k) builds its own.
OPTIMIZED = optimized_backend(1)


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
    processes: int = 1,
) -> AveragingResult:
    """Implements P14.3 with NumPy packing and gmpy2 arithmetic.

    ``processes`` is the most worker processes the encryption, the server's sum and the
    decryption may use (C0.2); the mean and the transcript do not depend on it.
    """
    check_processes("encrypted_average", processes)
    result = _protocol(
        inputs,
        public=public,
        private=private,
        rng=rng,
        frac_bits=frac_bits,
        int_bits=int_bits,
        tamper=tamper,
        backend=optimized_backend(processes),
        short_exponent_base=short_exponent_base,
        processes=processes,
    )
    result.mean = np.asarray(result.mean, dtype=np.float64)
    return result
