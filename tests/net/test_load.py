"""A bounded load test of the deployment (issue 16 item 4; spec section 23, P23.1, C23.4):
100 worker tasks, each with its own certificate and connections, against one pair of server
processes and a dealer process over loopback with mutual TLS. No round may be lost: every
round's S1 record has all 100 workers in V and z equal to plaintext Krum's output. The
latency percentiles and the bytes per link are printed. A short run is part of ``make
test``; the issue's 50 rounds at d = 10,000 run under ``make thorough`` (marked slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.bench.loopback import Loopback, RoundTiming, issue_certificates, workers_of
from sbrml.tables import human_bytes

WORKERS = 100
F = 2


@pytest.fixture(scope="session")
def load_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One CA and certificates for S0, S1, the dealer and 100 workers, for the session."""
    return issue_certificates(tmp_path_factory.mktemp("load-certs"), WORKERS)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def run_load(directory: Path, certs: Path, rounds: int, d: int) -> list[RoundTiming]:
    """``rounds`` rounds of Krum (f = 2) with 100 workers, checked round by round."""
    x = np.random.default_rng(16).normal(size=(WORKERS, d))
    x[:F] += 25.0  # two far-off updates, so that the choice Krum makes is not arbitrary
    expected = opt.Krum(F)(x)
    with Loopback(directory, certs, x, rule="krum", f=F, rounds=rounds) as deployment:
        timings = []
        for r in range(1, rounds + 1):
            timing = deployment.round()
            record = timing.s1
            assert "stopped" not in record, (r, record["stopped"])
            assert record["valid"] == list(range(WORKERS)) and not record["excluded"], r
            assert record["refused"] == [], r
            np.testing.assert_allclose(deployment.z(record), expected, atol=1e-4, rtol=0)
            timings.append(timing)
    return timings


def report(timings: list[RoundTiming], d: int) -> str:
    latency = [t.latency for t in timings]
    offline = [t.offline for t in timings]
    links = workers_of(timings[-1].s0["bytes"]) | workers_of(timings[-1].s1["bytes"])
    per_round = ", ".join(f"{k} {human_bytes(v)}" for k, v in sorted(links.items()))
    return (
        f"\nload test: {WORKERS} workers, {len(timings)} rounds, d = {d:,}: first share to "
        f"S1's record p50 {percentile(latency, 50):.3f} s, p95 {percentile(latency, 95):.3f} s,"
        f" max {max(latency):.3f} s (first round {latency[0]:.3f} s); dealer's material p50 "
        f"{percentile(offline, 50):.3f} s; bytes per round: {per_round}; total "
        f"{human_bytes(len(timings) * sum(links.values()))}\n"
    )


@pytest.mark.spec("P23.1", "C23.4")
def test_a_hundred_workers_lose_no_round(
    tmp_path: Path, load_certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timings = run_load(tmp_path, load_certs, rounds=3, d=1_000)
    assert len(timings) == 3
    with capsys.disabled():
        print(report(timings, 1_000))


@pytest.mark.slow
@pytest.mark.spec("P23.1", "C23.4")
def test_a_hundred_workers_lose_none_of_fifty_rounds_at_d_10k(
    tmp_path: Path, load_certs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timings = run_load(tmp_path, load_certs, rounds=50, d=10_000)
    assert len(timings) == 50
    with capsys.disabled():
        print(report(timings, 10_000))
