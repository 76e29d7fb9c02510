"""Faulty parties and party processes for the deployment's fault tests (spec section 23,
C23.2-C23.4; issue 16 item 3).

``WireWorker`` holds a worker's certificate and speaks the wire itself (D23.2, D23.3): it can
send a share of the wrong length, two shares, frames of a finished round, the first frames of
a message only, or frames that claim another sender. ``start_server`` and ``sbrml_worker``
run the real ``sbrml serve`` and ``sbrml worker`` commands as processes. Run as a module,
``python -m tests.helpers.byzantine half CONFIG INDEX FRAMES`` is a worker process that sends
S0 a well-formed share, then only the first FRAMES frames of its share to S1, and dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from numpy.typing import NDArray

from sbrml.core.channel import Message
from sbrml.net.config import Deployment, load_deployment, round_setup_of
from sbrml.net.frames import FRAME_BYTES, encode_frames
from sbrml.net.runner import result_path
from sbrml.net.tls import Credentials, cert_name, channel_credentials, load_credentials
from sbrml.net.transport import DELIVER, Endpoint
from sbrml.optimized import DeterministicRandomSource
from sbrml.optimized.round import worker_messages

ROOT = Path(__file__).resolve().parents[2]


def credentials(deployment: Deployment, party: str) -> Credentials:
    """The certificate and key the deployment file names for ``party``."""
    files = deployment.party(party)
    return load_credentials(deployment.ca, files.cert, files.key, party=party)


def raw_deliver(
    creds: Any,
    address: str,
    server: str,
    frames: Iterator[bytes] | Sequence[bytes],
    *,
    timeout: float = 5.0,
    wait: bool = False,
) -> None:
    """One ``Deliver`` call carrying ``frames`` as they are, with gRPC ``creds`` (what a
    misbehaving client can send, bypassing ``Endpoint.send``'s checks). Raises
    ``grpc.RpcError`` with the server's status when it refuses the call. ``wait``: wait for
    the server to listen (gRPC's wait_for_ready)."""
    options = [("grpc.ssl_target_name_override", cert_name(server))]
    with grpc.secure_channel(address, creds, options=options) as channel:
        channel.stream_unary(DELIVER)(iter(frames), timeout=timeout, wait_for_ready=wait)


def share_messages(deployment: Deployment, index: int, x: NDArray[Any], seed: int) -> list[Message]:
    """The two share messages an honest worker ``index`` sends for ``x`` (P8.1 step 1)."""
    setup = round_setup_of(deployment)
    rng = DeterministicRandomSource(seed).derive(f"worker/{index}")
    return worker_messages(index, x, rng=rng, frac_bits=setup.frac_bits, bound_log2=setup.bits)


class WireWorker:
    """A party holding the certificate of ``W<certificate>`` (default: ``W<index>``) that
    sends as ``W<index>``: the honest path through an ``Endpoint``, or raw frames."""

    def __init__(self, deployment: Deployment, index: int, *, certificate: int | None = None):
        self.deployment = deployment
        self.name = f"W{index}"
        holder = f"W{index if certificate is None else certificate}"
        self.credentials = credentials(deployment, holder)
        self.endpoint = Endpoint(
            self.credentials, peers={s: deployment.address(s) for s in ("S0", "S1")}
        )

    def message(self, server: str, payload: bytes, *, label: str = "share") -> Message:
        return Message(self.name, server, label, payload)

    def send(self, message: Message, round_id: int, *, timeout: float = 10.0) -> None:
        """Deliver ``message`` in frames of ``round_id`` and wait for the acknowledgement
        (``DeliveryRefused`` or ``DeliveryFailed`` otherwise), waiting for the server."""
        self.endpoint.send(message, round_id, timeout)

    def frames(
        self, message: Message, round_id: int, frame_bytes: int = FRAME_BYTES
    ) -> list[bytes]:
        return list(encode_frames(round_id, message, frame_bytes))

    def deliver(
        self, server: str, frames: Iterator[bytes] | Sequence[bytes], *, timeout: float = 5.0
    ) -> None:
        """Raw frames to ``server`` over mutual TLS with this party's certificate."""
        creds = channel_credentials(self.credentials)
        raw_deliver(creds, self.deployment.address(server), server, frames, timeout=timeout)

    def close(self) -> None:
        self.endpoint.close()


def anonymous_deliver(
    deployment: Deployment, server: str, frames: Sequence[bytes], *, timeout: float = 5.0
) -> None:
    """Frames to ``server`` over TLS with no client certificate (C23.2)."""
    creds = grpc.ssl_channel_credentials(root_certificates=deployment.ca.read_bytes())
    raw_deliver(creds, deployment.address(server), server, frames, timeout=timeout)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def start_server(config: Path, party: str) -> subprocess.Popen[bytes]:
    """``sbrml serve <party> --config <config>`` as its own process (P23.1)."""
    return subprocess.Popen(
        _command("sbrml.cli", "serve", party, "--config", str(config)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def sbrml_worker(config: Path, index: int, vector: Path) -> subprocess.Popen[bytes]:
    """``sbrml worker --config <config> --index <index> --input <vector>`` as a process."""
    command = ["worker", "--config", str(config), "--index", str(index), "--input", str(vector)]
    return subprocess.Popen(
        _command("sbrml.cli", *command), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def half_worker(config: Path, index: int, frames: int) -> subprocess.Popen[bytes]:
    """A worker process that disconnects in the middle of its share to S1 (see the module)."""
    return subprocess.Popen(
        _command("tests.helpers.byzantine", "half", str(config), str(index), str(frames)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_records(
    deployment: Deployment,
    round_id: int,
    parties: Sequence[str],
    processes: dict[str, subprocess.Popen[bytes]],
    timeout: float,
) -> dict[str, dict[str, Any]]:
    """Wait until each of ``parties`` (``s0``, ``s1``) has written its record of
    ``round_id``; raise if it does not come within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    paths = {p: result_path(deployment, round_id, p) for p in parties}
    while not all(path.exists() for path in paths.values()):
        if time.monotonic() > deadline:
            codes = {name: p.poll() for name, p in processes.items()}
            raise TimeoutError(f"no record of round {round_id} for {parties}; exits {codes}")
        time.sleep(0.02)
    return {p: json.loads(path.read_text(encoding="utf-8")) for p, path in paths.items()}


def stop(processes: dict[str, subprocess.Popen[bytes]], timeout: float) -> dict[str, str]:
    """Wait up to ``timeout`` seconds for the processes to end, kill those still running,
    and return each one's standard error."""
    deadline = time.monotonic() + timeout
    errors = {}
    for name, process in processes.items():
        try:
            _, err = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        errors[name] = (err or b"").decode("utf-8", "replace")
    return errors


def _half(config: str, index: int, count: int) -> None:
    # A well-formed share to S0, then the first ``count`` frames of a share to S1; the
    # process ends without closing the call, so S1 sees its connection drop.
    deployment = load_deployment(config)
    d = round_setup_of(deployment).d
    worker = WireWorker(deployment, index)
    share0, share1 = share_messages(deployment, index, np.zeros(d), seed=index)
    worker.send(share0, deployment.first_round)
    frames = worker.frames(share1, deployment.first_round, frame_bytes=8)[:count]

    def then_drop() -> Iterator[bytes]:
        yield from frames
        time.sleep(0.3)  # lets gRPC put the frames on the wire
        os._exit(0)

    creds = channel_credentials(worker.credentials)
    raw_deliver(creds, deployment.address("S1"), "S1", then_drop(), timeout=10, wait=True)


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "half":
        raise SystemExit("usage: python -m tests.helpers.byzantine half CONFIG INDEX FRAMES")
    _half(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
