"""Parties that crash, restart, never come or come too late, across processes and at the
endpoint (spec section 23: C23.3, C23.4 with C8.4; issue 16 items 3 and 4): a server killed
mid-round, a restarted server, a dealer that never comes, too few workers left, a share after
the deadline and a worker holding unfinished calls. Faulty workers' messages are in
``test_faults_workers.py``. Every wait is bounded by the deployment's short timeouts.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from numpy.typing import NDArray

from sbrml.core.channel import Message
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.config import Deployment, load_deployment
from sbrml.net.frames import encode_frames
from sbrml.net.runner import launch, result_path, worker
from sbrml.net.tls import channel_credentials, load_credentials, make_certificates
from sbrml.net.transport import DELIVER, DeliveryRefused, Endpoint
from tests.helpers.byzantine import start_server, stop, wait_for_records
from tests.helpers.deployment import krum_pick, write_deployment

D = 8


def start(config: Path, parties: tuple[str, ...]) -> dict[str, Any]:
    return {party: start_server(config, party) for party in parties}


def honest_round(
    deployment: Deployment, inputs: NDArray[Any], workers: list[int], round_id: int
) -> list[threading.Thread]:
    """``runner.worker`` for each of ``workers`` in a thread of its own."""
    threads = [
        threading.Thread(
            target=worker, args=(deployment, i, inputs[i]), kwargs={"round_id": round_id}
        )
        for i in workers
    ]
    for t in threads:
        t.daemon = True
        t.start()
    return threads


def kill_s1_mid_round(
    tmp_path: Path, rounds: int, timeouts: str, dealer_wait: float
) -> tuple[Deployment, Any]:
    """Start S0 and S1, let W0-W4 share (W5 stalls, so both servers wait for it until the
    share deadline), start the dealer, and kill S1 once the dealer has sent its material and
    ended (or after ``dealer_wait`` seconds, less than the share deadline): S1 holds its
    material and the shares and has not reached its first exchange.
    Returns the deployment, the inputs and the processes still running."""
    config = write_deployment(
        tmp_path, rule="krum", n=6, f=1, d=D, rounds=rounds, timeouts=timeouts
    )
    deployment = load_deployment(config)
    inputs = np.random.default_rng(7).normal(size=(6, D))
    processes = start(config, ("s0", "s1"))
    try:
        for t in honest_round(deployment, inputs, [0, 1, 2, 3, 4], 1):
            t.join(30)
        processes["dealer"] = start_server(config, "dealer")
        with contextlib.suppress(subprocess.TimeoutExpired):
            processes["dealer"].wait(timeout=dealer_wait)  # else one that stays for later rounds
        assert not result_path(deployment, 1, "s1").exists()  # S1 is within round 1
        processes.pop("s1").kill()
    except BaseException:
        stop(processes, 5)
        raise
    return deployment, (inputs, processes)


@pytest.mark.spec("C23.4")
def test_a_server_killed_mid_round_makes_the_other_abort_it_publishing_nothing(
    tmp_path: Path,
) -> None:
    timeouts = "share = 3\noffline = 10\npeer = 3"
    deployment, (_, processes) = kill_s1_mid_round(tmp_path, 1, timeouts, 2.5)
    try:
        (record,) = wait_for_records(deployment, 1, ["s0"], processes, 30).values()
    finally:
        errors = stop(processes, 20)
    stopped = record["stopped"]
    assert "S0 round 1: phase 'valid'" in stopped and "delivery to S1" in stopped
    assert "(C23.4)" in stopped
    assert "z" not in record and "valid" not in record and "excluded" not in record
    assert not result_path(deployment, 1, "s1").exists()
    assert list(deployment.output.glob("*.npy")) == []
    # The server ran to its end; a round stopped, so it exits 3 and says why on stderr.
    assert processes["s0"].returncode == 3, errors["s0"]
    assert "1 of 1 round(s) stopped" in errors["s0"]


@pytest.mark.spec("C23.4", "P23.1")
def test_a_restarted_server_serves_the_next_round(tmp_path: Path) -> None:
    # Today the dealer ends within a second or two, having sent both rounds' material; S1 is
    # killed then, and the test fails at the restarted S1's record after its offline wait.
    timeouts = "share = 6\noffline = 4\npeer = 5"
    deployment, (inputs, processes) = kill_s1_mid_round(tmp_path, 2, timeouts, 3.5)
    # The restarted S1 serves from round 2: the same file but for first_round and rounds.
    config = deployment.path
    restart = config.with_name("restart.toml")
    restart.write_text(config.read_text().replace("rounds = 2", "rounds = 1\nfirst_round = 2"))
    try:
        processes["s1 again"] = start_server(restart, "s1")
        for t in honest_round(deployment, inputs, list(range(6)), 2):
            t.join(30)
        (s1,) = wait_for_records(deployment, 2, ["s1"], processes, 30).values()
        assert s1.get("valid") == list(range(6)), s1
        (s0,) = wait_for_records(deployment, 2, ["s0"], processes, 30).values()
        assert s0.get("valid") == list(range(6)), s0
        first = json.loads(result_path(deployment, 1, "s0").read_text())
    finally:
        stop(processes, 1)  # what is still running once the records are read has failed
    assert "(C23.4)" in first["stopped"] and "S1" in first["stopped"]
    z = np.load(deployment.output / s1["z"])
    assert krum_pick(z, inputs, list(range(6))) >= 0


@pytest.mark.spec("C23.4")
def test_a_dealer_that_never_comes_stops_the_round_at_both_servers(tmp_path: Path) -> None:
    n = 5
    timeouts = "share = 2\noffline = 2\npeer = 10"
    config = write_deployment(tmp_path, rule="krum", n=n, f=1, d=D, timeouts=timeouts)
    deployment = load_deployment(config)
    inputs = np.random.default_rng(3).normal(size=(n, D))
    processes = start(config, ("s0", "s1"))
    try:
        for t in honest_round(deployment, inputs, list(range(n)), 1):
            t.join(30)
        records = wait_for_records(deployment, 1, ["s0", "s1"], processes, 30)
    finally:
        errors = stop(processes, 20)
    for party in ("s0", "s1"):
        stopped = records[party]["stopped"]
        assert "(C23.4)" in stopped and "from dealer" in stopped and "offline/" in stopped
        assert "z" not in records[party] and "valid" not in records[party]
        assert processes[party].returncode == 3, errors[party]
    assert list(deployment.output.glob("*.npy")) == []


@pytest.mark.spec("C8.4", "C23.4")
def test_too_few_workers_left_stops_the_round_with_c8_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 5  # Krum with f = 1 needs 5: one worker whose input is NaN leaves 4
    timeouts = "share = 2\noffline = 10\npeer = 10"
    config = write_deployment(tmp_path, rule="krum", n=n, f=1, d=D, timeouts=timeouts)
    inputs = np.random.default_rng(4).normal(size=(n, D))
    inputs[2, 0] = np.nan
    (record,) = launch(load_deployment(config), inputs)
    stopped = record["stopped"]
    assert "(C8.4)" in stopped and "4 valid of n=5, f=1" in stopped
    assert "W2: S1: no share received (C8.3)" in stopped
    assert "z" not in record
    s0 = json.loads((tmp_path / "results" / "round-1.s0.json").read_text())
    assert "(C8.4)" in s0["stopped"]
    assert "W2 round 1:" in capsys.readouterr().err


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Endpoint, dict[str, Endpoint]]]:
    """S0 listening on loopback and two workers' endpoints."""
    files = make_certificates(tmp_path, ["S0", "W0", "W1"])
    creds = {p: load_credentials(f.ca, f.cert, f.key, party=p) for p, f in files.items()}
    s0 = Endpoint(creds["S0"], listen="127.0.0.1:0")
    peers = {"S0": f"127.0.0.1:{s0.port}"}
    workers = {w: Endpoint(creds[w], peers=peers) for w in ("W0", "W1")}
    yield s0, workers
    for endpoint in (s0, *workers.values()):
        endpoint.close()


@pytest.mark.spec("C23.3", "C23.4")
def test_a_share_after_the_deadline_stays_out_of_its_round_and_the_next(
    pair: tuple[Endpoint, dict[str, Endpoint]],
) -> None:
    s0, workers = pair

    def share(w: str, payload: bytes, round_id: int) -> None:
        workers[w].send(Message(w, "S0", "share", payload), round_id, 5)

    round1 = NetworkChannel(s0, round_id=1, timeouts=Timeouts(share=0.3))
    share("W1", b"one", 1)
    got = round1.receive("S0", "share", senders=["W0", "W1"])
    assert [m.sender for m in got] == ["W1"]  # W0 missed the deadline
    share("W0", b"late", 1)  # still round 1: accepted, but the share phase is over
    round2 = NetworkChannel(s0, round_id=2, timeouts=Timeouts(share=5))
    with pytest.raises(DeliveryRefused):
        share("W0", b"late again", 1)  # now a past round's frame (C23.3)
    share("W1", b"two", 2)
    timer = threading.Timer(0.3, share, args=("W0", b"W0's own", 2))
    timer.start()
    # The refusal of W0's round-1 frame does not stand for its round-2 share: the receive
    # waits for that share, and the late round-1 share is gone with its round.
    got = round2.receive("S0", "share", senders=["W0", "W1"])
    timer.join()
    assert [(m.sender, bytes(m.payload)) for m in got] == [("W0", b"W0's own"), ("W1", b"two")]
    assert [sender for sender, _ in round2.refused()] == ["W0"]


@pytest.mark.spec("C23.4")
def test_a_worker_holding_unfinished_calls_does_not_starve_the_other_server(
    tmp_path: Path,
) -> None:
    files = make_certificates(tmp_path, ["S0", "S1", "W0"])
    creds = {p: load_credentials(f.ca, f.cert, f.key, party=p) for p, f in files.items()}
    frames = list(encode_frames(1, Message("W0", "S0", "share", bytes(8 * D)), 8))
    release = threading.Event()

    def stalls() -> Iterator[bytes]:
        yield frames[0]
        release.wait(20)  # a call that never finishes on its own

    with Endpoint(creds["S0"], listen="127.0.0.1:0") as s0:
        address = f"127.0.0.1:{s0.port}"
        options = [("grpc.ssl_target_name_override", "s0")]
        stalled = grpc.secure_channel(address, channel_credentials(creds["W0"]), options=options)
        calls = [stalled.stream_unary(DELIVER).future(stalls(), timeout=20) for _ in range(20)]
        try:
            time.sleep(0.5)
            with Endpoint(creds["S1"], peers={"S0": address}) as s1:
                s1.send(Message("S1", "S0", "valid", b"v"), 1, 3)
            assert s0.take_one("valid", "S1", time.monotonic() + 1) is not None
        finally:
            release.set()
            for call in calls:
                call.cancel()
            stalled.close()
