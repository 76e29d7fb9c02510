"""Pairwise-mask secure aggregation, the worker's side (spec/20-mask-protocol.md, P20.1).

The message layout (constants, records), the ``Backend`` a tree plugs in, one worker's state
and its four rounds: advertise its keys, share its secrets in encrypted boxes, send its masked
input, answer the server's unmask request. The server's side and ``masked_aggregate`` are in
``mask_protocol``; the reference's vector arithmetic is in ``mask_vectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbrml.core.channel import Message, Payload
from sbrml.core.errors import (
    InsufficientWorkersError,
    ShapeError,
    SpecError,
    shown,
)
from sbrml.core.round import worker_name
from sbrml.reference import masking_primitives as prim
from sbrml.reference.randomness import RandomSource

ROUNDS = ("advertise", "share", "input", "unmask")
SERVER = "S"
KEY_RECORD = 4 + 32 + 32
BOX_PLAINTEXT = 4 + 4 + 2 * prim.SHAMIR_BYTES
SHARE_RECORD = 4 + BOX_PLAINTEXT + prim.TAG_BYTES
UNMASK_RECORD = 4 + 1 + prim.SHAMIR_BYTES
UNMASK_FORMAT = f"<IB{prim.SHAMIR_BYTES}s"
SELF_SHARE, KEY_SHARE = 0, 1

MaskTerms = list[tuple[int, bytes]]
MaskTamper = Callable[[str, list[Message]], list[Message]]


@dataclass(frozen=True)
class Backend:
    """The vector arithmetic one tree plugs into P20.1; everything else is shared."""

    agree: Callable[[bytes, Sequence[bytes]], list[bytes]]
    x25519_public: Callable[[bytes], bytes]
    keystream: prim.Keystream
    mask_input: Callable[[Any, int, int, MaskTerms], Any]
    apply_masks: Callable[[Any, MaskTerms, int], Any]
    pack: Callable[[Any], Payload]
    unpack: Callable[[str, str, Payload, int], Any]
    total: Callable[[list[Any], int], Any]
    decode_sum: Callable[[Any, int, int], tuple[Any, Any]]


@dataclass
class WorkerState:
    """One worker's secrets and what it has been told, round by round (P20.1)."""

    index: int
    rng: RandomSource
    c_sk: bytes = b""
    s_sk: bytes = b""
    b: bytes = b""
    own_shares: tuple[int, int] = (0, 0)
    roster: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)
    boxes: dict[int, bytes] = field(default_factory=dict)
    u2: list[int] = field(default_factory=list)


def le32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def read32(raw: bytes, at: int) -> int:
    return int.from_bytes(raw[at : at + 4], "little")


def check_survivors(function: str, ids: Sequence[int], t: int, label: str) -> None:
    """Implements C20.3: every survivor set a party acts on has at least t workers."""
    if len(ids) < t:
        raise InsufficientWorkersError(
            function,
            label,
            f"at least t={t} workers; the round aborts and nothing is released",
            "C20.3",
            f"{len(ids)} workers {list(ids)}",
        )


def malformed(function: str, what: str, got: str) -> ShapeError:
    return ShapeError(function, "payload", what, "C20.4", got)


# --- worker steps (P20.1) ---------------------------------------------------------------


def worker_advertise(state: WorkerState, backend: Backend) -> Message:
    """P20.1 round 0: draw c_sk then s_sk (32 bytes each) and send both public keys."""
    state.c_sk = state.rng.random_bytes(32)
    state.s_sk = state.rng.random_bytes(32)
    payload = backend.x25519_public(state.c_sk) + backend.x25519_public(state.s_sk)
    return Message(worker_name(state.index), SERVER, "mask/advertise", payload)


def parse_roster(function: str, payload: Payload) -> dict[int, tuple[bytes, bytes]]:
    raw = bytes(payload)
    count = read32(raw, 0)
    if len(raw) != 4 + KEY_RECORD * count:
        raise malformed(function, f"4 + 68*count bytes (count={count})", f"{len(raw)} bytes")
    roster = {}
    for k in range(count):
        at = 4 + KEY_RECORD * k
        roster[read32(raw, at)] = (raw[at + 4 : at + 36], raw[at + 36 : at + 68])
    return roster


def worker_share(
    state: WorkerState, roster_payload: Payload, t: int, n: int, backend: Backend
) -> Message:
    """P20.1 round 1: draw b, Shamir-share s_sk then b among all n, box each peer's shares."""
    state.roster = parse_roster("worker_share", roster_payload)
    check_survivors("worker_share", sorted(state.roster), t, "U1")
    state.b = state.rng.random_bytes(32)
    s_shares = prim.shamir_share(int.from_bytes(state.s_sk, "little"), t, n, rng=state.rng)
    b_shares = prim.shamir_share(int.from_bytes(state.b, "little"), t, n, rng=state.rng)
    u = state.index
    state.own_shares = (s_shares[u][1], b_shares[u][1])
    records = []
    peers = [v for v in sorted(state.roster) if v != u]
    secrets = backend.agree(state.c_sk, [state.roster[v][0] for v in peers])
    for v, secret in zip(peers, secrets, strict=True):
        plaintext = (
            le32(u)
            + le32(v)
            + s_shares[v][1].to_bytes(prim.SHAMIR_BYTES, "little")
            + b_shares[v][1].to_bytes(prim.SHAMIR_BYTES, "little")
        )
        records.append(le32(v) + prim.seal(secret, u, v, plaintext, backend.keystream))
    return Message(worker_name(u), SERVER, "mask/shares", b"".join(records))


def worker_input(
    state: WorkerState,
    forward_payload: Payload,
    x: Any,
    t: int,
    n: int,
    frac_bits: int,
    backend: Backend,
) -> Message:
    """P20.1 round 2: y_u = x_u + PRG(b_u) + sum_v delta_uv PRG(s_uv) over U2 \\ {u}."""
    raw = bytes(forward_payload)
    count = read32(raw, 0)
    if len(raw) != 4 + SHARE_RECORD * count:
        raise malformed("worker_input", "4 + 176*count bytes", f"{len(raw)} bytes")
    u = state.index
    for k in range(count):
        at = 4 + SHARE_RECORD * k
        sender = read32(raw, at)
        if sender not in state.roster or sender == u or sender in state.boxes:
            raise malformed("worker_input", "boxes from distinct peers of the roster", str(sender))
        state.boxes[sender] = raw[at + 4 : at + SHARE_RECORD]
    state.u2 = sorted([*state.boxes, u])
    check_survivors("worker_input", state.u2, t, "U2")
    terms: MaskTerms = [(1, prim.self_seed(state.b))]
    peers = [v for v in state.u2 if v != u]
    secrets = backend.agree(state.s_sk, [state.roster[v][1] for v in peers])
    for v, secret in zip(peers, secrets, strict=True):
        terms.append((1 if u < v else -1, prim.pairwise_seed(secret)))
    y = backend.mask_input(x, frac_bits, n, terms)
    return Message(worker_name(u), SERVER, "mask/input", backend.pack(y))


def worker_unmask(
    state: WorkerState, survivors_payload: Payload, t: int, notes: list[str], backend: Backend
) -> Message:
    """P20.1 round 3: for v in U2, a share of b_v if v in U3, else a share of s_sk_v (C20.5)."""
    raw = bytes(survivors_payload)
    count = read32(raw, 0)
    u3 = [read32(raw, 4 + 4 * k) for k in range(count)]
    u = state.index
    if len(raw) != 4 + 4 * count or not set(u3) <= set(state.u2) or u not in u3:
        # C20.5: answering a U3 that is not a subset of U2 could reveal both secrets of a worker.
        raise ShapeError(
            "worker_unmask", "U3", "a subset of U2 containing the worker", "C20.5", shown(u3)
        )
    check_survivors("worker_unmask", u3, t, "U3")
    survivors = set(u3)
    records = []
    peers = [v for v in state.u2 if v != u]
    agreed = backend.agree(state.c_sk, [state.roster[v][0] for v in peers])
    box_secrets = dict(zip(peers, agreed, strict=True))
    for v in state.u2:
        if v == u:
            s_share, b_share = state.own_shares
        else:
            try:
                plain = prim.open_box(box_secrets[v], v, u, state.boxes[v], backend.keystream)
            except SpecError as err:
                notes.append(f"{worker_name(u)}: box from {worker_name(v)} rejected: {err}")
                continue
            if len(plain) != BOX_PLAINTEXT or read32(plain, 0) != v or read32(plain, 4) != u:
                notes.append(f"{worker_name(u)}: box from {worker_name(v)} has a wrong header")
                continue
            s_share = int.from_bytes(plain[8 : 8 + prim.SHAMIR_BYTES], "little")
            b_share = int.from_bytes(plain[8 + prim.SHAMIR_BYTES :], "little")
        kind, value = (SELF_SHARE, b_share) if v in survivors else (KEY_SHARE, s_share)
        records.append(le32(v) + bytes([kind]) + value.to_bytes(prim.SHAMIR_BYTES, "little"))
    return Message(worker_name(u), SERVER, "mask/unmask", b"".join(records))
