"""A whole deployment on this machine for the load test and the network benchmark (spec
section 23, P23.1): ``S0``, ``S1`` and the dealer as child processes that report their peak
memory, and the workers as tasks of this process that keep their connections across rounds.

The servers run ``sbrml.net.runner.serve`` unchanged. The dealer deals a round only when
told to, so that a round's online part (the workers' shares to ``S1``'s record) is timed
with the dealer's material already delivered and no dealer competing for the two cores.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from sbrml.bench.common import elapsed
from sbrml.core.errors import RoundAborted
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.config import Deployment, load_deployment, round_setup_of
from sbrml.net.runner import result_path
from sbrml.net.tls import load_credentials, make_certificates
from sbrml.net.transport import Endpoint
from sbrml.optimized.randomness import SystemRandomSource
from sbrml.optimized.round import worker_messages

__all__ = ["HIGH_WATER", "Loopback", "RoundTiming", "free_port", "issue_certificates", "workers_of"]

# The child's peak resident memory: VmHWM is reset by exec, so it is the child's own (the
# parent's peak would leak into ru_maxrss through vfork/exec).
HIGH_WATER = """
def high_water_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
"""

SERVER = (
    HIGH_WATER
    + """
import json, sys
from sbrml.net.config import load_deployment
from sbrml.net.runner import serve

base = high_water_kib()
serve(load_deployment(sys.argv[1]), sys.argv[2])
print(json.dumps({"base_kib": base, "peak_kib": high_water_kib()}), flush=True)
"""
)

# P23.1 step 2, one round per line read from standard input (the round's id); "dealt <r>" is
# printed once both servers have acknowledged the round's material.
DEALER = (
    HIGH_WATER
    + """
import json, sys
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.config import load_deployment, round_setup_of
from sbrml.net.parties import run_dealer
from sbrml.net.tls import load_credentials
from sbrml.net.transport import Endpoint
from sbrml.optimized.randomness import SystemRandomSource

deployment = load_deployment(sys.argv[1])
setup = round_setup_of(deployment)
files = deployment.party("dealer")
credentials = load_credentials(deployment.ca, files.cert, files.key, party="dealer")
peers = {s: deployment.address(s) for s in ("S0", "S1")}
base = high_water_kib()
# D23.3: the dealer listens for S0's requests (P23.2) and sends to both servers.
listen = deployment.listen("dealer")
with Endpoint(credentials, listen=listen, peers=peers, round_id=deployment.first_round) as endpoint:
    for line in sys.stdin:
        r = int(line)
        channel = NetworkChannel(
            endpoint, round_id=r, record=False, timeouts=Timeouts(**deployment.timeouts)
        )
        run_dealer(setup, rng=SystemRandomSource(), channel=channel)
        print(f"dealt {r}", flush=True)
print(json.dumps({"base_kib": base, "peak_kib": high_water_kib()}), flush=True)
"""
)

CONFIG = """[round]
rule = "{rule}"
n = {n}
f = {f}
d = {d}
rounds = {rounds}

[tls]
ca = "{certs}/ca.pem"

[parties.s0]
address = "127.0.0.1:{port0}"
cert = "{certs}/s0.pem"
key = "{certs}/s0.key"

[parties.s1]
address = "127.0.0.1:{port1}"
cert = "{certs}/s1.pem"
key = "{certs}/s1.key"

[parties.dealer]
address = "127.0.0.1:{port2}"
cert = "{certs}/dealer.pem"
key = "{certs}/dealer.key"

[workers]
cert = "{certs}/w{{i}}.pem"
key = "{certs}/w{{i}}.key"

[timeouts]
share = {timeout}
offline = {timeout}
peer = {timeout}

[output]
directory = "results"
"""


def free_port() -> int:
    """A loopback port free at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issue_certificates(directory: Path, n: int) -> Path:
    """D23.3: a CA and certificates for S0, S1, the dealer and workers W0..W<n-1>."""
    make_certificates(directory, ["S0", "S1", "dealer"] + [f"W{i}" for i in range(n)])
    return directory


def workers_of(links: dict[str, int]) -> dict[str, int]:
    """Bytes per link (C7.2) with the workers' links summed: ``W3->S0`` counts under
    ``workers->S0``."""
    out: dict[str, int] = {}
    for link, size in links.items():
        sender, _, receiver = link.partition("->")
        key = f"workers->{receiver}" if sender.startswith("W") else link
        out[key] = out.get(key, 0) + size
    return out


@dataclass(frozen=True)
class RoundTiming:
    """One round over loopback: the dealer's seconds until both servers acknowledged its
    material, the seconds from the first share sent to ``S1``'s record, and both records."""

    offline: float
    latency: float
    s0: dict[str, Any]
    s1: dict[str, Any]


class Loopback:
    """S0, S1 and the dealer as child processes on free loopback ports, serving ``rounds``
    rounds of ``rule`` for the n x d ``inputs`` (worker i sends row i in every round).

    ``certs`` is a directory from ``issue_certificates`` for at least n workers. Use as a
    context manager; ``round`` runs the next round; ``peaks`` (after the block) holds each
    party process's peak and post-import resident memory in KiB.
    """

    def __init__(
        self,
        directory: Path,
        certs: Path,
        inputs: NDArray[np.float64],
        *,
        rule: str,
        f: int,
        rounds: int,
        timeout: float = 120.0,
    ) -> None:
        n, d = inputs.shape
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "deployment.toml"
        text = CONFIG.format(
            rule=rule,
            n=n,
            f=f,
            d=d,
            rounds=rounds,
            certs=certs.resolve(),
            port0=free_port(),
            port1=free_port(),
            port2=free_port(),
            timeout=timeout,
        )
        config.write_text(text, encoding="utf-8")
        self.deployment: Deployment = load_deployment(config)
        self.directory = directory
        self.inputs = inputs
        self.timeout = timeout
        self.next_round = self.deployment.first_round
        self.peaks: dict[str, dict[str, int]] = {}
        self._processes: dict[str, subprocess.Popen[str]] = {}
        self._errors: dict[str, IO[str]] = {}
        self._dealt: queue.Queue[str] = queue.Queue()
        self._workers: list[Endpoint] = []
        self._reader = threading.Thread(target=self._read_dealer, daemon=True)

    def __enter__(self) -> Loopback:
        try:
            for party in ("s0", "s1", "dealer"):
                self._start(party)
            self._reader.start()
            peers = {s: self.deployment.address(s) for s in ("S0", "S1")}
            for i in range(self.inputs.shape[0]):
                files = self.deployment.party(f"W{i}")
                mine = load_credentials(self.deployment.ca, files.cert, files.key, party=f"W{i}")
                self._workers.append(Endpoint(mine, peers=peers))
        except BaseException:
            self._stop()
            raise
        return self

    def _start(self, party: str) -> None:
        code = DEALER if party == "dealer" else SERVER
        command = [sys.executable, "-c", code, str(self.deployment.path), party]
        self._errors[party] = (self.directory / f"{party}.err").open("w", encoding="utf-8")
        self._processes[party] = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if party == "dealer" else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._errors[party],
            text=True,
        )

    def _read_dealer(self) -> None:
        stdout = self._processes["dealer"].stdout
        for line in stdout if stdout is not None else []:
            self._dealt.put(line.strip())

    def _check(self, deadline: float, waiting_for: str) -> None:
        # C23.4: a party process that failed, or a round past its budget, stops the run.
        for party, process in self._processes.items():
            code = process.poll()
            if code not in (None, 0):
                reason = (self.directory / f"{party}.err").read_text(encoding="utf-8")
                raise RoundAborted(
                    "Loopback", party, f"the {party} process to serve", "C23.4", reason[-2000:]
                )
        if time.monotonic() > deadline:
            raise RoundAborted(
                "Loopback", waiting_for, "it within the timeout", "C23.4", f"> {self.timeout} s"
            )

    def _until(self, done: Callable[[], bool], waiting_for: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            self._check(deadline, waiting_for)
            time.sleep(0.002)

    def _deal(self, r: int) -> None:
        stdin = self._processes["dealer"].stdin
        if stdin is None:  # pragma: no cover - started with a pipe
            raise RoundAborted("Loopback", "dealer", "a pipe", "C23.4", "none")
        stdin.write(f"{r}\n")
        stdin.flush()
        got: list[str] = []

        def dealt() -> bool:
            try:
                got.append(self._dealt.get_nowait())
            except queue.Empty:
                return False
            return True

        self._until(dealt, f"the dealer's round {r}")
        if got != [f"dealt {r}"]:
            raise RoundAborted("Loopback", "dealer", f"'dealt {r}'", "C23.4", repr(got))

    def _share(self, r: int) -> None:
        setup = round_setup_of(self.deployment)
        timeouts = Timeouts(**self.deployment.timeouts)
        errors: list[str] = []

        compute = threading.Lock()

        def play(i: int) -> None:
            # P23.1 step 3 as run_worker does it, with the worker's own work (encoding, the
            # norm check's BLAS dot, sharing) done one worker at a time: concurrent OpenBLAS
            # calls from 100 threads of one process are about 70 times slower than the same
            # calls in turn (100 encodings at d = 100,000: 3 s against 0.04 s), a cost of
            # this harness that workers in processes of their own never pay. The sends stay
            # concurrent.
            channel = NetworkChannel(self._workers[i], round_id=r, record=False, timeouts=timeouts)
            rng = SystemRandomSource().derive(f"worker/{i}")
            try:
                with compute:
                    messages = worker_messages(
                        i, self.inputs[i], rng=rng, frac_bits=setup.frac_bits, bound_log2=setup.bits
                    )
                for m in messages:
                    channel.send(m.sender, m.receiver, m.label, m.payload)
            except Exception as error:  # reported below: a lost share loses the round
                errors.append(f"W{i}: {error}")

        tasks = [threading.Thread(target=play, args=(i,)) for i in range(len(self._workers))]
        for task in tasks:
            task.start()
        for task in tasks:
            task.join()
        if errors:
            raise RoundAborted("Loopback", "workers", "every share sent", "C23.4", errors[0])
        s1 = result_path(self.deployment, r, "s1")
        self._until(s1.exists, f"S1's record of round {r}")

    def round(self) -> RoundTiming:
        """P23.1 for the next round: the dealer deals it, then the workers share and this
        waits for both servers' records. RoundAborted (C23.4) when a party process fails or
        the round takes longer than the timeout."""
        r = self.next_round
        self.next_round += 1
        offline, _ = elapsed(lambda: self._deal(r))
        latency, _ = elapsed(lambda: self._share(r))
        s0 = result_path(self.deployment, r, "s0")
        self._until(s0.exists, f"S0's record of round {r}")
        s1 = result_path(self.deployment, r, "s1")
        records = [json.loads(path.read_text(encoding="utf-8")) for path in (s0, s1)]
        return RoundTiming(offline, latency, *records)

    def z(self, record: dict[str, Any]) -> NDArray[np.float64]:
        """The output ``S1`` published in ``record`` (P23.1 step 5)."""
        return np.asarray(np.load(self.deployment.output / record["z"]), dtype=np.float64)

    def __exit__(self, *exc: object) -> None:
        served = self.next_round - self.deployment.first_round == self.deployment.rounds
        self._stop(clean=exc[0] is None and served)

    def _stop(self, clean: bool = False) -> None:
        # After the last round every party exits by itself and prints its memory; otherwise
        # (an error, rounds left) the processes this object started are killed.
        for endpoint in self._workers:
            endpoint.close(grace=0.0)
        dealer = self._processes.get("dealer")
        if dealer is not None and dealer.stdin is not None and not dealer.stdin.closed:
            dealer.stdin.close()
        for party, process in self._processes.items():
            if not clean:
                process.kill()
            try:
                out = "" if party == "dealer" else process.communicate(timeout=self.timeout)[0]
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                continue
            if party == "dealer":  # its standard output goes through the reader thread
                self._reader.join(timeout=5.0)
                out = "\n".join(self._dealt.get() for _ in range(self._dealt.qsize()))
            lines = [line for line in (out or "").splitlines() if line.startswith("{")]
            if clean and lines:
                self.peaks[party] = json.loads(lines[-1])
        for file in self._errors.values():
            file.close()
