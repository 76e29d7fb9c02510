"""Tables of the secure two-server round: its phases beside plaintext Krum, Gram against
pairwise distances, and the reference tree (spec sections 5 and 8)."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.bench.common import bench_f, elapsed, median_time, updates
from sbrml.core.round import PHASES
from sbrml.tables import format_table, human_bytes

ONLINE = tuple(p for p in PHASES if not p.startswith("offline"))

__all__ = ["bench_reference", "bench_round", "bench_variants", "lean_krum", "round_phases"]


def round_phases(x: NDArray[np.float64], variant: str, repeat: int) -> dict[str, Any]:
    """Median seconds per phase of the optimized secure Krum round, bytes and the cold run."""
    f = bench_f(x.shape[0])
    runs = []
    cold = None
    for i in range(repeat + 1):
        result = opt.secure_aggregate(x, opt.Krum(f), rng=opt.SystemRandomSource(), variant=variant)
        online = sum(result.seconds.get(p, 0.0) for p in ONLINE)
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
    """The secure Krum round phase by phase against plaintext Krum, and the bytes opened."""
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
        if phase in med:  # a Krum round with leakage "distances" compares nothing on shares
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
    """Gram (P5.2) against pairwise (P5.1) distances in the optimized round."""
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
    """The pure-Python reference round once (exact rationals in the clear)."""
    x = updates(n, d).tolist()
    f = bench_f(n)
    total, result = elapsed(
        lambda: ref.secure_aggregate(x, ref.Krum(f), rng=ref.SystemRandomSource())
    )
    plain, _ = elapsed(lambda: ref.Krum(f)(x))
    rows = [["reference plaintext Krum (exact rationals)", plain, ""]]
    rows += [[f"reference secure: {k}", v, ""] for k, v in result.seconds.items()]
    rows.append(["reference secure: whole round", total, "target <= 10 s"])
    return format_table(
        ["what", "seconds", "note"], rows, title=f"Reference tree (pure Python): n={n}, d={d:,}"
    )
