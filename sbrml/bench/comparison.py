"""Tables of secure comparison (spec sections 21 and 22): range validation, the coordinate-wise
median on shares beside the plaintext median and MPyC's, and Krum without revealing ``D``.

Every protocol runs in this process with both servers; the dealer's calls are timed apart
(offline), and the bytes are what ``S0`` sends (``S1`` sends the same amount).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.bench.common import bench_f, elapsed, median_time, updates
from sbrml.core.dealer_requests import TimedDealer
from sbrml.core.network import gate_count, sorting_layers
from sbrml.core.params import coordinate_bound_log2
from sbrml.optimized.comparison import range_check
from sbrml.optimized.secure_coordinatewise import coordinatewise_numerator, publish
from sbrml.tables import format_table, human_bytes

__all__ = [
    "bench_hidden_krum",
    "bench_mpyc_median",
    "bench_range_validation",
    "bench_reference_median",
    "bench_secure_median",
]


def _shares(x: NDArray[np.float64]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """Both servers' shares of the encoded rows (as the workers would send them)."""
    rng = opt.SystemRandomSource()
    rows = [opt.share(opt.encode_update(row), rng=rng) for row in x]
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])


def _sent(channel: Any, sender: str = "S0") -> int:
    return sum(m.size for m in channel.messages if m.sender == sender)


def bench_range_validation(n: int, d: int, repeat: int) -> str:
    """P21.7 on the n*d lanes of a round (C8.14), online and offline, beside a plaintext check
    of the same bound on the same integers."""
    x = updates(n, d)
    s0, s1 = _shares(x)
    lanes, bits = n * d, coordinate_bound_log2(d)
    flat = (s0.reshape(-1), s1.reshape(-1))
    encoded = (s0 + s1).reshape(-1).view(np.int64)
    plain_t, _ = median_time(
        lambda: bool(np.all((encoded >= -(1 << bits)) & (encoded < 1 << bits))), repeat
    )
    online, offline, cold = [], [], None
    for k in range(repeat + 1):
        channel = opt.Channel()
        dealer = opt.Dealer(rng=opt.SystemRandomSource())
        t_off, material = elapsed(
            lambda: (
                dealer.masks(lanes, bits + 1, high=True, channel=channel),  # noqa: B023
                dealer.dabits(lanes, channel=channel),  # noqa: B023
                dealer.and_triples(lanes, gate_count(bits + 1), channel=channel),  # noqa: B023
            )
        )
        offline_bytes = _sent(channel, "dealer") // 2
        t_on, t = elapsed(
            lambda: range_check(flat, *material, bits=bits, channel=channel)  # noqa: B023
        )
        if np.count_nonzero(t):
            raise RuntimeError("range validation refused honest lanes")
        online_bytes = _sent(channel)
        if k == 0:
            cold = t_on
        else:
            online.append(t_on)
            offline.append(t_off)
    on, off = statistics.median(online), statistics.median(offline)
    rows: list[list[object]] = [
        ["plaintext check of the bound (NumPy)", plain_t, "", ""],
        ["range validation online (median)", on, online_bytes / lanes, "target <= 2 s"],
        ["range validation online (cold first run)", cold, "", ""],
        ["dealer material (offline)", off, offline_bytes / lanes, "per server"],
    ]
    return format_table(
        ["what", "seconds", "bytes per server per coordinate", "note"],
        rows,
        title=(
            f"Range validation on shares (P21.7, C8.14), optimized tree: n={n}, d={d:,}, "
            f"{lanes:,} lanes, b(d)={bits}, {gate_count(bits + 1)} AND gates per lane; "
            f"online bytes per server {human_bytes(online_bytes)}"
        ),
    )


MPYC_SCRIPT = r"""
import random, sys, time
from mpyc.runtime import mpc
from mpyc import statistics as st
n, d = int(sys.argv[1]), int(sys.argv[2])
random.seed(0)
cols = [[random.randrange(-2**20, 2**20) for _ in range(n)] for _ in range(d)]
async def main():
    await mpc.start()
    secint = mpc.SecInt(32)
    start = time.monotonic()
    out = [await mpc.output(st.median([secint(v) for v in c])) for c in cols]
    seconds = time.monotonic() - start
    await mpc.shutdown()
    ok = all(o == sorted(c)[n // 2] for o, c in zip(out, cols))
    print(seconds, ok)
mpc.run(main())
"""


def bench_mpyc_median(n: int, d: int) -> float | None:
    """Seconds per coordinate of MPyC's secure median of n values (one local party, 32-bit
    secure integers), or None when MPyC (a dev extra) is not installed. MPyC parses the
    command line when imported, so it runs in a child process."""
    cmd = [sys.executable, "-c", MPYC_SCRIPT, str(n), str(d), "-M1", "--no-log"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    seconds, ok = out.stdout.split()
    if ok != "True":
        raise RuntimeError("MPyC's median differs from the plaintext median")
    return float(seconds) / d


def _secure_median(x: NDArray[np.float64], f: int) -> tuple[float, float, int]:
    """One run of P22.2's median on shares: (online s, dealer s, bytes S0 sent)."""
    s0, s1 = _shares(x)
    channel = opt.Channel()
    dealer = TimedDealer(opt.Dealer(rng=opt.SystemRandomSource()))
    bits = coordinate_bound_log2(x.shape[1])
    total, (num, q) = elapsed(
        lambda: coordinatewise_numerator(
            "median", f, (s0, s1), bits=bits, dealer=cast(opt.Dealer, dealer), channel=channel
        )
    )
    z = publish(num[0] + num[1], q, 16)
    if not np.array_equal(z, opt.CoordinateMedian(f)(np.array([opt.decode(r) for r in s0 + s1]))):
        raise RuntimeError("the secure median differs from the plaintext median")
    offline = dealer.take()
    return total - offline, offline, _sent(channel)


def bench_secure_median(n: int, dims: list[int], repeat: int, mpyc_d: int) -> str:
    """The coordinate-wise median on shares (P22.2) beside the plaintext median at the same
    shape and MPyC's secure median per coordinate (measured at ``mpyc_d`` coordinates)."""
    f = bench_f(n)
    mpyc = bench_mpyc_median(n, mpyc_d)
    rows = []
    for d in dims:
        x = updates(n, d)
        plain_t, _ = median_time(lambda: opt.CoordinateMedian(f)(x), repeat)  # noqa: B023
        runs = [_secure_median(x, f) for _ in range(max(1, repeat) + 1)]
        cold = runs[0][0]
        online = statistics.median(r[0] for r in runs[1:])
        offline = statistics.median(r[1] for r in runs[1:])
        per = online / d
        rows.append(
            [
                f"{d:,}",
                plain_t,
                online,
                cold,
                offline,
                runs[-1][2] / d,
                "not installed" if mpyc is None else f"{mpyc / per:,.0f}x",
            ]
        )
    note = (
        "MPyC not installed (dev extra)"
        if mpyc is None
        else f"MPyC 1-party secure median: {mpyc * 1e3:.2f} ms per coordinate (d={mpyc_d})"
    )
    return format_table(
        [
            "d",
            "plaintext s",
            "secure online s",
            "cold s",
            "dealer s",
            "bytes/server/coord",
            "faster than MPyC",
        ],
        rows,
        title=(
            f"Secure coordinate-wise median (P22.2), optimized tree, n={n}, f={f}: Batcher's "
            f"network, {len(sorting_layers(n))} layers; {note}; targets: <= 6 s at d=713,000, "
            ">= 300x MPyC per coordinate"
        ),
    )


def bench_hidden_krum(shapes: list[tuple[int, int]], repeat: int) -> str:
    """Krum's round with D revealed to S1 against D kept shared (C8.15), online seconds."""
    rows = []
    for n, d in shapes:
        x = updates(n, d)
        f = bench_f(n)
        online: dict[str, float] = {}
        sent: dict[str, int] = {}
        for leakage in ("distances", "index", "output"):
            runs = [
                opt.secure_aggregate(x, opt.Krum(f), rng=opt.SystemRandomSource(), leakage=leakage)
                for _ in range(max(1, repeat) + 1)
            ]
            online[leakage] = statistics.median(
                sum(v for k, v in r.seconds.items() if not k.startswith("offline"))
                for r in runs[1:]
            )
            sent[leakage] = _sent(runs[-1].channel)
        for leakage in ("index", "output"):
            rows.append(
                [
                    f"n={n}, d={d:,}",
                    leakage,
                    online["distances"],
                    online[leakage],
                    online[leakage] - online["distances"],
                    (sent[leakage] - sent["distances"]) / (n * d),
                ]
            )
    return format_table(
        ["shape", "leakage", "online s with D", "online s", "added s", "added bytes/coord"],
        rows,
        title="Krum without revealing D (P22.5, P22.6), optimized tree; target: adds <= 1 s "
        "online at n=100",
    )


def bench_reference_median(n: int, d: int) -> str:
    """The pure-Python reference's secure median round once (target < 10 s at n=9, d=100)."""
    x = updates(n, d).tolist()
    f = bench_f(n)
    total, result = elapsed(
        lambda: ref.secure_aggregate(x, ref.CoordinateMedian(f), rng=ref.SystemRandomSource())
    )
    rows = [["secure median round (whole, one process)", total, human_bytes(_sent(result.channel))]]
    return format_table(
        ["what", "seconds", "bytes S0 sent"],
        rows,
        title=f"Reference tree (pure Python): secure coordinate-wise median, n={n}, d={d}",
    )
