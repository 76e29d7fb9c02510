"""A deployment file with free loopback ports and fresh certificates, for the network tests."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.net.tls import make_certificates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_deployment(
    directory: Path,
    *,
    rule: str = "krum",
    n: int = 6,
    f: int = 1,
    d: int = 8,
    rounds: int = 1,
    extra_round: str = "",
    timeouts: str = "share = 10\noffline = 20\npeer = 20",
    certs: bool = True,
) -> Path:
    """Write ``deployment.toml`` (and, with ``certs``, its certificates) into ``directory``."""
    if certs:
        make_certificates(directory / "certs", ["S0", "S1", "dealer"] + [f"W{i}" for i in range(n)])
    text = f"""
[round]
rule = "{rule}"
n = {n}
f = {f}
d = {d}
rounds = {rounds}
{extra_round}

[tls]
ca = "certs/ca.pem"

[parties.s0]
address = "127.0.0.1:{free_port()}"
cert = "certs/s0.pem"
key = "certs/s0.key"

[parties.s1]
address = "127.0.0.1:{free_port()}"
cert = "certs/s1.pem"
key = "certs/s1.key"

[parties.dealer]
address = "127.0.0.1:{free_port()}"
cert = "certs/dealer.pem"
key = "certs/dealer.key"

[workers]
cert = "certs/w{{i}}.pem"
key = "certs/w{{i}}.key"

[timeouts]
{timeouts}

[output]
directory = "results"
"""
    path = directory / "deployment.toml"
    path.write_text(text, encoding="utf-8")
    return path


def krum_pick(z: NDArray[Any], inputs: NDArray[Any], valid: list[int]) -> int:
    """The worker of ``valid`` whose input Krum's output ``z`` is (to the encoding's
    precision), or -1: the round completed on those workers' inputs only."""
    for i in valid:
        if np.allclose(z, inputs[i], atol=1e-3):
            return i
    return -1
