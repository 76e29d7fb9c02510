"""Tables of the round across processes (spec section 23, issue 16 item 5): the loopback
round beside the in-process round and plaintext Krum in the same run, bytes per link, the
mutual-TLS transport's own floor for the same bytes, peak memory per party process, and the
online phase of the first round in a fresh process.

The loopback round runs ``S0``, ``S1`` and the dealer as processes (``sbrml.bench.loopback``)
and the workers in this process; it is timed from the first share sent to ``S1``'s record,
after the dealer's material for that round has been acknowledged. Targets are printed beside
the figures, never asserted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
from sbrml.bench.common import bench_f, median_time, updates
from sbrml.bench.loopback import Loopback, RoundTiming, issue_certificates, workers_of
from sbrml.bench.round import ONLINE, lean_krum
from sbrml.core.channel import Message
from sbrml.net.config import Deployment
from sbrml.net.tls import load_credentials
from sbrml.net.transport import Endpoint
from sbrml.tables import format_table, human_bytes

__all__ = ["NetworkRun", "bench_network", "measure_network", "transport_floor"]

LINKS = ("workers->S0", "workers->S1", "dealer->S0", "dealer->S1", "S0->S1", "S1->S0")
# The transport's floor moves each group's bytes from one party to a listening S1. The
# workers' bytes go from the dealer's endpoint: a listener takes only shares from a worker,
# two per round (C23.3), and the floor is the transport's, whoever sends.
FLOOR_GROUPS = {
    "workers->S (shares)": ("dealer", ("workers->S0", "workers->S1")),
    "S0<->S1 (openings)": ("S0", ("S0->S1", "S1->S0")),
    "dealer->S (material)": ("dealer", ("dealer->S0", "dealer->S1")),
}

# A party that only listens and drops what it receives: the floor's receiver.
SINK = """
import sys, time
from sbrml.net.config import load_deployment
from sbrml.net.tls import load_credentials
from sbrml.net.transport import Endpoint

deployment = load_deployment(sys.argv[1])
files = deployment.party("S1")
credentials = load_credentials(deployment.ca, files.cert, files.key, party="S1")
with Endpoint(credentials, listen=deployment.listen("S1"), round_id=1) as endpoint:
    print("ready", flush=True)
    while True:
        endpoint.take("floor", None, time.monotonic() + 1.0)
"""

# The first round in a fresh process: imports, inputs, the offline material, then the online
# phases timed once by the round's own phase clock (C8.8).
FRESH = """
import json
import numpy as np
import sbrml.optimized as opt

x = 0.01 * np.random.default_rng(0).standard_normal(({n}, {d}))
result = opt.secure_aggregate(x, opt.Krum({f}), rng=opt.SystemRandomSource(), transcript=False)
print(json.dumps(result.seconds))
"""


@dataclass
class NetworkRun:
    """What ``measure_network`` measured at one shape (seconds, bytes, KiB)."""

    n: int
    d: int
    f: int
    plain_lean: float = 0.0
    plain_library: float = 0.0
    in_process: dict[str, float] = field(default_factory=dict)
    in_process_bytes: dict[str, int] = field(default_factory=dict)
    fresh: dict[str, float] = field(default_factory=dict)
    rounds: list[RoundTiming] = field(default_factory=list)
    peaks: dict[str, dict[str, int]] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)

    @property
    def fresh_online(self) -> float:
        """The online seconds of the first round in a fresh process."""
        return _online(self.fresh)

    @property
    def loopback_bytes(self) -> dict[str, int]:
        """Bytes per link of the last loopback round, from both servers' records."""
        last = self.rounds[-1]
        return workers_of(last.s0["bytes"]) | workers_of(last.s1["bytes"])

    def median(self, what: str) -> float:
        """Median over the warm rounds (all but the first) of ``offline`` or ``latency``."""
        warm = self.rounds[1:] or self.rounds
        return float(statistics.median(getattr(t, what) for t in warm))

    def server_phase(self, server: str, phase: str) -> float:
        """Median seconds of ``phase`` in ``server``'s records of the warm rounds."""
        warm = self.rounds[1:] or self.rounds
        return float(statistics.median(getattr(t, server)["seconds"].get(phase, 0.0) for t in warm))


def _online(seconds: dict[str, float]) -> float:
    return sum(seconds.get(p, 0.0) for p in ONLINE)


def _in_process(run: NetworkRun, x: NDArray[np.float64], repeat: int) -> None:
    # The in-process round keeps byte counts only (D7.2), as a server does.
    runs = []
    for _ in range(repeat + 1):
        result = opt.secure_aggregate(
            x, opt.Krum(run.f), rng=opt.SystemRandomSource(), transcript=False
        )
        runs.append(result.seconds)
    warm = runs[1:]
    phases = {p for r in warm for p in r}
    run.in_process = {p: statistics.median(r.get(p, 0.0) for r in warm) for p in phases}
    run.in_process["online"] = statistics.median(_online(r) for r in warm)
    run.in_process_bytes = workers_of(result.channel.bytes_by_link())


def _fresh(n: int, d: int, f: int) -> dict[str, float]:
    code = FRESH.format(n=n, d=d, f=f)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    seconds: dict[str, float] = json.loads(out.splitlines()[-1])
    return seconds


def _move(endpoint: Endpoint, sender: str, block: memoryview, sizes: list[int]) -> None:
    for size in sizes:
        endpoint.send(Message(sender, "S1", "floor", block[:size]), 1, 600.0)


def transport_floor(
    deployment: Deployment, jobs: list[tuple[str, int, int]], repeat: int
) -> list[float]:
    """D23.3's floor: for each ``(sender, total, message)``, the median seconds for
    ``sender`` to move ``total`` payload bytes to a listening ``S1`` (a process of its own)
    in messages of at most ``message`` bytes, each acknowledged, over mutual TLS with no
    protocol work (the receiver takes and drops them)."""
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(deployment.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seconds = []
    try:
        if sink.stdout is None or sink.stdout.readline().strip() != "ready":
            raise RuntimeError("transport floor: the listening process did not start")
        for sender, total, message in jobs:
            files = deployment.party(sender)
            mine = load_credentials(deployment.ca, files.cert, files.key, party=sender)
            block = memoryview(bytes(max(1, min(total, message))))
            sizes = [min(message, total - k) for k in range(0, total, message)]
            with Endpoint(mine, peers={"S1": deployment.address("S1")}) as endpoint:
                endpoint.send(Message(sender, "S1", "floor", b""), 1, 60.0)  # connect first
                move = partial(_move, endpoint, sender, block, sizes)
                seconds.append(median_time(move, repeat)[0])
    finally:
        sink.kill()
        sink.wait()
    return seconds


def measure_network(n: int, d: int, repeat: int, directory: Path) -> NetworkRun:
    """Every figure of the network tables at one shape, in this run (Krum, f = bench_f(n))."""
    x = updates(n, d)
    run = NetworkRun(n, d, bench_f(n))
    run.plain_lean, _ = median_time(lambda: lean_krum(x, run.f), repeat)
    run.plain_library, _ = median_time(lambda: opt.Krum(run.f)(x), repeat)
    _in_process(run, x, repeat)
    run.fresh = _fresh(n, d, run.f)
    certs = issue_certificates(directory / "certs", n)
    loopback = Loopback(directory / "round", certs, x, rule="krum", f=run.f, rounds=repeat + 1)
    with loopback:
        run.rounds = [loopback.round() for _ in range(repeat + 1)]
    run.peaks = loopback.peaks
    links = run.loopback_bytes
    jobs = [
        (sender, sum(links.get(link, 0) for link in members), 8 * d * (1 if sender == "W0" else n))
        for sender, members in FLOOR_GROUPS.values()
    ]
    floors = transport_floor(loopback.deployment, jobs, repeat)
    run.floors = dict(zip(FLOOR_GROUPS, floors, strict=True))
    return run


def _verdict(measured: float, target: float, unit: str = "s") -> str:
    return f"{'met' if measured <= target else 'MISSED'} (target <= {target:.3g} {unit})"


def _round_rows(run: NetworkRun) -> list[list[object]]:
    shape = f"{run.n} x {run.d:,}"
    online = run.in_process["online"]
    floor = run.floors["workers->S (shares)"] + run.floors["S0<->S1 (openings)"]
    latency, cold, offline = run.median("latency"), run.rounds[0].latency, run.median("offline")
    dealt = run.floors["dealer->S (material)"]
    figures: list[tuple[str, float, str]] = [
        ("plaintext sbrml.optimized.Krum (float64)", run.plain_library, "baseline"),
        ("plaintext NumPy Krum, minimal (BLAS Gram)", run.plain_lean, ""),
        ("in-process round: online", online, "goal beyond issue 16: 10 x plaintext"),
        (
            "in-process round: online, first round in a fresh process",
            run.fresh_online,
            _verdict(run.fresh_online, 0.5),
        ),
        (
            "loopback round: first share sent to S1's record",
            latency,
            _verdict(latency, online + 1.3 * floor) + " = in-process online + 1.3 x floor",
        ),
        ("loopback round: the same, cold first round", cold, ""),
        ("loopback: dealer's material, until acknowledged", offline, f"floor {dealt:.3g} s"),
    ]
    return [
        [shape, what, seconds, seconds / run.plain_library, seconds / run.plain_lean, note]
        for what, seconds, note in figures
    ]


def _phase_rows(run: NetworkRun) -> list[list[object]]:
    shape = f"{run.n} x {run.d:,}"
    phases = [p for p in ONLINE if p in run.in_process or p in run.rounds[-1].s1["seconds"]]
    rows: list[list[object]] = []
    for phase in phases:
        s0, s1 = run.server_phase("s0", phase), run.server_phase("s1", phase)
        rows.append(
            [shape, phase, run.in_process.get(phase, 0.0), run.fresh.get(phase, 0.0), s0, s1]
        )
    total = [sum(run.server_phase(s, p) for p in phases) for s in ("s0", "s1")]
    rows.append([shape, "online total", run.in_process["online"], run.fresh_online, *total])
    return rows


def _link_rows(run: NetworkRun) -> list[list[object]]:
    shape = f"{run.n} x {run.d:,}"
    loop, inproc = run.loopback_bytes, run.in_process_bytes
    return [[shape, link, loop.get(link, 0), inproc.get(link, 0)] for link in LINKS]


def _floor_rows(run: NetworkRun) -> list[list[object]]:
    shape = f"{run.n} x {run.d:,}"
    links = run.loopback_bytes
    rows: list[list[object]] = []
    for group, (_, members) in FLOOR_GROUPS.items():
        total = sum(links.get(link, 0) for link in members)
        seconds = run.floors[group]
        rows.append([shape, group, human_bytes(total), seconds, total / seconds / 2**20])
    return rows


def _memory_rows(run: NetworkRun) -> list[list[object]]:
    shape = f"{run.n} x {run.d:,}"
    share = 8 * run.n * run.d
    rows: list[list[object]] = []
    for party in ("s0", "s1", "dealer"):
        peak = run.peaks.get(party, {})
        peak_b, base_b = 1024 * peak.get("peak_kib", 0), 1024 * peak.get("base_kib", 0)
        note = ""
        if party != "dealer":
            target = 3 * share / 2**20
            note = f"peak {_verdict(peak_b / 2**20, target, 'MiB')}; "
            note += f"above imports {'met' if peak_b - base_b <= 3 * share else 'MISSED'}"
        name = party.upper() if party != "dealer" else party
        memory = [human_bytes(peak_b), human_bytes(peak_b - base_b), human_bytes(share)]
        rows.append([shape, name, *memory, note])
    return rows


def bench_network(shapes: list[tuple[int, int]], repeat: int) -> str:
    """The round across processes at each (n, d) against the in-process round (issue 16)."""
    with tempfile.TemporaryDirectory(prefix="sbrml-bench-net-") as tmp:
        runs = [measure_network(n, d, repeat, Path(tmp) / f"{n}x{d}") for n, d in shapes]
    fs = ", ".join(f"f={r.f} at n={r.n}" for r in runs)
    tables = [
        format_table(
            ["shape", "what", "seconds", "x sbrml Krum", "x minimal Krum", "note"],
            [row for r in runs for row in _round_rows(r)],
            title="Secure Krum round across processes (S0, S1, dealer; loopback, mutual TLS) "
            f"beside the in-process round, {fs}; median of {repeat} warm rounds",
        ),
        format_table(
            ["shape", "phase", "in-process s", "fresh process s", "S0 s", "S1 s"],
            [row for r in runs for row in _phase_rows(r)],
            title="Online phases: the in-process round (warm, and the first round in a fresh "
            "process) and each server's record over loopback (a server's validate includes "
            "waiting for the shares)",
        ),
        format_table(
            ["shape", "link", "loopback bytes", "in-process bytes"],
            [row for r in runs for row in _link_rows(r)],
            title="Payload bytes per link in one round (C7.2; the workers' links summed)",
        ),
        format_table(
            ["shape", "links", "bytes", "mTLS seconds", "MiB/s"],
            [row for r in runs for row in _floor_rows(r)],
            title="Transport floor: the same bytes over the same gRPC mutual-TLS transport, "
            "one sender to a listening party, no protocol work",
        ),
        format_table(
            ["shape", "party", "peak RSS", "above imports", "own share 8nd", "note"],
            [row for r in runs for row in _memory_rows(r)],
            title="Peak memory of each party process (VmHWM) beside a server's own share of "
            "the inputs; target <= 3 x the share",
        ),
    ]
    return "\n\n".join(tables)
