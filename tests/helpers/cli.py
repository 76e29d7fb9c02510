"""Helpers for the command-line tests: input files, JSON runs, a terminal-like stderr."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sbrml.cli import main

N, D = 9, 40
ROOT = Path(__file__).resolve().parents[2]
# A simulate run of one round on four workers: seconds, not minutes.
SIMULATE_SMALL = ["--rules", "mean", "--rounds", "1", "-n", "4", "-f", "1", "--attacks", "none"]


def write_input(path: Path, n: int = N, d: int = D, seed: int = 5) -> Path:
    """An n x d input with two attackers (rows 7 and 8 when n = 9), saved as .npy."""
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((n, d))
    if n >= 9:
        x[7] = -10 * x[:7].mean(axis=0)
        x[8] = 30 * gen.standard_normal(d)
    np.save(path, x)
    return path


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run ``sbrml ARGS`` that must succeed and print one JSON object; return it."""
    status = main(args)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)  # type: ignore[no-any-return]


def run_error(args: list[str], capsys: pytest.CaptureFixture[str], status: int = 2) -> str:
    """Run ``sbrml ARGS`` that must fail with ``status``; return stderr."""
    assert main(args) == status
    return capsys.readouterr().err


def run_out(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``sbrml ARGS`` that must succeed; return the lines of standard output."""
    status = main(args)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out.splitlines()


def run_with_stdout(args: list[str], **popen: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m sbrml.cli ARGS`` in a child process (``popen`` sets its stdout)."""
    return subprocess.run(
        [sys.executable, "-m", "sbrml.cli", *args],
        stderr=subprocess.PIPE,
        cwd=ROOT,
        timeout=300,
        check=False,
        **popen,
    )


class WorkStarted(Exception):
    """Raised by a patched protocol: the run started although it should not have."""


def refuse_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any round, rule search or training run that starts raise WorkStarted."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise WorkStarted

    monkeypatch.setattr("sbrml.optimized.secure_aggregate", refuse)
    monkeypatch.setattr("sbrml.optimized.mask_protocol.masked_aggregate", refuse)
    monkeypatch.setattr("sbrml.simulation.run", refuse)
    monkeypatch.setattr("sbrml.robustness.kappa_table", refuse)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, so progress is shown into it."""

    def isatty(self) -> bool:
        return True


def parse_transcript(data: bytes) -> list[tuple[str, str, str, bytes]]:
    """An independent parser of the D7.3 format: (sender, receiver, label, payload)."""
    assert data[:8] == b"SBRMLTR1"
    (count,) = struct.unpack_from("<I", data, 8)
    pos, out = 12, []
    for _ in range(count):
        names = []
        for _ in range(3):
            (length,) = struct.unpack_from("<H", data, pos)
            names.append(data[pos + 2 : pos + 2 + length].decode("utf-8"))
            pos += 2 + length
        (size,) = struct.unpack_from("<Q", data, pos)
        out.append((names[0], names[1], names[2], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size
    assert pos == len(data)
    return out


def reconstruct_inputs(
    messages: list[tuple[str, str, str, bytes]], frac_bits: int = 16
) -> dict[int, np.ndarray]:
    """Every worker input whose two shares (to S0 and to S1) are both in ``messages``."""
    shares: dict[tuple[str, str], bytes] = {
        (sender, receiver): payload
        for sender, receiver, label, payload in messages
        if label == "share" and sender.startswith("W")
    }
    out = {}
    for (sender, receiver), payload in shares.items():
        if receiver != "S0" or (sender, "S1") not in shares:
            continue
        s0 = np.frombuffer(payload, dtype="<u8")
        s1 = np.frombuffer(shares[sender, "S1"], dtype="<u8")
        out[int(sender[1:])] = (s0 + s1).view(np.int64) / 2.0**frac_bits
    return out
