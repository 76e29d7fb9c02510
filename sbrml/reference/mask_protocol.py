"""Pairwise-mask secure aggregation with dropout recovery (spec/20-mask-protocol.md).

Bonawitz et al. (CCS 2017), honest-but-curious version: one server ``S`` and workers
``W0..W<n-1>`` in one process over a byte-counting ``Channel``. Each worker adds to its
fixed-point input a self mask and one pairwise mask per peer; pairwise masks cancel in the
sum, and the server removes the rest with seeds reconstructed from t-of-n Shamir shares.
Vector arithmetic is delegated to a ``Backend`` so that the optimized tree plugs in NumPy and
produces the same transcript. The worker's rounds are in ``mask_worker``, the reference's
vector arithmetic in ``mask_vectors``; this module is the server and the round driver.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbrml.core.channel import Channel, Message, Payload
from sbrml.core.errors import (
    InsufficientWorkersError,
    ParameterError,
    ShapeError,
    SpecError,
    shown,
)
from sbrml.core.params import DEFAULT_FRAC_BITS, check_frac_bits
from sbrml.core.round import describe_excluded, worker_name
from sbrml.reference import masking_primitives as prim
from sbrml.reference.mask_vectors import REFERENCE, sum_limit, wrap_error
from sbrml.reference.mask_worker import (
    KEY_SHARE,
    ROUNDS,
    SELF_SHARE,
    SERVER,
    SHARE_RECORD,
    UNMASK_FORMAT,
    UNMASK_RECORD,
    Backend,
    MaskTamper,
    MaskTerms,
    WorkerState,
    check_survivors,
    le32,
    malformed,
    read32,
    worker_advertise,
    worker_input,
    worker_share,
    worker_unmask,
)
from sbrml.reference.randomness import RandomSource

__all__ = [
    "REFERENCE",
    "ROUNDS",
    "Backend",
    "MaskResult",
    "MaskTamper",
    "MaskTerms",
    "masked_aggregate",
    "sum_limit",
    "wrap_error",
]


@dataclass
class MaskResult:
    """What the server outputs (the sum over ``counted``), who was left out, and the traffic."""

    total: Any
    mean: Any
    counted: list[int]
    survivors: dict[str, list[int]]
    excluded: dict[int, str]
    notes: list[str]
    channel: Channel
    n: int
    d: int
    t: int
    seconds: dict[str, float] = field(default_factory=dict)


# --- server steps (P20.1) ---------------------------------------------------------------


def collect(
    channel: Channel,
    label: str,
    expected: Sequence[int],
    parse: Callable[[int, Payload], Any],
    failures: dict[int, str],
    notes: list[str],
) -> dict[int, Any]:
    """Implements C20.4: exactly one well-formed message per expected worker, else it is out.

    Messages from workers outside ``expected`` are ignored and reported in ``notes``.
    """
    got: dict[str, list[Message]] = {}
    for m in channel.receive(SERVER, label):
        got.setdefault(m.sender, []).append(m)
    names = {worker_name(i) for i in expected}
    for sender in got:
        if sender not in names:
            notes.append(f"S: ignored {label} from {sender}: not in the previous round's set")
    parsed: dict[int, Any] = {}
    for i in expected:
        messages = got.get(worker_name(i), [])
        if not messages:
            # A worker that reported why it sent nothing keeps that reason.
            failures.setdefault(i, f"{worker_name(i)}: no {label} message (dropped out)")
        elif len(messages) > 1:
            failures[i] = f"S: {len(messages)} {label} messages, need exactly one (C20.4)"
        else:
            try:
                parsed[i] = parse(i, messages[0].payload)
            except SpecError as err:
                failures[i] = f"S: malformed {label}: {err}"
    return parsed


def parse_advertise(backend: Backend) -> Callable[[int, Payload], tuple[bytes, bytes]]:
    def parse(i: int, payload: Payload) -> tuple[bytes, bytes]:
        raw = bytes(payload)
        if len(raw) != 64:
            raise malformed("masked_aggregate", "64 bytes (two X25519 keys)", f"{len(raw)} bytes")
        c_pk, s_pk = raw[:32], raw[32:]
        # C19.4: a low-order key would make the derived secret public; X25519(0^32, .) finds it.
        low = [
            n for n, pk in (("c_pk", c_pk), ("s_pk", s_pk)) if prim.is_low_order(pk, backend.agree)
        ]
        if c_pk == s_pk or low:
            raise malformed("masked_aggregate", "two distinct keys of large order", f"{low}")
        return c_pk, s_pk

    return parse


def parse_shares(u1: Sequence[int]) -> Callable[[int, Payload], dict[int, bytes]]:
    def parse(u: int, payload: Payload) -> dict[int, bytes]:
        raw = bytes(payload)
        receivers = [v for v in u1 if v != u]
        if len(raw) != SHARE_RECORD * len(receivers):
            raise malformed(
                "masked_aggregate",
                f"{SHARE_RECORD} bytes per peer in U1 ({len(receivers)} peers)",
                f"{len(raw)} bytes",
            )
        at = [SHARE_RECORD * k for k in range(len(receivers))]
        found = [read32(raw, a) for a in at]
        if found != receivers:
            raise malformed("masked_aggregate", f"boxes for {receivers} in order", f"{found}")
        return {v: raw[a + 4 : a + SHARE_RECORD] for v, a in zip(receivers, at, strict=True)}

    return parse


def parse_input(backend: Backend, d: int) -> Callable[[int, Payload], Any]:
    def parse(u: int, payload: Payload) -> Any:
        size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
        if size != 8 * d:
            raise malformed("masked_aggregate", f"{8 * d} bytes (d ring elements)", f"{size}")
        return backend.unpack("masked_aggregate", f"y[{u}]", payload, d)

    return parse


def parse_unmask(u2: Sequence[int], u3: Sequence[int]) -> Callable[[int, Payload], dict[int, int]]:
    members, survivors = set(u2), set(u3)

    def parse(u: int, payload: Payload) -> dict[int, int]:
        raw = bytes(payload)
        if len(raw) % UNMASK_RECORD:
            raise malformed("masked_aggregate", f"records of {UNMASK_RECORD} bytes", f"{len(raw)}")
        shares: dict[int, int] = {}
        last = -1
        for v, kind, y in struct.iter_unpack(UNMASK_FORMAT, raw):
            value = int.from_bytes(y, "little")
            want = SELF_SHARE if v in survivors else KEY_SHARE
            if v not in members or v <= last or kind != want:
                raise malformed(
                    "masked_aggregate",
                    "records for distinct v in U2, increasing, kind 0 iff v in U3",
                    f"v={v}, kind={kind}",
                )
            if value >= prim.SHAMIR_PRIME:
                raise malformed("masked_aggregate", "a share below 2^521 - 1", f"v={v}")
            shares[v] = value
            last = v
        return shares

    return parse


def recover_secret(v: int, shares: list[tuple[int, int]], t: int) -> bytes:
    """Implements C20.3 and C20.6: the 32-byte secret of worker v from the first t shares."""
    check_survivors("masked_aggregate", [x - 1 for x, _ in shares], t, f"shares for W{v}")
    value = prim.shamir_reconstruct(shares[:t], t)
    if value >= 1 << 256:
        raise inconsistent(v)
    return value.to_bytes(32, "little")


def inconsistent(v: int) -> ShapeError:
    return ShapeError(
        "masked_aggregate",
        f"shares for W{v}",
        "t shares of one 32-byte secret (matching its public key)",
        "C20.6",
        "an inconsistent reconstruction; the round aborts",
    )


# --- the protocol (P20.1) -----------------------------------------------------------------


def require_survivors(
    ids: Sequence[int], t: int, label: str, n: int, failures: dict[int, str]
) -> None:
    """C20.3 as ``check_survivors`` checks it; the error names the excluded workers with
    their published reasons, as the two-server round's C8.4 error does."""
    try:
        check_survivors("masked_aggregate", ids, t, label)
    except InsufficientWorkersError as err:
        raise InsufficientWorkersError(
            "masked_aggregate",
            label,
            err.condition,
            err.clause,
            f"{len(ids)} workers {list(ids)} of n={n}; excluded: {describe_excluded(failures)}",
        ) from err


def check_mask_params(
    inputs: Any, t: int, frac_bits: int, dropouts: Mapping[int, str]
) -> tuple[int, int]:
    """Implements C20.1 at the protocol's boundary; returns (n, d)."""
    n = len(inputs)
    if isinstance(t, bool) or not isinstance(t, int) or not 2 <= t <= n:
        raise ParameterError(
            "masked_aggregate", "t", "an int with 2 <= t <= n", "C20.1", f"t={shown(t)}, n={n}"
        )
    check_frac_bits("masked_aggregate", frac_bits)
    d = len(inputs[0])
    for i, x in enumerate(inputs):
        if len(x) != d or d < 1:
            raise ShapeError(
                "masked_aggregate", f"inputs[{i}]", f"length d={d} >= 1", "C20.1", f"{len(x)}"
            )
    for i, r in dropouts.items():
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n or r not in ROUNDS:
            raise ParameterError(
                "masked_aggregate",
                "dropouts",
                f"worker index in [0, {n}) -> one of {ROUNDS}",
                "C20.1",
                f"{shown(i)}: {shown(r)}",
            )
    return n, d


def masked_aggregate(
    inputs: Any,
    *,
    t: int,
    rng: RandomSource,
    frac_bits: int = DEFAULT_FRAC_BITS,
    dropouts: Mapping[int, str] | None = None,
    tamper: MaskTamper | None = None,
    backend: Backend = REFERENCE,
) -> MaskResult:
    """Implements P20.1: the server learns sum_{u in U3} x_u, and only that (C20.7).

    ``dropouts[i] = r`` makes worker i silent from round r on (r in ROUNDS): it then sends
    nothing in round r or later. ``tamper(round, messages)`` may rewrite the workers'
    messages of a round before delivery (tests and attack simulations).
    """
    drops = dict(dropouts or {})
    n, d = check_mask_params(inputs, t, frac_bits, drops)
    channel = Channel()
    seconds: dict[str, float] = {}
    failures: dict[int, str] = {}
    notes: list[str] = []
    survivors: dict[str, list[int]] = {}
    states = [WorkerState(i, rng.derive(f"worker/{i}")) for i in range(n)]

    def inbox(i: int, label: str) -> Payload:
        (message,) = channel.receive(worker_name(i), label)
        return message.payload

    def workers(stage: str, ids: Iterable[int], make: Callable[[int], Message]) -> None:
        start = time.perf_counter()
        out = []
        for i in ids:
            if i in drops and ROUNDS.index(drops[i]) <= ROUNDS.index(stage):
                continue
            try:
                out.append(make(i))
            except SpecError as err:
                report = f"{worker_name(i)}: sent nothing in round {stage}: {err.public_reason()}"
                if stage == "unmask":
                    notes.append(report)
                else:
                    failures[i] = report
        seconds[f"worker/{stage}"] = time.perf_counter() - start
        for m in tamper(stage, out) if tamper is not None else out:
            channel.deliver(m)

    def server(stage: str, start: float) -> None:
        key = f"server/{stage}"
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start

    # Round 0: advertise keys.
    workers("advertise", range(n), lambda i: worker_advertise(states[i], backend))
    start = time.perf_counter()
    keys = collect(channel, "mask/advertise", range(n), parse_advertise(backend), failures, notes)
    u1 = survivors["advertise"] = sorted(keys)
    require_survivors(u1, t, "U1", n, failures)
    roster = le32(len(u1)) + b"".join(le32(v) + keys[v][0] + keys[v][1] for v in u1)
    for v in u1:
        channel.send(SERVER, worker_name(v), "mask/roster", roster)
    server("advertise", start)

    # Round 1: share keys.
    workers("share", u1, lambda i: worker_share(states[i], inbox(i, "mask/roster"), t, n, backend))
    start = time.perf_counter()
    boxes = collect(channel, "mask/shares", u1, parse_shares(u1), failures, notes)
    u2 = survivors["share"] = sorted(boxes)
    require_survivors(u2, t, "U2", n, failures)
    for v in u2:
        forward = [le32(u) + boxes[u][v] for u in u2 if u != v]
        channel.send(SERVER, worker_name(v), "mask/forward", le32(len(forward)) + b"".join(forward))
    server("share", start)

    # Round 2: masked input collection.
    workers(
        "input",
        u2,
        lambda i: worker_input(
            states[i], inbox(i, "mask/forward"), inputs[i], t, n, frac_bits, backend
        ),
    )
    start = time.perf_counter()
    ys = collect(
        channel,
        "mask/input",
        u2,
        parse_input(backend, d),
        failures,
        notes,
    )
    u3 = survivors["input"] = sorted(ys)
    require_survivors(u3, t, "U3", n, failures)
    listing = le32(len(u3)) + b"".join(le32(v) for v in u3)
    for v in u3:
        channel.send(SERVER, worker_name(v), "mask/survivors", listing)
    server("input", start)

    # Round 3: unmasking.
    workers(
        "unmask",
        u3,
        lambda i: worker_unmask(states[i], inbox(i, "mask/survivors"), t, notes, backend),
    )
    start = time.perf_counter()
    late: dict[int, str] = {}
    answers = collect(channel, "mask/unmask", u3, parse_unmask(u2, u3), late, notes)
    notes.extend(late[i] for i in sorted(late))
    u4 = survivors["unmask"] = sorted(answers)
    terms: MaskTerms = []
    for v in u2:
        shares = [(u + 1, answers[u][v]) for u in u4 if v in answers[u]]
        secret = recover_secret(v, shares, t)
        if v in u3:
            terms.append((-1, prim.self_seed(secret)))
            continue
        if backend.x25519_public(secret) != keys[v][1]:
            raise inconsistent(v)
        pair_secrets = backend.agree(secret, [keys[u][1] for u in u3])
        for u, pair in zip(u3, pair_secrets, strict=True):
            # Worker u added +PRG(s_uv) if u < v, else -PRG(s_uv); the server takes it away.
            terms.append((-1 if u < v else 1, prim.pairwise_seed(pair)))
    server("unmask", start)
    start = time.perf_counter()
    masked_sum = backend.total([ys[u] for u in u3], d)
    server("sum", start)
    start = time.perf_counter()
    unmasked = backend.apply_masks(masked_sum, terms, d)
    server("unmask", start)
    start = time.perf_counter()
    total_sum, mean = backend.decode_sum(unmasked, frac_bits, len(u3))
    server("decode", start)
    excluded = {i: failures[i] for i in sorted(failures)}
    return MaskResult(total_sum, mean, u3, survivors, excluded, notes, channel, n, d, t, seconds)
