"""The agreement on the valid set and the messages between the servers, party by party
(P8.1 step 2, C8.3, C23.4; spec section 23): every party in its own thread, as in
test_parties.py, with one deviating party whose messages are rewritten or withheld. A worker
that sends a malformed share to one server only makes the servers' valid lists differ; a
server that sends the other a malformed valid list, or never sends a message it owes, stops
the round. Each test checks what the servers report: the reasons of the exclusions, or the
error's class, function, parameter, condition, clause and value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as tree
from sbrml.core.channel import Message
from sbrml.core.errors import RoundAborted
from sbrml.optimized import DeterministicRandomSource
from sbrml.optimized.round import secure_aggregate
from sbrml.optimized.round_offline import round_setup
from sbrml.rulespec import build_rule
from tests.helpers.parties import MessageTamper, play_in_threads

N, D, F = 6, 3, 1  # Krum with f = 1 needs n >= 5 (C6.3): one exclusion leaves enough


def _inputs(seed: int) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).normal(size=(N, D))


def _play(inputs: np.ndarray[Any, Any], timeout: float, tamper: dict[str, MessageTamper]) -> Any:
    setup = round_setup(N, D, build_rule(tree, "krum", F))
    _, out = play_in_threads(setup, inputs, seed=7, timeout=timeout, join=60.0, tamper=tamper)
    return out


def _short_share_to(server: str) -> Callable[[Message], Message]:
    """W2's share to ``server`` 8 bytes short, its other share sound."""

    def tamper(m: Message) -> Message:
        if (m.sender, m.label, m.receiver) != ("W2", "share", server):
            return m
        return Message(m.sender, m.receiver, m.label, bytes(m.payload)[:-8])

    return tamper


@pytest.mark.spec("C8.3", "P8.1", "C23.1", "D23.1")
@pytest.mark.parametrize("refuser", ["S0", "S1"])
def test_c8_3_a_share_malformed_at_one_server_excludes_its_worker_at_both(refuser: str) -> None:
    # W2 sends `refuser` a short share and the other server a sound one: the other server
    # keeps W2 until it reads `refuser`'s valid list (P8.1 step 2), then excludes it with
    # that reason; `refuser` excludes it for the share itself. Both use the same V, and S1
    # publishes the in-process round's z (C23.1).
    other = "S1" if refuser == "S0" else "S0"
    inputs = _inputs(6)
    got = _play(inputs, 5.0, {"W2": _short_share_to(refuser)})
    assert not isinstance(got["S0"], Exception), got["S0"]
    assert not isinstance(got["S1"], Exception), got["S1"]
    assert got["S0"].valid == got["S1"].valid == [0, 1, 3, 4, 5]
    assert got[other].excluded == {2: f"{refuser}: not in its valid list (C8.3)"}
    mine = got[refuser].excluded
    assert mine == {
        2: f"{refuser}: malformed share: collect_shares: W2 share: need {8 * D} payload bytes "
        f"({D} ring elements) (C8.3); got {8 * D - 8} bytes"
    }

    short = _short_share_to(refuser)
    ref = secure_aggregate(
        inputs,
        build_rule(tree, "krum", F),
        rng=DeterministicRandomSource(7),
        tamper=lambda messages: [short(m) for m in messages],
    )
    # In one process both servers' reasons are known; the one that refused the share has
    # the same reason in both runs.
    assert ref.valid == got["S1"].valid and ref.excluded == mine
    np.testing.assert_array_equal(got["S1"].z, ref.z)


def _ints(raw: bytes) -> list[int]:
    return [int.from_bytes(raw[k : k + 8], "little") for k in range(0, len(raw), 8)]


def _pack(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(8, "little") for v in values)


# A server's valid list (all six workers, 48 bytes) rewritten into one that P8.1 step 2
# does not allow: (the deviating server, what it does to the list).
BAD_LISTS: list[tuple[str, str, Callable[[bytes], bytes]]] = [
    ("S1", "a byte short", lambda raw: raw[:-1]),
    ("S0", "an index equal to n", lambda raw: raw + _pack([N])),
    ("S1", "descending", lambda raw: _pack(_ints(raw)[::-1])),
    ("S0", "an index twice", lambda raw: raw[:8] + raw),
]


@pytest.mark.spec("C23.4", "P8.1", "C8.3")
@pytest.mark.parametrize(("liar", "kind", "rewrite"), BAD_LISTS, ids=[b[1] for b in BAD_LISTS])
def test_c23_4_a_malformed_valid_list_from_the_other_server_stops_the_round(
    liar: str, kind: str, rewrite: Callable[[bytes], bytes]
) -> None:
    # A valid list that is not strictly ascending indices below n, 8 bytes each, is not a
    # worker's fault that C8.3 could exclude: the other server deviated, and the server
    # that reads it aborts, naming the list, its sender and its size (C23.4).
    victim = "S1" if liar == "S0" else "S0"
    sent: list[bytes] = []

    def tamper(m: Message) -> Message:
        if m.label != "valid":
            return m
        sent.append(rewrite(bytes(m.payload)))
        return Message(m.sender, m.receiver, m.label, sent[-1])

    got = _play(_inputs(8), 2.0, {liar: tamper})
    err = got[victim]
    assert isinstance(err, RoundAborted), err
    assert (err.function, err.parameter, err.condition, err.clause, err.got) == (
        "agree_on_valid",
        f"{liar} valid",
        f"ascending worker indices below n = {N}, 8 bytes each (P8.1 step 2)",
        "C23.4",
        f"{len(sent[0])} bytes",
    )
    # The deviating server read a sound list, then waits for the other in vain: the round
    # publishes nothing at either server.
    assert isinstance(got[liar], RoundAborted), got[liar]


WITHHELD = [
    # (the deviating server, the label of the message it never sends, the server owed it)
    ("S0", "distances", "S1"),
    ("S1", "weights", "S0"),
    ("S0", "output", "S1"),
]


@pytest.mark.spec("C23.4", "P8.1")
@pytest.mark.parametrize(("liar", "label", "victim"), WITHHELD)
def test_c23_4_a_message_the_other_server_never_sends_stops_the_round_by_its_label(
    liar: str, label: str, victim: str
) -> None:
    def withhold(m: Message) -> Message | None:
        return None if m.label == label else m

    got = _play(_inputs(9), 1.5, {liar: withhold})
    err = got[victim]
    assert isinstance(err, RoundAborted), err
    assert (err.function, err.parameter, err.condition, err.clause, err.got) == (
        "secure_aggregate",
        label,
        f"the message {label!r} from {liar} (P8.1)",
        "C23.4",
        "nothing before the deadline",
    )
