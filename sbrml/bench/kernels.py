"""Tables of the kernels under the round: the ring Gram product, the keystream, peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
from sbrml.bench.common import bench_f, median_time
from sbrml.optimized.beaver import gram_sum
from sbrml.optimized.randomness import fill_ring_elements
from sbrml.tables import format_table, human_bytes

__all__ = ["bench_kernels", "bench_keystream", "limb_gram", "peak_memory"]


def limb_gram(a: NDArray[np.uint64], chunk: int = 1 << 20) -> NDArray[np.uint64]:
    """X X^T mod 2^64 exactly through float64 BLAS: 16-bit limbs, products below 2^32, and at
    most 2^20 columns per GEMM so every partial sum stays below 2^52 (the alternative of
    shared/DESIGN.md section 7; measured here, not used by the library)."""
    n, d = a.shape
    out = np.zeros((n, n), dtype=np.uint64)
    for start in range(0, d, chunk):
        block = a[:, start : start + chunk]
        limbs = [
            ((block >> np.uint64(16 * k)) & np.uint64(0xFFFF)).astype(np.float64) for k in range(4)
        ]
        for i in range(4):
            for j in range(4 - i):  # limb pairs with i + j >= 4 vanish mod 2^64
                out += (limbs[i] @ limbs[j].T).astype(np.uint64) << np.uint64(16 * (i + j))
    return out


def bench_kernels(repeat: int) -> str:
    """The ring product X X^T: uint64 matmul on whole rows or column blocks, or float64 limbs."""
    rows = []
    for n, d in ((9, 1_250_000), (100, 100_000)):
        gen = np.random.default_rng(1)
        a = gen.integers(0, 2**63, size=(n, d), dtype=np.uint64)
        whole, expected = median_time(partial(np.matmul, a, a.T), repeat)
        blocked, got = median_time(partial(gram_sum, a, None, a, None), repeat)
        limbs, via_limbs = median_time(partial(limb_gram, a), repeat)
        if not (np.array_equal(got, expected) and np.array_equal(via_limbs, expected)):
            raise RuntimeError("kernel bench: the kernels disagree")
        best = min(
            (whole, "uint64 whole rows"), (blocked, "uint64 blocks"), (limbs, "float64 limbs")
        )
        rows.append([f"{n} x {d:,}", whole, blocked, limbs, best[1]])
    return format_table(
        ["shape", "uint64 whole rows s", "uint64 blocks s", "float64 16-bit limbs s", "fastest"],
        rows,
        title="Ring Gram kernel X X^T mod 2^64, all exact (the library uses uint64 blocks)",
    )


def bench_keystream(count: int, repeat: int) -> str:
    """Drawing ``count`` ring elements: os.urandom against ChaCha20 and AES-128-CTR keystreams."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    out = np.empty(count, dtype=np.uint64)
    zeros = np.zeros(8 * count, dtype=np.uint8)

    def urandom() -> None:
        out[...] = np.frombuffer(os.urandom(8 * count), dtype="<u8")

    def chacha() -> None:
        fill_ring_elements(opt.DeterministicRandomSource(1), out)

    def aes_ctr() -> None:
        enc = Cipher(algorithms.AES(bytes(16)), modes.CTR(bytes(16))).encryptor()
        enc.update_into(zeros.data, out.data.cast("B"))

    rows = []
    for name, fn in (
        ("os.urandom", urandom),
        ("ChaCha20 keystream (the spec's choice)", chacha),
        ("AES-128-CTR keystream (not used)", aes_ctr),
    ):
        t, _ = median_time(fn, repeat)
        rows.append([name, t, count * 8 / t / 2**30])
    return format_table(
        ["source", "seconds", "GiB/s"], rows, title=f"Drawing {count:,} ring elements"
    )


PEAK_PROBE = """
import json, resource, numpy as np, sbrml.optimized as opt

def high_water_kib():
    # VmHWM is reset by exec; ru_maxrss is not (it would report the parent's peak).
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

x = 0.01 * np.random.default_rng(0).standard_normal(({n}, {d}))
base = high_water_kib()
opt.secure_aggregate(x, opt.Krum({f}), rng=opt.SystemRandomSource())
print(json.dumps({{"base_kib": base, "peak_kib": high_water_kib()}}))
"""


def peak_memory(n: int, d: int) -> str:
    """Peak resident memory of one secure round, measured in a fresh child process."""
    code = PEAK_PROBE.format(n=n, d=d, f=bench_f(n))
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    mem = json.loads(out)
    rows = [
        [
            "process peak RSS (one round, all parties)",
            human_bytes(mem["peak_kib"] * 1024),
            "target <= 1.5 GB",
        ],
        [
            "of which before the round (interpreter, NumPy, inputs)",
            human_bytes(mem["base_kib"] * 1024),
            "",
        ],
    ]
    return format_table(["what", "memory", "note"], rows, title=f"Peak memory, n={n}, d={d:,}")
