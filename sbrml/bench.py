"""``make bench``: speed, bytes and memory of the secure round beside its baselines.

Every figure is measured in this process (peak memory in a child process), after one
warm-up run, as the median of ``--repeat`` runs; the first, cold run is reported too,
because on this machine the first touch of fresh memory is slow (transparent huge pages).
Nothing here asserts a speed: targets are printed beside the measurements.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.bench_masks import bench_masks
from sbrml.byzfl_baseline import bench_byzfl
from sbrml.core.errors import SpecError
from sbrml.core.round import PHASES
from sbrml.optimized.beaver import gram_sum
from sbrml.optimized.processes import available_processes
from sbrml.optimized.randomness import fill_ring_elements
from sbrml.rulespec import LIBRARY_SPECS, build_rule
from sbrml.tables import format_table, human_bytes

ONLINE = PHASES[1:]  # every phase but offline_triples


def bench_f(n: int) -> int:
    """f = 2 at n = 9 as in the issue's example; the largest valid f below that otherwise."""
    return min(2, (n - 3) // 2)


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls after one warm-up call; returns the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def updates(n: int, d: int, seed: int = 0) -> NDArray[np.float64]:
    """Synthetic updates (public benchmark data): N(0, 0.01^2) per coordinate."""
    return 0.01 * np.random.default_rng(seed).standard_normal((n, d))


def round_phases(x: NDArray[np.float64], variant: str, repeat: int) -> dict[str, Any]:
    """Median seconds per phase of the optimized secure Krum round, bytes and the cold run."""
    f = bench_f(x.shape[0])
    runs = []
    cold = None
    for i in range(repeat + 1):
        result = opt.secure_aggregate(x, opt.Krum(f), rng=opt.SystemRandomSource(), variant=variant)
        online = sum(result.seconds[p] for p in ONLINE)
        if i == 0:
            cold = online
        else:
            runs.append(result.seconds | {"online": online})
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    opened = {
        s: sum(
            m.size
            for m in result.channel.messages
            if m.sender == s and m.label in ("beaver/open", "distances")
        )
        for s in ("S0", "S1")
    }
    return {
        "median": med,
        "cold_online": cold,
        "opened": opened,
        "total_bytes": sum(result.channel.bytes_by_link().values()),
    }


def lean_krum(x: NDArray[np.float64], f: int) -> NDArray[np.float64]:
    """The baseline: a minimal plaintext NumPy Krum on BLAS Gram distances, no input checks."""
    g = x @ x.T
    sq = np.diag(g)
    dist = sq[:, None] + sq[None, :] - 2.0 * g
    np.fill_diagonal(dist, np.inf)
    keep = x.shape[0] - f - 2
    scores = np.partition(dist, keep - 1, axis=1)[:, :keep].sum(axis=1)
    return np.array(x[int(np.argmin(scores))])


def bench_round(n: int, d: int, repeat: int) -> str:
    x = updates(n, d)
    f = bench_f(n)
    plain_t, _ = median_time(lambda: lean_krum(x, f), repeat)
    lib_t, _ = median_time(lambda: opt.Krum(f)(x), repeat)
    stats = round_phases(x, "gram", repeat)
    med = stats["median"]
    rows = [
        ["plaintext NumPy Krum, minimal (BLAS Gram)", plain_t, 1.0, "baseline"],
        ["plaintext sbrml.optimized.Krum (validates input)", lib_t, lib_t / plain_t, ""],
    ]
    for phase in PHASES:
        rows.append([f"secure: {phase}", med[phase], med[phase] / plain_t, ""])
    rows.append(
        [
            "secure: online total (median)",
            med["online"],
            med["online"] / plain_t,
            "target <= 0.5 s and <= 20x plaintext",
        ]
    )
    rows.append(
        [
            "secure: online total (cold first run)",
            stats["cold_online"],
            stats["cold_online"] / plain_t,
            "",
        ]
    )
    bound = n * d * 8 + 8 * n * n
    table = format_table(
        ["what", "seconds", "x plaintext", "note"],
        rows,
        title=f"Secure Krum round, optimized tree, dealer triples ready: n={n}, d={d:,}, f={f}",
    )
    opened = stats["opened"]
    table += "\n" + format_table(
        ["server", "bytes opened", "n*d*8 + 8n^2 (target bound)"],
        [[s, opened[s], bound] for s in ("S0", "S1")],
        title="Bytes each server sends to open values (Gram)",
    )
    return table


def bench_variants(n: int, d: int, repeat: int) -> str:
    x = updates(n, d)
    rows = []
    for variant in ("gram", "pairwise"):
        stats = round_phases(x, variant, repeat)
        med = stats["median"]
        rows.append(
            [
                variant,
                med["offline_triples"],
                med["distances"],
                med["online"],
                stats["opened"]["S0"],
                human_bytes(stats["total_bytes"]),
            ]
        )
    return format_table(
        ["variant", "offline s", "distances s", "online s", "bytes opened by S0", "all traffic"],
        rows,
        title=f"Gram vs pairwise distances (optimized): n={n}, d={d:,}",
    )


def bench_reference(n: int, d: int) -> str:
    x = updates(n, d).tolist()
    f = bench_f(n)
    start = time.perf_counter()
    result = ref.secure_aggregate(x, ref.Krum(f), rng=ref.SystemRandomSource())
    total = time.perf_counter() - start
    start = time.perf_counter()
    ref.Krum(f)(x)
    plain = time.perf_counter() - start
    rows = [["reference plaintext Krum (exact rationals)", plain, ""]]
    rows += [[f"reference secure: {k}", v, ""] for k, v in result.seconds.items()]
    rows.append(["reference secure: whole round", total, "target <= 10 s"])
    return format_table(
        ["what", "seconds", "note"], rows, title=f"Reference tree (pure Python): n={n}, d={d:,}"
    )


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


def bench_rules(shapes: list[tuple[int, int, int]], repeat: int) -> str:
    """Every rule in the clear on float64 inputs, and weights(D) at n = 100 (issue 5 targets).

    ByzFL, the intended baseline column, needs PyTorch and torchvision (several GB), so it is
    not installed by this project's extras; only sbrml's own figures are shown.
    """
    rows = []
    for n, d, f in shapes:
        x = updates(n, d, seed=n)
        for spec in LIBRARY_SPECS:
            rule_f = min(f, (n - 3) // 4) if spec == "bulyan" else f
            try:
                rule = build_rule(opt, spec, rule_f)
                rule.check_n(n)
            except SpecError as err:
                rows.append([f"{n} x {d:,}", spec, rule_f, "refused", "", f"{err.clause}"])
                continue
            rng = opt.DeterministicRandomSource(1)
            t_call, _ = median_time(partial(rule, x, rng=rng), repeat)
            t_weights: Any = ""
            if opt.is_distance_rule(rule) and n == 100:
                dist = opt.sq_distances(x)
                t_weights, _ = median_time(partial(rule.weights, dist, rng=rng), repeat)
            rows.append([f"{n} x {d:,}", spec, rule_f, t_call, t_weights, ""])
    return format_table(
        ["shape", "rule", "f", "rule(x) s", "weights(D) s at n=100", "note"],
        rows,
        title="Rule library, optimized tree, plaintext (target: weights(D) < 1 ms at n=100)",
    )


BATCH = 400  # ciphertexts per timed batch for the per-ciphertext throughput over processes


def _key_holder_encrypt(
    private: Any, m: int, count: int, rng: opt.RandomSource, processes: int
) -> list[int]:
    """``count`` encryptions of m by the key holder: D13.4 obfuscators, then one product each."""
    import sbrml.optimized.paillier as pa

    obf = pa.key_holder_obfuscators(private, count, rng=rng, processes=processes)
    return [pa.encrypt_with_obfuscator(private.public, m, o) for o in obf]


def _short_exponent_encrypt(public: Any, base: int, m: int, rng: opt.RandomSource) -> int:
    """One encryption with a D13.5 obfuscator (fixed-base table built on first use)."""
    import sbrml.optimized.paillier as pa

    (o,) = pa.short_exponent_obfuscators(public, base, 1, rng=rng)
    return pa.encrypt_with_obfuscator(public, m, o)


def bench_paillier(sizes: tuple[int, ...], repeat: int) -> str:
    """Paillier per-operation cost: sbrml.optimized against python-paillier (phe), same process.

    phe uses gmpy2 when it is installed, as it is here. Key generation is timed once per size
    (it is dominated by the luck of the prime search); the other figures are medians.
    """
    import sbrml.optimized.paillier as pa

    PROCESSES = available_processes()

    try:
        from phe import paillier as phe
        from phe import util as phe_util
    except ImportError:  # phe is a dev extra; make bench installs it
        return "Paillier: python-paillier (phe) is not installed; run `make install` first"
    rows = []
    for bits in sizes:
        start = time.perf_counter()
        pk, sk = pa.generate_keypair(bits, rng=opt.SystemRandomSource())
        ours_keygen = time.perf_counter() - start
        start = time.perf_counter()
        phe_pub, phe_priv = phe.generate_paillier_keypair(n_length=bits)
        phe_keygen = time.perf_counter() - start
        rng = opt.SystemRandomSource()
        m = 123456789
        c1 = pa.encrypt(pk, m, rng=rng)
        c2 = pa.encrypt(pk, 987654321, rng=rng)
        p1 = phe_pub.raw_encrypt(m)
        p2 = phe_pub.raw_encrypt(987654321)
        rows.append(
            [bits, "key generation (one run)", ours_keygen, phe_keygen, phe_keygen / ours_keygen]
        )
        base = pa.short_exponent_base(pk, rng=rng)
        _short_exponent_encrypt(pk, base, m, rng)  # builds the fixed-base table (kept)
        timed: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
            ("encrypt", partial(pa.encrypt, pk, m, rng=rng), partial(phe_pub.raw_encrypt, m)),
            ("encrypt with secret key (CRT)", partial(pa.encrypt_private, sk, m, rng=rng), None),
            (
                "encrypt by the key holder (D13.4)",
                partial(_key_holder_encrypt, sk, m, 1, rng, 1),
                partial(phe_pub.raw_encrypt, m),
            ),
            (
                f"  same, per ciphertext, batches of {BATCH} over {PROCESSES} processes",
                partial(_key_holder_encrypt, sk, m, BATCH, rng, PROCESSES),
                partial(phe_pub.raw_encrypt, m),
            ),
            (
                "encrypt, option short-exponent (D13.5; stronger assumption)",
                partial(_short_exponent_encrypt, pk, base, m, rng),
                partial(phe_pub.raw_encrypt, m),
            ),
            ("decrypt (CRT)", partial(pa.decrypt, sk, c1), partial(phe_priv.raw_decrypt, p1)),
            ("add", partial(pa.add, pk, c1, c2), partial(phe_util.mulmod, p1, p2, phe_pub.nsquare)),
            (
                "scalar multiply (64-bit k)",
                partial(pa.mul_scalar, pk, c1, 2**63 + 5),
                partial(phe_util.powmod, p1, 2**63 + 5, phe_pub.nsquare),
            ),
        ]
        for name, ours, theirs in timed:
            t_ours = median_time(ours, repeat)[0]
            if "batches" in name:
                t_ours /= BATCH
            if theirs is None:
                rows.append([bits, name, t_ours, "", ""])
            else:
                t_theirs = median_time(theirs, repeat)[0]
                rows.append([bits, name, t_ours, t_theirs, t_theirs / t_ours])
    return format_table(
        ["bits", "operation", "sbrml s", "python-paillier s", "speed-up"],
        rows,
        title="Paillier, per operation (python-paillier with gmpy2 in the same process)",
    )


def bench_packed_averaging(n: int, d: int, bits: int) -> str:
    """Packed encrypted averaging (P14.3) at n workers and d coordinates.

    Every worker does the same work, so one worker's encryption is timed and its ciphertexts
    stand in for all n at the server (the server's cost does not depend on the values).
    """
    import sbrml.optimized.paillier as pa
    from sbrml.optimized.he_averaging import optimized_backend

    PROCESSES = available_processes()
    OPTIMIZED = optimized_backend(PROCESSES)
    from sbrml.optimized.packing import Packing
    from sbrml.reference.he_averaging import ciphertext_width, pack_ciphertexts

    pk, sk = pa.generate_keypair(bits, rng=opt.SystemRandomSource())
    packing = Packing(bits, n)
    x = updates(1, d)[0]
    rng = opt.SystemRandomSource()
    start = time.perf_counter()
    plaintexts = packing.pack(x)
    t_pack = time.perf_counter() - start
    start = time.perf_counter()
    obf = pa.key_holder_obfuscators(sk, len(plaintexts), rng=rng, processes=PROCESSES)
    t_obf = time.perf_counter() - start
    start = time.perf_counter()
    cts = [pa.encrypt_with_obfuscator(pk, m, o) for m, o in zip(plaintexts, obf, strict=True)]
    t_enc = time.perf_counter() - start
    start = time.perf_counter()
    pa.key_holder_obfuscators(sk, len(plaintexts), rng=rng, processes=1)
    t_obf_one = time.perf_counter() - start
    base = pa.short_exponent_base(pk, rng=rng)
    start = time.perf_counter()
    pa.short_exponent_obfuscators(pk, base, len(plaintexts), rng=rng)
    t_short = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n):
        OPTIMIZED.check_many("bench", pk, cts)
    total = cts
    for _ in range(n - 1):
        total = OPTIMIZED.add_many(pk, total, cts)
    t_server_each = time.perf_counter() - start
    payload = pack_ciphertexts(cts, ciphertext_width(pk))
    payloads = {i: payload for i in range(n)}
    start = time.perf_counter()
    sum_valid = OPTIMIZED.sum_valid
    if sum_valid is None:
        raise RuntimeError("packed averaging bench: the optimized backend has no sum_valid")
    fast, rejected = sum_valid(pk, payloads, len(cts))
    t_server = time.perf_counter() - start
    if rejected or fast != total:  # the benchmark checks itself
        raise RuntimeError("packed averaging bench: the two server paths disagree")
    start = time.perf_counter()
    sums = packing.unpack(OPTIMIZED.decrypt_many(sk, total), n, d)
    t_dec = time.perf_counter() - start
    if not np.allclose(np.asarray(sums) / n, x, atol=2.0**-16):  # the benchmark checks itself
        raise RuntimeError("packed averaging bench: the decrypted mean is wrong")
    width = ciphertext_width(pk)
    per_value = len(cts) * width / d
    optimum = 2 * bits / 8 / (bits / packing.slot_bits)  # ciphertext bytes per value, no waste
    rows = [
        ["pack (one worker)", t_pack, ""],
        [
            f"key-holder obfuscators (D13.4), {PROCESSES} processes (offline, one worker)",
            t_obf,
            "precomputed before the update exists",
        ],
        ["  the same on one process", t_obf_one, "target <= 30 s with the online step"],
        [
            "short-exponent obfuscators (option D13.5), one process, table included",
            t_short,
            "stronger assumption (spec D13.5)",
        ],
        ["encrypt = one product per plaintext (online, one worker)", t_enc, "target <= 30 s"],
        [
            "server: check each worker, then add (C13.8 per worker, one process)",
            t_server_each,
            "from parsed ints",
        ],
        [
            f"server: parse, add over {PROCESSES} processes, one gcd for all {n} workers",
            t_server,
            "target <= 0.5 s (the protocol's path)",
        ],
        [f"decrypt + unpack the sum, {PROCESSES} processes", t_dec, "target <= 10 s"],
    ]
    table = format_table(
        ["step", "seconds", "note"],
        rows,
        title=(
            f"Packed encrypted averaging, n={n}, d={d:,}, {bits}-bit key: "
            f"{packing.slots} values of {packing.slot_bits} bits per plaintext, "
            f"{len(cts):,} ciphertexts per worker"
        ),
    )
    return table + (
        f"\nciphertext bytes per worker {len(cts) * width:,}; per value {per_value:.2f} "
        f"(packing optimum {optimum:.2f}, {100 * (per_value / optimum - 1):.1f}% above)"
    )


def _material_cost(make: Callable[[opt.Channel], Any]) -> tuple[float, int]:
    """Seconds and payload bytes of one call that writes Beaver material over a fresh channel."""
    channel = opt.Channel()
    start = time.perf_counter()
    make(channel)
    return time.perf_counter() - start, sum(m.size for m in channel.messages)


def bench_paillier_triples(n: int, d: int, bits: int) -> str:
    """Dealer-free Gram triple (spec section 15) against the dealer's, same shape, same process."""
    from sbrml.optimized.paillier_triples import PaillierTripleProvider

    PROCESSES = available_processes()

    dealer = opt.Dealer(rng=opt.SystemRandomSource())
    rows: list[list[Any]] = [
        ["dealer", *_material_cost(lambda ch: dealer.gram_triple(n, d, channel=ch))]
    ]
    start = time.perf_counter()
    provider = PaillierTripleProvider(rng=opt.SystemRandomSource(), bits=bits, processes=PROCESSES)
    keygen = time.perf_counter() - start
    seconds, traffic = _material_cost(lambda ch: provider.gram_triple(n, d, channel=ch))
    rows.append(
        [f"Paillier ({bits}-bit key; key generation {keygen:.2f} s not included)", seconds, traffic]
    )
    option = PaillierTripleProvider(
        rng=opt.SystemRandomSource(), bits=bits, obfuscators="short-exponent", processes=PROCESSES
    )
    rows.append(
        [
            "Paillier, option short-exponent (D13.5; stronger assumption)",
            *_material_cost(lambda ch: option.gram_triple(n, d, channel=ch)),
        ]
    )
    elements = n * d + n * n
    _, _, slots = provider.slot_layout(d)
    groups = -(-n // slots)
    table = format_table(
        ["Gram triple source", "seconds", "bytes"],
        rows,
        title=f"Gram triple n={n}, d={d:,} ({elements:,} ring elements per server)",
    )
    return table + (
        f"\nPaillier: {1e3 * seconds / elements:.2f} ms and {traffic / elements:,.0f} bytes "
        f"per triple element; {slots} rows per plaintext (P15.1), so S0 encrypts "
        f"{groups * d:,} packed columns (D13.4 obfuscators, {PROCESSES} processes), S1 computes "
        f"{groups * n} products of {d:,} powers (bucket method, {PROCESSES} processes) and "
        f"S0 decrypts {groups * n}"
    )


def bench_paillier_square_pairs(count: int, bits: int) -> str:
    """Dealer-free square pairs (P15.3, the pairwise variant's material) against the dealer's."""
    from sbrml.optimized.paillier_triples import PaillierTripleProvider

    PROCESSES = available_processes()

    dealer = opt.Dealer(rng=opt.SystemRandomSource())
    provider = PaillierTripleProvider(rng=opt.SystemRandomSource(), bits=bits, processes=PROCESSES)
    seconds, traffic = _material_cost(lambda ch: provider.square_pairs(count, channel=ch))
    rows: list[list[Any]] = [
        ["dealer", *_material_cost(lambda ch: dealer.square_pairs(count, channel=ch))],
        [f"Paillier ({bits}-bit key)", seconds, traffic],
    ]
    _, _, slots = provider.slot_layout(1)
    table = format_table(
        ["square pair source", "seconds", "bytes"],
        rows,
        title=f"Square pairs, {count:,} (the pairwise variant needs n(n-1)/2 * d)",
    )
    return table + (
        f"\nPaillier: {1e3 * seconds / count:.2f} ms and {traffic / count:,.0f} bytes per pair; "
        f"{slots} products per returned ciphertext (P15.3), {PROCESSES} processes"
    )


def bench_training_round(n: int, f: int, dims: tuple[int, ...], repeat: int) -> str:
    """The aggregation step of one training round in each mode, beside plaintext averaging."""
    import sbrml.optimized.paillier as pa
    from sbrml.optimized.he_averaging import encrypted_average

    rows = []
    keys = pa.generate_keypair(2048, rng=opt.SystemRandomSource())
    for d in dims:
        x = updates(n, d, seed=d)
        mean_rule, robust = opt.Mean(f), build_rule(opt, "nnm+krum", f)
        base, _ = median_time(partial(mean_rule, x), repeat)
        rows.append([f"{d:,}", "plaintext mean (baseline)", base, 1.0, 0])
        t, _ = median_time(partial(robust, x), repeat)
        rows.append([f"{d:,}", "plaintext nnm+krum", t, t / base, 0])
        t, result = median_time(
            partial(opt.secure_aggregate, x, robust, rng=opt.SystemRandomSource()), repeat
        )
        rows.append(
            [
                f"{d:,}",
                "secure nnm+krum (online + offline)",
                t,
                t / base,
                sum(result.channel.bytes_by_link().values()),
            ]
        )
        if d <= 10_000:
            t, avg = median_time(
                partial(
                    encrypted_average,
                    x,
                    public=keys[0],
                    private=keys[1],
                    rng=opt.SystemRandomSource(),
                    int_bits=4,
                ),
                1,
            )
            rows.append(
                [
                    f"{d:,}",
                    "Paillier mean (2048-bit)",
                    t,
                    t / base,
                    sum(avg.channel.bytes_by_link().values()),
                ]
            )
        else:
            rows.append(
                [
                    f"{d:,}",
                    "Paillier mean",
                    "not run",
                    "",
                    "timed step by step in the packed averaging table",
                ]
            )
    return format_table(
        ["d", "aggregation", "seconds", "x plaintext mean", "bytes"],
        rows,
        title=f"One training round's aggregation, n={n}, f={f} (the demo's d=650 and a 1M model)",
    )


def bench_keystream(count: int, repeat: int) -> str:
    """Drawing ``count`` ring elements: os.urandom against ChaCha20 and AES-128-CTR keystreams."""
    import os

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


def peak_memory(n: int, d: int) -> str:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbrml.bench", description=__doc__)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per figure (median; default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke test")
    args = parser.parse_args(argv)
    big = (9, 50_000) if args.quick else (9, 1_250_000)
    mid = (9, 5_000) if args.quick else (9, 100_000)
    sections = [
        bench_round(*big, args.repeat),
        bench_variants(*mid, args.repeat),
        bench_reference(9, 100 if args.quick else 1000),
        bench_keystream(big[0] * big[1], args.repeat),
        peak_memory(*big),
        bench_masks(
            [(20, 5_000), big] if args.quick else [(100, 100_000), big],
            (0.0, 0.1),
            args.repeat if args.quick else max(args.repeat, 5),
        ),
    ]
    if not args.quick:
        sections.append(bench_kernels(args.repeat))
        sections.append(bench_rules([(9, 1_250_000, 2), (100, 100_000, 10)], args.repeat))
        sections.append(bench_byzfl([(9, 1_250_000, 2), (100, 100_000, 10)], args.repeat))
        sections.append(bench_paillier((2048, 3072), max(args.repeat, 5)))
        sections.append(bench_packed_averaging(9, 1_250_000, 2048))
        sections.extend(bench_paillier_triples(9, d, 2048) for d in (10_000, 100_000))
        sections.append(bench_paillier_square_pairs(6_000, 2048))
        sections.append(bench_training_round(10, 2, (650, 1_000_000), args.repeat))
    print(f"sbrml bench (numpy {np.__version__}, python {sys.version.split()[0]})\n")
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
