"""Tables of the Paillier protocols: per operation against python-paillier, packed averaging
(P14.3), and dealer-free Beaver material (spec section 15) against the dealer's.

Each table takes ``processes``, the most worker processes the library may use (C0.2); by
default the benchmarks choose ``available_processes()``, as ``make bench`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

import sbrml.optimized as opt
import sbrml.optimized.paillier as pa
from sbrml.bench.common import elapsed, median_time, updates
from sbrml.optimized.he_averaging import optimized_backend
from sbrml.optimized.packing import Packing
from sbrml.optimized.paillier_triples import PaillierTripleProvider
from sbrml.optimized.processes import available_processes
from sbrml.reference.he_averaging import ciphertext_width, pack_ciphertexts
from sbrml.tables import format_table

__all__ = [
    "BATCH",
    "bench_packed_averaging",
    "bench_paillier",
    "bench_paillier_square_pairs",
    "bench_paillier_triples",
]

BATCH = 400  # ciphertexts per timed batch for the per-ciphertext figures


def _processes(processes: int | None) -> int:
    return available_processes() if processes is None else processes


def _key_holder_encrypt(
    private: Any, m: int, count: int, rng: opt.RandomSource, processes: int
) -> list[int]:
    """``count`` encryptions of m by the key holder: D13.4 obfuscators, then one product each."""
    obf = pa.key_holder_obfuscators(private, count, rng=rng, processes=processes)
    return [pa.encrypt_with_obfuscator(private.public, m, o) for o in obf]


def _short_exponent_encrypt(
    public: Any, base: int, m: int, count: int, rng: opt.RandomSource
) -> list[int]:
    """``count`` encryptions with D13.5 obfuscators in one process, the fixed-base table
    built for the batch (from 64 obfuscators on; nothing is kept between calls)."""
    obf = pa.short_exponent_obfuscators(public, base, count, rng=rng)
    return [pa.encrypt_with_obfuscator(public, m, o) for o in obf]


def bench_paillier(sizes: tuple[int, ...], repeat: int, processes: int | None = None) -> str:
    """Paillier per-operation cost: sbrml.optimized against python-paillier (phe), same process.

    phe uses gmpy2 when it is installed, as it is here. Key generation is timed once per size
    (it is dominated by the luck of the prime search); the other figures are medians.
    """
    procs = _processes(processes)
    try:
        from phe import paillier as phe
        from phe import util as phe_util
    except ImportError:  # phe is a dev extra; make bench installs it
        return "Paillier: python-paillier (phe) is not installed; run `make install` first"
    rows = []
    for bits in sizes:
        ours_keygen, (pk, sk) = elapsed(
            lambda: pa.generate_keypair(bits, rng=opt.SystemRandomSource())  # noqa: B023
        )
        phe_keygen, (phe_pub, phe_priv) = elapsed(
            lambda: phe.generate_paillier_keypair(n_length=bits)  # noqa: B023
        )
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
        phe_encrypt = partial(phe_pub.raw_encrypt, m)
        timed: list[tuple[str, Callable[[], Any], Callable[[], Any] | None]] = [
            ("encrypt", partial(pa.encrypt, pk, m, rng=rng), phe_encrypt),
            ("encrypt with secret key (CRT)", partial(pa.encrypt_private, sk, m, rng=rng), None),
            (
                "encrypt by the key holder (D13.4)",
                partial(_key_holder_encrypt, sk, m, 1, rng, 1),
                phe_encrypt,
            ),
            (
                f"  same, per ciphertext, batches of {BATCH} over {procs} processes",
                partial(_key_holder_encrypt, sk, m, BATCH, rng, procs),
                phe_encrypt,
            ),
            (
                f"encrypt, option short-exponent (D13.5), batches of {BATCH}, table included",
                partial(_short_exponent_encrypt, pk, base, m, BATCH, rng),
                phe_encrypt,
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


def bench_packed_averaging(n: int, d: int, bits: int, processes: int | None = None) -> str:
    """Packed encrypted averaging (P14.3) at n workers and d coordinates.

    Every worker does the same work, so one worker's encryption is timed and its ciphertexts
    stand in for all n at the server (the server's cost does not depend on the values).
    """
    procs = _processes(processes)
    backend = optimized_backend(procs)
    pk, sk = pa.generate_keypair(bits, rng=opt.SystemRandomSource())
    packing = Packing(bits, n)
    x = updates(1, d)[0]
    rng = opt.SystemRandomSource()
    t_pack, plaintexts = elapsed(lambda: packing.pack(x))
    count = len(plaintexts)
    t_obf, obf = elapsed(lambda: pa.key_holder_obfuscators(sk, count, rng=rng, processes=procs))
    t_enc, encrypted = elapsed(
        lambda: [pa.encrypt_with_obfuscator(pk, m, o) for m, o in zip(plaintexts, obf, strict=True)]
    )
    cts: list[int] = encrypted
    t_obf_one, _ = elapsed(lambda: pa.key_holder_obfuscators(sk, count, rng=rng, processes=1))
    base = pa.short_exponent_base(pk, rng=rng)
    t_short, _ = elapsed(lambda: pa.short_exponent_obfuscators(pk, base, count, rng=rng))

    def check_then_add() -> list[int]:
        for _ in range(n):
            backend.check_many("bench", pk, cts)
        total = cts
        for _ in range(n - 1):
            total = backend.add_many(pk, total, cts)
        return total

    t_server_each, total = elapsed(check_then_add)
    payload = pack_ciphertexts(cts, ciphertext_width(pk))
    payloads = {i: payload for i in range(n)}
    sum_valid = backend.sum_valid
    if sum_valid is None:
        raise RuntimeError("packed averaging bench: the optimized backend has no sum_valid")
    t_server, (fast, rejected) = elapsed(lambda: sum_valid(pk, payloads, count))
    if rejected or fast != total:  # the benchmark checks itself
        raise RuntimeError("packed averaging bench: the two server paths disagree")
    t_dec, sums = elapsed(lambda: packing.unpack(backend.decrypt_many(sk, total), n, d))
    if not np.allclose(np.asarray(sums) / n, x, atol=2.0**-16):  # the benchmark checks itself
        raise RuntimeError("packed averaging bench: the decrypted mean is wrong")
    width = ciphertext_width(pk)
    per_value = count * width / d
    optimum = 2 * bits / 8 / (bits / packing.slot_bits)  # ciphertext bytes per value, no waste
    rows = [
        ["pack (one worker)", t_pack, ""],
        [
            f"key-holder obfuscators (D13.4), {procs} processes (offline, one worker)",
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
            f"server: parse, add over {procs} processes, one gcd for all {n} workers",
            t_server,
            "target <= 0.5 s (the protocol's path)",
        ],
        [f"decrypt + unpack the sum, {procs} processes", t_dec, "target <= 10 s"],
    ]
    table = format_table(
        ["step", "seconds", "note"],
        rows,
        title=(
            f"Packed encrypted averaging, n={n}, d={d:,}, {bits}-bit key: "
            f"{packing.slots} values of {packing.slot_bits} bits per plaintext, "
            f"{count:,} ciphertexts per worker"
        ),
    )
    return table + (
        f"\nciphertext bytes per worker {count * width:,}; per value {per_value:.2f} "
        f"(packing optimum {optimum:.2f}, {100 * (per_value / optimum - 1):.1f}% above)"
    )


def _material_cost(make: Callable[[opt.Channel], Any]) -> tuple[float, int]:
    """Seconds and payload bytes of one call that writes Beaver material over a fresh channel."""
    channel = opt.Channel()
    seconds, _ = elapsed(lambda: make(channel))
    return seconds, sum(m.size for m in channel.messages)


def bench_paillier_triples(n: int, d: int, bits: int, processes: int | None = None) -> str:
    """Dealer-free Gram triple (spec section 15) against the dealer's, same shape, same process."""
    procs = _processes(processes)
    dealer = opt.Dealer(rng=opt.SystemRandomSource())
    rows: list[list[Any]] = [
        ["dealer", *_material_cost(lambda ch: dealer.gram_triple(n, d, channel=ch))]
    ]
    keygen, provider = elapsed(
        lambda: PaillierTripleProvider(rng=opt.SystemRandomSource(), bits=bits, processes=procs)
    )
    seconds, traffic = _material_cost(lambda ch: provider.gram_triple(n, d, channel=ch))
    rows.append(
        [f"Paillier ({bits}-bit key; key generation {keygen:.2f} s not included)", seconds, traffic]
    )
    option = PaillierTripleProvider(
        rng=opt.SystemRandomSource(), bits=bits, obfuscators="short-exponent", processes=procs
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
        f"{groups * d:,} packed columns (D13.4 obfuscators, {procs} processes), S1 computes "
        f"{groups * n} products of {d:,} powers (bucket method, {procs} processes) and "
        f"S0 decrypts {groups * n}"
    )


def bench_paillier_square_pairs(count: int, bits: int, processes: int | None = None) -> str:
    """Dealer-free square pairs (P15.3, the pairwise variant's material) against the dealer's."""
    procs = _processes(processes)
    dealer = opt.Dealer(rng=opt.SystemRandomSource())
    provider = PaillierTripleProvider(rng=opt.SystemRandomSource(), bits=bits, processes=procs)
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
        f"{slots} products per returned ciphertext (P15.3), {procs} processes"
    )
