"""Section 20's parsing and validation raises, each reached (spec/20-mask-protocol.md).

The server's parsers (C20.4: records out of order, an unmask record for a worker outside U2,
repeated or of a length that is no whole record, a share not below the Shamir prime), the
workers' parsers of what the server sends them (a roster or forward of the wrong length, a
box from a stranger, from itself or twice, a box whose header names other parties), the
server's refusal of a reconstructed secret of 2^256 or more (C20.6), and a worker that fails
in the unmasking round (reported, still counted).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import sbrml.optimized.mask_protocol as opt_mp
import sbrml.reference.mask_protocol as ref_mp
import sbrml.reference.mask_worker as mw
import sbrml.reference.masking_primitives as prim
from sbrml.core.channel import Message
from sbrml.core.errors import ShapeError
from sbrml.optimized import DeterministicRandomSource as OptSource
from sbrml.reference import DeterministicRandomSource as RefSource

BACKEND = ref_mp.REFERENCE
INPUTS = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0], [1000.0, 2000.0]]


def _run(tree: str, tamper: Any, t: int = 2) -> ref_mp.MaskResult:
    if tree == "reference":
        return ref_mp.masked_aggregate(INPUTS, t=t, rng=RefSource(4), tamper=tamper)
    return opt_mp.masked_aggregate(np.asarray(INPUTS), t=t, rng=OptSource(4), tamper=tamper)


def _rewrite(stage: str, who: str, edit: Callable[[bytes], bytes]) -> Any:
    """A tamper that rewrites worker ``who``'s payload in round ``stage``."""

    def tamper(current: str, messages: list[Message]) -> list[Message]:
        if current != stage:
            return messages
        return [
            Message(m.sender, m.receiver, m.label, edit(bytes(m.payload))) if m.sender == who else m
            for m in messages
        ]

    return tamper


def _records(raw: bytes, size: int) -> list[bytes]:
    return [raw[a : a + size] for a in range(0, len(raw), size)]


def _total(result: ref_mp.MaskResult) -> list[float]:
    return [float(v) for v in result.total]


# --- The server's parsers (C20.4) -----------------------------------------------------------


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_box_records_out_of_order_exclude_their_sender(tree: str) -> None:
    # W1's three records (to W0, W2, W3), whole and of the right length, in another order.
    def reorder(raw: bytes) -> bytes:
        first, second, third = _records(raw, mw.SHARE_RECORD)
        return second + first + third

    result = _run(tree, _rewrite("share", "W1", reorder))
    assert result.counted == [0, 2, 3]
    assert result.excluded == {
        1: "S: malformed mask/shares: masked_aggregate: payload: need boxes for [0, 2, 3] in "
        "order (C20.4); got [2, 0, 3]"
    }
    assert _total(result) == [1101.0, 2202.0]


UNMASK_FAULTS: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    # A record for v = 9, outside U2 (the kind is the one v would need, so only v is wrong).
    "outside U2": (
        lambda raw: raw + mw.le32(9) + bytes([mw.KEY_SHARE]) + bytes(prim.SHAMIR_BYTES),
        "v=9, kind=1",
    ),
    "repeated": (lambda raw: raw + _records(raw, mw.UNMASK_RECORD)[-1], "v=3, kind=0"),
    "decreasing": (
        lambda raw: b"".join(reversed(_records(raw, mw.UNMASK_RECORD))),
        "v=2, kind=0",
    ),
    "not whole records": (lambda raw: raw[:-1], f"{4 * mw.UNMASK_RECORD - 1}"),
    "a share equal to the prime": (
        lambda raw: (
            raw[: -prim.SHAMIR_BYTES] + prim.SHAMIR_PRIME.to_bytes(prim.SHAMIR_BYTES, "little")
        ),
        "v=3",
    ),
}


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
@pytest.mark.parametrize("fault", sorted(UNMASK_FAULTS))
def test_a_malformed_unmask_answer_is_left_out_and_its_worker_counted(
    tree: str, fault: str
) -> None:
    edit, got = UNMASK_FAULTS[fault]
    result = _run(tree, _rewrite("unmask", "W1", edit))
    # W1 sent its input, so it is counted (C20.4); its answer is not used (U4 = {0, 2, 3}).
    assert result.counted == [0, 1, 2, 3] and result.survivors["unmask"] == [0, 2, 3]
    assert result.excluded == {}
    (note,) = [note for note in result.notes if "mask/unmask" in note]
    assert note.startswith("S: malformed mask/unmask: masked_aggregate: payload: need ")
    assert "(C20.4)" in note and note.endswith(f"got {got}")
    assert _total(result) == [1111.0, 2222.0]


@pytest.mark.spec("C20.4")
def test_a_share_just_below_the_prime_is_accepted() -> None:
    parse = ref_mp.parse_unmask([0, 1], [0, 1])
    top = prim.SHAMIR_PRIME - 1
    record = mw.le32(1) + bytes([mw.SELF_SHARE]) + top.to_bytes(prim.SHAMIR_BYTES, "little")
    assert parse(0, record) == {1: top}


# --- The server's reconstruction (C20.6) ---------------------------------------------------


@pytest.mark.spec("C20.6")
def test_a_reconstructed_secret_of_two_to_the_256_is_refused() -> None:
    rng = RefSource(5)
    for secret in (0, (1 << 256) - 1):
        shares = prim.shamir_share(secret, 2, 3, rng=rng)
        assert ref_mp.recover_secret(7, shares, 2) == secret.to_bytes(32, "little")
    for secret in (1 << 256, prim.SHAMIR_PRIME - 1):
        shares = prim.shamir_share(secret, 2, 3, rng=rng)
        with pytest.raises(ShapeError) as info:
            ref_mp.recover_secret(7, shares, 2)
        assert info.value.clause == "C20.6" and info.value.parameter == "shares for W7"


@pytest.mark.spec("C20.6")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_a_wrong_share_of_a_self_mask_seed_aborts_the_round(tree: str) -> None:
    # W0's share of b_2 (a survivor's self-mask seed, whose public key nobody can check) is
    # off by 2^300: the server reconstructs b_2 + 2 * 2^300 (W0's Lagrange weight at x = 1, 2
    # is 2), a value of 2^256 or more, and aborts instead of removing a wrong mask. (A small
    # error would give a wrong sum, which C20.6 leaves undefended.)
    def corrupt(raw: bytes) -> bytes:
        records = _records(raw, mw.UNMASK_RECORD)
        v, kind, share = mw.read32(records[2], 0), records[2][4], records[2][5:]
        assert (v, kind) == (2, mw.SELF_SHARE)
        value = (int.from_bytes(share, "little") + (1 << 300)) % prim.SHAMIR_PRIME
        records[2] = records[2][:5] + value.to_bytes(prim.SHAMIR_BYTES, "little")
        return b"".join(records)

    with pytest.raises(ShapeError) as info:
        _run(tree, _rewrite("unmask", "W0", corrupt))
    assert info.value.clause == "C20.6" and info.value.parameter == "shares for W2"


# --- The workers' parsers (C20.4) ----------------------------------------------------------


def _advertised(n: int, seed: int = 6) -> tuple[list[mw.WorkerState], bytes]:
    """Round 0 by hand: n workers' states and the roster an honest server sends."""
    rng = RefSource(seed)
    states = [mw.WorkerState(i, rng.derive(f"worker/{i}")) for i in range(n)]
    keys = [bytes(mw.worker_advertise(s, BACKEND).payload) for s in states]
    roster = mw.le32(n) + b"".join(mw.le32(i) + k for i, k in enumerate(keys))
    return states, roster


def _shared(n: int, t: int) -> tuple[list[mw.WorkerState], list[dict[int, bytes]]]:
    """Rounds 0-1 by hand: the states and each sender's boxes by receiver."""
    states, roster = _advertised(n)
    everyone = list(range(n))
    boxes = [
        ref_mp.parse_shares(everyone)(i, mw.worker_share(s, roster, t, n, BACKEND).payload)
        for i, s in enumerate(states)
    ]
    return states, boxes


def _forward(records: Sequence[tuple[int, bytes]]) -> bytes:
    return mw.le32(len(records)) + b"".join(mw.le32(u) + box for u, box in records)


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize("change", [-1, 1])
def test_a_worker_refuses_a_roster_of_the_wrong_length(change: int) -> None:
    states, roster = _advertised(3)
    bad = roster + bytes(change) if change > 0 else roster[:change]
    with pytest.raises(ShapeError) as info:
        mw.worker_share(states[0], bad, 2, 3, BACKEND)
    assert info.value.clause == "C20.4" and info.value.function == "worker_share"
    # The roster's count is part of what is checked: one record fewer than it announces.
    short = mw.le32(3) + roster[4 : 4 + 2 * mw.KEY_RECORD]
    with pytest.raises(ShapeError):
        mw.worker_share(states[1], short, 2, 3, BACKEND)


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize(
    "fault", ["one byte more", "one byte less", "a stranger", "itself", "twice"]
)
def test_a_worker_refuses_a_malformed_forward(fault: str) -> None:
    states, boxes = _shared(3, 2)
    from_1, from_2 = (1, boxes[1][0]), (2, boxes[2][0])
    payload = {
        "one byte more": _forward([from_1, from_2]) + b"\x00",
        "one byte less": _forward([from_1, from_2])[:-1],
        "a stranger": _forward([from_1, (7, boxes[2][0])]),
        "itself": _forward([from_1, (0, boxes[2][0])]),
        "twice": _forward([from_1, from_1]),
    }[fault]
    with pytest.raises(ShapeError) as info:
        mw.worker_input(states[0], payload, [0.5], 2, 3, 16, BACKEND)
    assert info.value.clause == "C20.4" and info.value.function == "worker_input"
    if fault in ("a stranger", "itself"):
        assert info.value.got == ("7" if fault == "a stranger" else "0")
    # The honest forward is accepted by a fresh worker with the same keys.
    states, boxes = _shared(3, 2)
    mw.worker_input(
        states[0], _forward([(1, boxes[1][0]), (2, boxes[2][0])]), [0.5], 2, 3, 16, BACKEND
    )


@pytest.mark.spec("C20.4", "C19.3")
@pytest.mark.parametrize("header", ["sender", "receiver"])
def test_a_box_with_a_wrong_header_is_skipped_and_reported(header: str) -> None:
    # W1's box to W0, sealed with the right keys (its tag verifies) around a plaintext whose
    # header names another sender or receiver: W0 must not use the shares inside.
    n, t = 3, 2
    states, boxes = _shared(n, t)
    (secret,) = BACKEND.agree(states[1].c_sk, [states[0].roster[0][0]])
    sender, receiver = (2, 0) if header == "sender" else (1, 2)
    plaintext = mw.le32(sender) + mw.le32(receiver) + bytes(2 * prim.SHAMIR_BYTES)
    forged = prim.seal(secret, 1, 0, plaintext, BACKEND.keystream)
    mw.worker_input(states[0], _forward([(1, forged), (2, boxes[2][0])]), [0.5], t, n, 16, BACKEND)
    notes: list[str] = []
    survivors = mw.le32(3) + mw.le32(0) + mw.le32(1) + mw.le32(2)
    message = mw.worker_unmask(states[0], survivors, t, notes, BACKEND)
    assert notes == ["W0: box from W1 has a wrong header"]
    answered = ref_mp.parse_unmask([0, 1, 2], [0, 1, 2])(0, message.payload)
    assert sorted(answered) == [0, 2]


# --- A worker that fails in the unmasking round --------------------------------------------


@pytest.mark.spec("C20.4", "C20.6")
def test_a_worker_failing_at_unmask_is_reported_and_still_counted() -> None:
    # W2's key agreement fails the second time it is asked with W2's c_sk (round 3, after
    # round 1): W2 sends no unmask answer. It sent its input, so it is counted; the others'
    # shares recover every seed, and its failure is a note, not an exclusion.
    victim = RefSource(4).derive("worker/2").random_bytes(32)  # c_sk, W2's first draw
    seen: list[bytes] = []

    def agree(secret: bytes, publics: Sequence[bytes]) -> list[bytes]:
        if secret == victim and victim in seen:
            raise ShapeError("worker_unmask", "c_sk", "a working key agreement", "C20.4", "-")
        seen.append(secret)
        return BACKEND.agree(secret, publics)

    for backend in (BACKEND, opt_mp.OPTIMIZED):
        failing = dataclasses.replace(backend, agree=agree)
        seen.clear()
        result = ref_mp.masked_aggregate(INPUTS, t=2, rng=RefSource(4), backend=failing)
        assert result.counted == [0, 1, 2, 3] and result.survivors["unmask"] == [0, 1, 3]
        assert result.excluded == {}
        assert result.notes == [
            "W2: sent nothing in round unmask: worker_unmask: need a working key agreement (C20.4)",
            "W2: no mask/unmask message (dropped out)",
        ]
        assert _total(result) == [1111.0, 2222.0]
