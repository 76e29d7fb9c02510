"""The processes of a deployment (spec/23-deployment.md P23.1): a server serving its rounds,
the dealer, a worker, and ``launch``, which starts a whole deployment on one machine.

Each party reads the deployment file (D23.4), loads its own certificate (C23.2) and runs its
part of the optimized round (``sbrml.net.parties``) over a ``NetworkChannel``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.core.errors import (
    InsufficientWorkersError,
    ParameterError,
    RoundAborted,
    SpecError,
    shown,
)
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.config import Deployment, round_setup_of
from sbrml.net.outputs import (
    TRANSCRIPT_WARNING,
    check_output,
    clear_round,
    result_path,
    write_record,
    write_transcript,
    z_path,
)
from sbrml.net.parties import run_dealer, run_server, run_worker
from sbrml.net.tls import load_credentials
from sbrml.net.transport import Endpoint
from sbrml.optimized.randomness import DeterministicRandomSource, SystemRandomSource

__all__ = ["launch", "result_path", "serve", "serve_dealer", "worker"]

SERVER_NAMES = {"s0": "S0", "s1": "S1"}
# The exit status of `sbrml serve` when a round stopped (its record says why): not a failure
# of the process, for launch.
STOPPED = 3


def _rng(seed: int | None, round_id: int = 1) -> Any:
    # C2.1: the OS CSPRNG unless a seed is given (tests compare round 1 with the in-process
    # round); a seeded run keys each later round apart (C2.9), never repeating a stream.
    if seed is None:
        return SystemRandomSource()
    root = DeterministicRandomSource(seed)
    if round_id == 1:
        return root
    key = root.derive(f"round/{round_id}").random_bytes(16)
    return DeterministicRandomSource(int.from_bytes(key, "little"))


def _credentials(deployment: Deployment, party: str) -> Any:
    files = deployment.party(party)
    return load_credentials(deployment.ca, files.cert, files.key, party=party)


def _timeouts(deployment: Deployment) -> Timeouts:
    return Timeouts(**deployment.timeouts)


def payload_limit(setup: Any) -> Callable[[str], int]:
    """The largest message a listener accepts from each sender (D23.2, C23.4): a worker's
    share is 8 d bytes; the dealer's and the other server's messages are bounded by what a
    round can send, 64 n d + 128 n^3 + 8 n^2 bytes plus a frame. No honest message is
    larger: per lane of n d, the largest are range validation's AND triples, 3 A(b + 1) / 8
    <= 24 bytes; per lane of the n^3 of P22.4 and P22.7, comparison material of at most
    3 A(62) / 8 + 26 < 72 bytes and Beaver openings of 16."""
    n, d = int(setup.n), int(setup.d)
    others = 64 * n * d + 128 * n**3 + 8 * n * n + (1 << 20)

    def limit(sender: str) -> int:
        return 8 * d if sender.startswith("W") else others

    return limit


def _senders(setup: Any, party: str) -> Callable[[str], bool]:
    """Who may send to ``party``'s listener (C23.2, C23.3): the dealer hears only S0's
    requests (P23.2); a server hears the round's workers, the other server and the dealer."""
    if party == "dealer":
        return lambda sender: sender == "S0"
    allowed = {f"W{i}" for i in range(setup.n)} | ({"S0", "S1", "dealer"} - {party})
    return lambda sender: sender in allowed


def _endpoint(deployment: Deployment, setup: Any, party: str, peers: dict[str, str]) -> Endpoint:
    # C23.4: a thread per worker and party, and no call outlives the peer timeout.
    return Endpoint(
        _credentials(deployment, party),
        listen=deployment.listen(party),
        peers=peers,
        round_id=deployment.first_round,
        max_payload=payload_limit(setup),
        max_workers=setup.n + 8,
        call_timeout=deployment.timeouts["peer"],
        accept=_senders(setup, party),
    )


def serve(
    deployment: Deployment,
    server: str,
    *,
    seed: int | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    transcript: bool = False,
) -> list[dict[str, Any]]:
    """P23.1 for ``S0`` or ``S1``: listen, then serve the file's rounds in order, writing one
    record per round (P23.1 step 5) and passing it to ``report`` as soon as it is written. A
    round that stops (C8.4, C23.4) is recorded with its reason and publishes nothing; the
    next round is served. With ``transcript``, the server keeps the payloads of the round's
    messages and writes its view (``outputs.write_transcript``; the record names the file and
    its SHA-256); without, it keeps byte counts only (D7.2). Returns the records."""
    name = SERVER_NAMES.get(server.lower())
    if name is None:
        raise ParameterError("serve", "party", "s0, s1 or dealer", "D23.3", shown(server))
    setup = round_setup_of(deployment)
    check_output(deployment)
    if transcript:
        print(f"sbrml serve: {TRANSCRIPT_WARNING.format(party=name)}", file=sys.stderr)
    other = "S1" if name == "S0" else "S0"
    records = []
    peers = {other: deployment.address(other)}
    if name == "S0":
        peers["dealer"] = deployment.address("dealer")  # requests of P23.2
    with _endpoint(deployment, setup, name, peers) as endpoint:
        for r in range(deployment.first_round, deployment.first_round + deployment.rounds):
            channel = NetworkChannel(
                endpoint, round_id=r, record=transcript, timeouts=_timeouts(deployment)
            )
            started = time.perf_counter()
            record: dict[str, Any] = {
                "round": r,
                "party": name,
                "rule": deployment.round["rule"],
                "frac_bits": setup.frac_bits,
                "weight_frac_bits": setup.weight_frac_bits,
            }
            if setup.distance:
                record["variant"] = setup.variant
            try:
                result = run_server(setup, name, rng=_rng(seed, r), channel=channel)
            except (RoundAborted, InsufficientWorkersError) as error:
                # Both messages hold only public facts: phases, parties, |V|, n, f and the
                # exclusions' published reasons (C0.1).
                record["stopped"] = str(error)
            except SpecError as error:
                # Only the other server or the dealer can cause one here (a worker's bad
                # message excludes the worker): outside the threat model, but the round is
                # still recorded as stopped and the next one served.
                record["stopped"] = error.public_reason()
            else:
                record.update(
                    n=result.n,
                    d=result.d,
                    f=result.f,
                    leakage=result.leakage,
                    valid=result.valid,
                    excluded={f"W{i}": reason for i, reason in result.excluded.items()},
                    seconds=result.seconds,
                )
                if result.z is not None:
                    published = z_path(deployment, r)
                    deployment.output.mkdir(parents=True, exist_ok=True)
                    np.save(published, result.z)
                    record["z"] = published.name
            record["bytes"] = channel.bytes_by_link()
            record["refused"] = [list(item) for item in channel.refused()]
            if transcript:
                record.update(write_transcript(deployment, r, name, channel))
            record["wall_seconds"] = time.perf_counter() - started
            write_record(deployment, r, name, record)
            records.append(record)
            if report is not None:
                report(record)
    return records


def serve_dealer(
    deployment: Deployment, *, seed: int | None = None, transcript: bool = False
) -> None:
    """P23.1 step 2: send each round's offline material to both servers (a server not yet
    in that round makes the dealer wait, C23.3), then answer S0's requests (P23.2). A round
    the dealer cannot finish (S0 gone, C23.4) is reported on standard error; the dealer
    goes on to the next. With ``transcript``, it writes its view of each round
    (``outputs.write_transcript``)."""
    setup = round_setup_of(deployment)
    if transcript:
        check_output(deployment)
        print(f"sbrml serve: {TRANSCRIPT_WARNING.format(party='dealer')}", file=sys.stderr)
    peers = {s: deployment.address(s) for s in ("S0", "S1")}
    with _endpoint(deployment, setup, "dealer", peers) as endpoint:
        for r in range(deployment.first_round, deployment.first_round + deployment.rounds):
            channel = NetworkChannel(
                endpoint, round_id=r, record=transcript, timeouts=_timeouts(deployment)
            )
            try:
                run_dealer(setup, rng=_rng(seed, r), channel=channel)
            except RoundAborted as error:
                print(f"sbrml serve dealer: round {r}: {error}", file=sys.stderr)
            if transcript:
                written = write_transcript(deployment, r, "dealer", channel)
                if "transcript_error" in written:
                    print(
                        f"sbrml serve dealer: round {r}: {written['transcript_error']}",
                        file=sys.stderr,
                    )


def worker(
    deployment: Deployment,
    index: int,
    x: NDArray[Any],
    *,
    round_id: int | None = None,
    seed: int | None = None,
    compute_lock: Any = None,
    notice: Callable[[str], None] | None = None,
) -> None:
    """P23.1 step 3: worker ``index`` shares ``x`` (length d) and sends one share to each
    server in round ``round_id`` (default: the file's first round). Its own invalid input
    raises the SpecError of C8.2/C8.13 before anything is sent. ``notice`` (the CLI's
    stderr) is told, once the input has passed its checks, whom the worker sends to and how
    long it waits for them (it may start before the servers, C23.3)."""
    setup = round_setup_of(deployment)
    n = setup.n
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise ParameterError("worker", "index", f"an int in [0, {n - 1}]", "D8.1", shown(index))
    r = deployment.first_round if round_id is None else round_id
    last = deployment.first_round + deployment.rounds - 1
    if isinstance(r, bool) or not isinstance(r, int) or not deployment.first_round <= r <= last:
        raise ParameterError(
            "worker",
            "round",
            f"a round the file serves, {deployment.first_round} to {last}",
            "D23.4",
            shown(r),
        )
    if np.shape(x) != (setup.d,):
        raise ParameterError(
            "worker", "input", f"a vector of length d = {setup.d}", "D8.1", f"shape {np.shape(x)}"
        )
    peers = {s: deployment.address(s) for s in ("S0", "S1")}
    t = deployment.timeouts
    # A worker may start before the servers (C23.3): say whom it waits for, and how long.
    text = (
        f"W{index} sends its shares for round {r} to S0 at {peers['S0']} and S1 at "
        f"{peers['S1']}, waiting up to {t['share'] + t['offline'] + t['peer']:g} s "
        "(share + offline + peer) for them"
    )
    with Endpoint(_credentials(deployment, f"W{index}"), peers=peers) as endpoint:
        channel = NetworkChannel(endpoint, round_id=r, record=False, timeouts=_timeouts(deployment))
        run_worker(
            setup,
            index,
            x,
            rng=_rng(seed, r),
            channel=channel,
            compute_lock=compute_lock,
            before_send=None if notice is None else partial(notice, text),
        )


def _party_command(config: Path, party: str, seed: int | None, transcript: bool) -> list[str]:
    command = [sys.executable, "-m", "sbrml.cli", "serve", party, "--config", str(config)]
    command += ["--transcript"] if transcript else []
    return command + ([] if seed is None else ["--seed", str(seed)])


def _finished(tasks: list[threading.Thread]) -> bool:
    return not any(t.is_alive() for t in tasks)


def _wait(
    done: Any, processes: dict[str, subprocess.Popen[bytes]], deadline: float, budget: float
) -> None:
    """Wait until ``done()``, stopping at once when a party process fails (C23.4)."""
    while not done():
        for party, process in processes.items():
            code = process.poll()
            if code not in (None, 0, STOPPED):
                raise RoundAborted(
                    "launch", party, f"the {party} process to succeed", "C23.4", f"exit {code}"
                )
        if time.monotonic() > deadline:
            raise RoundAborted(
                "launch", "parties", "the round's parties to finish", "C23.4", f"> {budget:g} s"
            )
        time.sleep(0.02)
    for party, process in processes.items():
        code = process.poll()
        if code not in (None, 0, STOPPED):
            raise RoundAborted(
                "launch", party, f"the {party} process to succeed", "C23.4", f"exit {code}"
            )


def launch(
    deployment: Deployment,
    inputs: NDArray[Any],
    *,
    seed: int | None = None,
    wait: float | None = None,
    transcript: bool = False,
) -> list[dict[str, Any]]:
    """Start a whole deployment on this machine (P23.1): S0, S1 and the dealer as separate
    processes (``sbrml serve``), and the workers as tasks of this process, each with its own
    certificate, sending ``inputs[i]`` in every round. Returns S1's record of each round.

    A worker whose input it refuses itself is reported on standard error and sends nothing.
    Raises RoundAborted when a server process fails or does not finish within ``wait``
    seconds (default: the sum of the file's timeouts per round, plus 60). With
    ``transcript``, S0, S1 and the dealer each write their view of every round (``serve
    --transcript``).
    """
    setup = round_setup_of(deployment)
    if inputs.shape != (setup.n, setup.d):
        raise ParameterError(
            "launch",
            "input",
            f"an n x d = {setup.n} x {setup.d} array (the deployment file's n and d)",
            "D23.4",
            f"shape {inputs.shape}",
        )
    rounds = range(deployment.first_round, deployment.first_round + deployment.rounds)
    # Everything a party would refuse later is checked before any process starts: every
    # party's certificate and key, and the output directory.
    for party in ["S0", "S1", "dealer"] + [f"W{i}" for i in range(setup.n)]:
        _credentials(deployment, party)
    check_output(deployment)
    for r in rounds:
        clear_round(deployment, r, transcript)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    processes = {
        party: subprocess.Popen(
            _party_command(deployment.path, party, seed, transcript),
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for party in ("s0", "s1", "dealer")
    }
    errors: list[str] = []
    encoding = threading.Lock()

    def play(i: int, r: int) -> None:
        try:
            worker(deployment, i, inputs[i], round_id=r, seed=seed, compute_lock=encoding)
        except SpecError as error:
            # Shown to launch's own user, who holds every input: the full message.
            errors.append(f"W{i} round {r}: {error}")

    budget = wait if wait is not None else 60 + len(rounds) * sum(deployment.timeouts.values())
    deadline = time.monotonic() + budget
    try:
        for r in rounds:
            tasks = [
                threading.Thread(target=play, args=(i, r), daemon=True) for i in range(setup.n)
            ]
            for t in tasks:
                t.start()
            _wait(partial(_finished, tasks), processes, deadline, budget)
        _wait(
            lambda: all(p.poll() is not None for p in processes.values()),
            processes,
            deadline,
            budget,
        )
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for line in errors:
        print(f"sbrml: launch: {line}", file=sys.stderr)
    records = []
    for r in rounds:
        path = result_path(deployment, r, "s1")
        records.append(json.loads(path.read_text(encoding="utf-8")))
    if records and any("stopped" in rec for rec in records):
        stopped = [rec for rec in records if "stopped" in rec]
        print(
            f"sbrml: launch: {len(stopped)} round(s) stopped: {stopped[0]['stopped']}",
            file=sys.stderr,
        )
    return records
