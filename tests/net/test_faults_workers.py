"""Faulty workers across processes (spec section 23: C23.2-C23.4 with C8.3; issue 16 items
3 and 4): real ``sbrml serve`` processes on loopback and workers that stall, disconnect, send
malformed, duplicated, replayed, late, forged or oversized shares, or have invalid inputs; the
workers that speak the wire themselves are ``tests.helpers.byzantine``'s. Servers that crash,
restart or never come, and the deadlines, are in ``test_faults_timeouts.py``.

The cases share one deployment of two rounds (the ``scene`` fixture): n = 14 workers of Krum
with f = 1, five honest (W0-W4) and one for each fault, all injected in the same rounds; each
test checks its case in the servers' records (``round-<r>.<party>.json``: ``valid``,
``excluded``, ``refused``) and in what the faulty party got back. Every wait is bounded by the
deployment's short timeouts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from numpy.typing import NDArray

from sbrml.net.config import Deployment, load_deployment
from sbrml.net.frames import encode_frames
from sbrml.net.runner import worker
from sbrml.net.transport import DeliveryRefused
from tests.helpers.byzantine import (
    WireWorker,
    anonymous_deliver,
    half_worker,
    sbrml_worker,
    share_messages,
    start_server,
    stop,
    wait_for_records,
)
from tests.helpers.deployment import krum_pick, write_deployment

N, F, D = 14, 1, 8
HONEST = [0, 1, 2, 3, 4]
STALL, HALF, MALFORMED, DUPLICATE, LATE, IMPOSTOR, NAN, BEYOND, OVERSIZE = range(5, 14)
SHARE = 3.0  # seconds: the share deadline, which each round of the scene waits out (W5)
TIMEOUTS = f"share = {SHARE:g}\noffline = 10\npeer = 10"
NO_SHARE = "no share received (C8.3)"
NOT_LISTED = "not in its valid list (C8.3)"


@dataclass
class Scene:
    """What the faulty deployment did: each server's record per round, S1's outputs, what
    each faulty send got back, and the ``sbrml worker`` runs with invalid inputs."""

    deployment: Deployment
    inputs: NDArray[Any]
    records: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    z: dict[int, NDArray[Any]] = field(default_factory=dict)
    outcomes: dict[str, BaseException | None] = field(default_factory=dict)
    cli: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    server_errors: dict[str, str] = field(default_factory=dict)

    def excluded(self, round_id: int, party: str) -> dict[str, str]:
        return dict(self.records[round_id, party]["excluded"])

    def refused(self, round_id: int, party: str) -> list[tuple[str, str]]:
        return [(sender, reason) for sender, reason in self.records[round_id, party]["refused"]]

    def outcome(self, name: str) -> BaseException | None:
        return self.outcomes[name]


def attempt(
    outcomes: dict[str, BaseException | None], name: str, action: Callable[[], Any]
) -> None:
    """Run one faulty send and keep what it raised (None: it was acknowledged)."""
    try:
        action()
    except Exception as error:  # each test checks the error its fault met
        outcomes[name] = error
    else:
        outcomes[name] = None


def inject_round_one(scene: Scene) -> dict[str, list[bytes]]:
    """Every share and fault of round 1. Returns W0's round-1 frames per server, for the
    replay."""
    deployment, inputs, outcomes = scene.deployment, scene.inputs, scene.outcomes
    wires = {i: WireWorker(deployment, i) for i in (0, MALFORMED, DUPLICATE, OVERSIZE)}
    impostor = WireWorker(deployment, 0, certificate=IMPOSTOR)
    try:
        # W1-W4 as `sbrml worker` runs them.
        def play(i: int) -> None:
            worker(deployment, i, inputs[i], round_id=1)

        threads = [threading.Thread(target=play, args=(i,), daemon=True) for i in HONEST[1:]]
        for t in threads:
            t.start()
        # W0 goes through the wire helper, so that its round-1 frames can be replayed.
        replay = {}
        for message in share_messages(deployment, 0, inputs[0], seed=1):
            wires[0].send(message, 1)
            replay[message.receiver] = wires[0].frames(message, 1)
        # Case 3: a share of the wrong length to S1 (a well-formed one to S0).
        good, _ = share_messages(deployment, MALFORMED, inputs[MALFORMED], seed=7)
        attempt(outcomes, "malformed S0", partial(wires[MALFORMED].send, good, 1))
        short = wires[MALFORMED].message("S1", bytes(8 * D - 8))
        attempt(outcomes, "malformed S1", partial(wires[MALFORMED].send, short, 1))
        # Case 4: two share messages to S0, one to S1.
        first, to_s1 = share_messages(deployment, DUPLICATE, inputs[DUPLICATE], seed=8)
        second, _ = share_messages(deployment, DUPLICATE, inputs[DUPLICATE], seed=9)
        for name, message in [("dup 1", first), ("dup 2", second), ("dup S1", to_s1)]:
            attempt(outcomes, name, partial(wires[DUPLICATE].send, message, 1))
        # A share whose first frame claims 64 MiB, and nothing more.
        head = next(encode_frames(1, wires[OVERSIZE].message("S1", bytes(1 << 26))))
        attempt(outcomes, "oversize", partial(wires[OVERSIZE].deliver, "S1", [head]))
        # Case 9: W10's certificate sending as W0, and a client with no certificate.
        forged = impostor.frames(impostor.message("S1", bytes(8 * D)), 1)
        attempt(outcomes, "impostor", partial(impostor.deliver, "S1", forged))
        attempt(outcomes, "anonymous", partial(anonymous_deliver, deployment, "S1", forged))
        for t in threads:
            t.join(30)
    finally:
        for wire in (*wires.values(), impostor):
            wire.close()
    return replay


def run_scene(directory: Path) -> Scene:
    """The deployment of the module's tests. The dealer starts last: the servers' share
    deadline runs from the dealer's material (C23.4), so every share and fault of round 1 is
    in before it starts, whatever the load of the machine."""
    config = write_deployment(directory, rule="krum", n=N, f=F, d=D, rounds=2, timeouts=TIMEOUTS)
    deployment = load_deployment(config)
    scene = Scene(deployment, np.random.default_rng(16).normal(size=(N, D)))
    np.save(directory / "nan.npy", np.array([np.nan] + [0.0] * (D - 1)))
    # 10^4 encodes to 10^4 * 2^16 > 2^29 = 2^b(8) (C8.13); its square stays below 2^62 (C8.2).
    np.save(directory / "beyond.npy", np.array([1e4] + [0.0] * (D - 1)))
    processes = {party: start_server(config, party) for party in ("s0", "s1")}
    clients = {
        NAN: sbrml_worker(config, NAN, directory / "nan.npy"),
        BEYOND: sbrml_worker(config, BEYOND, directory / "beyond.npy"),
        HALF: half_worker(config, HALF, 2),  # 2 of its 8 frames to S1, then it dies
    }
    late = WireWorker(deployment, LATE)
    try:
        replay = inject_round_one(scene)
        for index, process in clients.items():
            _, err = process.communicate(timeout=30)
            scene.cli[index] = (process.returncode, err.decode("utf-8", "replace"))
        processes["dealer"] = start_server(config, "dealer")
        for party in ("s0", "s1"):
            scene.records[1, party] = wait_for_records(deployment, 1, [party], processes, 40)[party]
        # Round 2's honest shares: W1-W4 as `sbrml worker` runs them, W0 through the wire
        # helper, and W9, which missed round 1. A sender early for a round waits for it
        # (C23.3: a listener holds nothing of a round it has not reached).
        round_two = [
            threading.Thread(
                target=worker, args=(deployment, i, scene.inputs[i]), kwargs={"round_id": 2}
            )
            for i in HONEST[1:]
        ]
        for t in round_two:
            t.start()
        w0 = WireWorker(deployment, 0)
        for message in share_messages(deployment, 0, scene.inputs[0], seed=2):
            w0.send(message, 2)
        w0.close()
        for message in share_messages(deployment, LATE, scene.inputs[LATE], seed=3):
            late.send(message, 2)
        for t in round_two:
            t.join(30)
        # Cases 5 and 6 in round 2, whose share deadline the stalled W5 holds open: W0's
        # round-1 frames replayed byte for byte, and W9's round-1 share, late.
        for server in ("S0", "S1"):
            wire = WireWorker(deployment, 0)
            attempt(
                scene.outcomes, f"replay {server}", partial(wire.deliver, server, replay[server])
            )
            wire.close()
            message = share_messages(deployment, LATE, scene.inputs[LATE], seed=5)[int(server[1])]
            attempt(scene.outcomes, f"late {server}", partial(late.send, message, 1))
        for party in ("s0", "s1"):
            scene.records[2, party] = wait_for_records(deployment, 2, [party], processes, 40)[party]
    finally:
        late.close()
        for process in clients.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        scene.server_errors = stop(processes, 20)
    for r in (1, 2):
        scene.z[r] = np.load(deployment.output / scene.records[r, "s1"]["z"])
    return scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return run_scene(tmp_path_factory.mktemp("faults"))


@pytest.mark.spec("C8.3", "C23.4", "P23.1")
def test_both_rounds_complete_for_the_honest_workers(scene: Scene) -> None:
    for r, valid in [(1, HONEST), (2, [*HONEST, LATE])]:
        for party in ("s0", "s1"):
            record = scene.records[r, party]
            assert "stopped" not in record, record
            assert record["valid"] == valid, (r, party)
        assert krum_pick(scene.z[r], scene.inputs, valid) in valid
        assert "z" not in scene.records[r, "s0"]
    assert all("Traceback" not in text for text in scene.server_errors.values())


@pytest.mark.spec("C23.4", "C8.3")
def test_a_worker_that_never_connects_is_excluded_after_the_share_deadline(scene: Scene) -> None:
    for party in ("s0", "s1"):
        record = scene.records[1, party]
        assert record["excluded"][f"W{STALL}"] == f"{party.upper()}: {NO_SHARE}"
        assert record["wall_seconds"] >= SHARE  # it was waited for until the deadline
        assert f"W{STALL}" not in [sender for sender, _ in scene.refused(1, party)]


@pytest.mark.spec("C23.4", "C23.3", "C8.3")
def test_a_worker_that_disconnects_mid_message_is_excluded_and_reported(scene: Scene) -> None:
    name = f"W{HALF}"
    assert scene.excluded(1, "s1")[name] == f"S1: {NO_SHARE}"
    assert scene.excluded(1, "s0")[name] == f"S1: {NOT_LISTED}"  # S0 had its share
    (reason,) = [r for s, r in scene.refused(1, "s1") if s == name]
    # gRPC either raises in the handler or ends its stream early, whichever comes first: the
    # message is reported as cancelled or as short; it is not delivered either way.
    assert (
        "every frame of the message (C23.4); got cancelled" in reason
        or "need frames up to the payload's total length (D23.2)" in reason
    )
    assert f"{name}->S1" not in scene.records[1, "s1"]["bytes"]


@pytest.mark.spec("C8.3", "D7.4")
def test_a_share_of_the_wrong_length_is_excluded_with_its_reason(scene: Scene) -> None:
    name = f"W{MALFORMED}"
    assert scene.outcome("malformed S0") is None and scene.outcome("malformed S1") is None
    reason = scene.excluded(1, "s1")[name]
    assert reason.startswith("S1: malformed share:")
    assert f"{8 * D} payload bytes" in reason and f"got {8 * D - 8} bytes" in reason
    assert "(C8.3)" in reason
    assert scene.excluded(1, "s0")[name] == f"S1: {NOT_LISTED}"


@pytest.mark.spec("C8.3", "C23.3")
def test_two_shares_from_one_worker_exclude_it(scene: Scene) -> None:
    name = f"W{DUPLICATE}"
    assert [scene.outcome(k) for k in ("dup 1", "dup 2", "dup S1")] == [None, None, None]
    assert scene.excluded(1, "s0")[name] == "S0: 2 share messages, need exactly one (C8.3)"
    assert scene.excluded(1, "s1")[name] == f"S0: {NOT_LISTED}"
    # Both messages were delivered and counted (C23.3): twice the bytes of one share.
    assert scene.records[1, "s0"]["bytes"][f"{name}->S0"] == 2 * 8 * D


@pytest.mark.spec("C23.3")
def test_a_replayed_round_one_message_is_refused_in_round_two(scene: Scene) -> None:
    for server in ("S0", "S1"):
        error = scene.outcome(f"replay {server}")
        assert isinstance(error, grpc.RpcError)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "(C23.3); got 1" in str(error.details())
        reasons = [r for s, r in scene.refused(2, server.lower()) if s == "W0"]
        assert len(reasons) == 1 and "(a replay or late message) (C23.3); got 1" in reasons[0]
        # The replay did not count as W0's round-2 share, nor exclude it.
        assert 0 in scene.records[2, server.lower()]["valid"]
        assert scene.records[2, server.lower()]["bytes"]["W0->" + server] == 8 * D


@pytest.mark.spec("C23.3", "C23.4", "C8.3")
def test_a_late_share_excludes_its_worker_and_does_not_break_the_next_round(
    scene: Scene,
) -> None:
    name = f"W{LATE}"
    for party in ("s0", "s1"):
        assert scene.excluded(1, party)[name] == f"{party.upper()}: {NO_SHARE}"
        error = scene.outcome(f"late {party.upper()}")
        assert isinstance(error, DeliveryRefused) and error.clause == "C23.3"
        assert [s for s, r in scene.refused(2, party) if "(C23.3); got 1" in r] == ["W0", name]
        assert LATE in scene.records[2, party]["valid"]  # its round-2 share counted


@pytest.mark.spec("C23.2")
def test_another_partys_certificate_or_none_is_refused(scene: Scene) -> None:
    forged = scene.outcome("impostor")
    assert isinstance(forged, grpc.RpcError)
    assert forged.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "the certified party W10 (C23.2); got 'W0'" in str(forged.details())
    anonymous = scene.outcome("anonymous")
    assert isinstance(anonymous, grpc.RpcError)
    assert anonymous.code() == grpc.StatusCode.UNAVAILABLE  # no TLS session without a cert
    refused = scene.refused(1, "s1")
    assert [s for s, _ in refused if s in ("W0", f"W{IMPOSTOR}")] == [f"W{IMPOSTOR}"]
    assert scene.excluded(1, "s1")[f"W{IMPOSTOR}"] == f"S1: {NO_SHARE}"
    assert 0 in scene.records[1, "s1"]["valid"]  # W0's own share, not the forged one
    assert scene.records[1, "s1"]["bytes"]["W0->S1"] == 8 * D


@pytest.mark.spec("C8.2", "C8.13", "C1.1")
@pytest.mark.parametrize(("index", "clause"), [(NAN, "C1.1"), (BEYOND, "C8.13")])
def test_a_worker_with_invalid_input_exits_2_and_sends_nothing(
    scene: Scene, index: int, clause: str
) -> None:
    code, err = scene.cli[index]
    assert code == 2, err
    assert err.startswith("sbrml: error: ") and f"({clause})" in err
    assert "Traceback" not in err
    for party in ("s0", "s1"):
        record = scene.records[1, party]
        assert record["excluded"][f"W{index}"] == f"{party.upper()}: {NO_SHARE}"
        assert not any(link.startswith(f"W{index}->") for link in record["bytes"])
        assert f"W{index}" not in [s for s, _ in scene.refused(1, party)]


@pytest.mark.spec("D23.2", "C23.3")
def test_every_refusal_of_round_one_is_reported_once(scene: Scene) -> None:
    senders = sorted(s for s, _ in scene.refused(1, "s1"))
    assert senders == sorted([f"W{HALF}", f"W{IMPOSTOR}", f"W{OVERSIZE}"])
    assert scene.refused(1, "s0") == []


@pytest.mark.spec("D23.2", "C8.3")
def test_a_share_claiming_more_than_a_share_is_refused_before_allocation(scene: Scene) -> None:
    error = scene.outcome("oversize")
    assert isinstance(error, grpc.RpcError)
    assert "a payload of at most" in str(error.details())
