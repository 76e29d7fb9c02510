"""Secure comparison on additive shares over Z_2^64 (spec/21-comparison.md, P21.2-P21.7).

Both servers run in this process, as in ``sbrml.reference.beaver``: every function takes the
pair of shares ``(share of S0, share of S1)`` and returns the pair of output shares, and every
value one server learns from the other crosses the channel. Bit-planes are Python ints
(``sbrml.reference.comparison_dealer``), so one AND of two planes is one gate on every lane;
the gates and P21.3's tree are in ``sbrml.reference.carry_tree``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.network import gate_count
from sbrml.core.params import RING_BITS
from sbrml.reference.beaver import TripleShares, beaver_mul
from sbrml.reference.carry_tree import PlanePair, and_gates, exchange_planes, less_than_tree
from sbrml.reference.channel import pack_ring, unpack_ring
from sbrml.reference.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    ones,
    planes_of,
)
from sbrml.reference.ring import ring_add, ring_sub

MASK = (1 << RING_BITS) - 1
Pair = tuple[list[int], list[int]]


def _shape(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C21.4", str(got))


def _check_ring_pair(function: str, name: str, x: Pair, lanes: int) -> None:
    if len(x[0]) != lanes or len(x[1]) != lanes:
        raise _shape(function, name, f"two shares of {lanes} lanes", (len(x[0]), len(x[1])))


def _check_triples(
    function: str, triples: tuple[AndTriples, AndTriples], lanes: int, count: int
) -> None:
    for t in triples:
        if t.lanes != lanes or not len(t.a) == len(t.b) == len(t.c) == count:
            raise _shape(
                function,
                "triples",
                f"{count} AND triples of {lanes} lanes",
                f"{len(t.a)} triples of {t.lanes} lanes",
            )


def _check_planes(function: str, name: str, planes: Sequence[int], lanes: int) -> None:
    # A plane of N lanes has no bit at a position >= N (D21.1); a wider one would be sent
    # unmasked there, since the material's planes are zero at those positions.
    for p in planes:
        if isinstance(p, bool) or not isinstance(p, int) or p < 0 or p >> lanes:
            got = f"a plane of {p.bit_length()} bits" if isinstance(p, int) else type(p).__name__
            raise _shape(function, name, f"planes of {lanes} lanes", got)


def _check_dabits(function: str, dabits: tuple[DaBitShares, DaBitShares], lanes: int) -> None:
    for d in dabits:
        if d.lanes != lanes or len(d.q) != lanes:
            raise _shape(
                function, "dabits", f"daBits of {lanes} lanes", f"{d.lanes} lanes, {len(d.q)} q"
            )


def _exchange_ring(label: str, mine: Pair, channel: Channel) -> list[int]:
    """S0 sends its ring vector, then S1 its own; returns their sum (both servers learn it)."""
    channel.send("S0", "S1", label, pack_ring(mine[0]))
    channel.send("S1", "S0", label, pack_ring(mine[1]))
    count = len(mine[0])
    got0 = unpack_ring("open", "payload", channel.receive("S1", label)[-1].payload, count)
    got1 = unpack_ring("open", "payload", channel.receive("S0", label)[-1].payload, count)
    return ring_add(got0, got1)


def and_layer(
    x: Sequence[PlanePair],
    y: Sequence[PlanePair],
    triples: tuple[AndTriples, AndTriples],
    *,
    channel: Channel,
) -> list[PlanePair]:
    """Implements P21.2: XOR shares of x_t & y_t for T pairs of XOR-shared planes.

    1. S_s computes e^s_t = x^s_t ^ a^s_t and f^s_t = y^s_t ^ b^s_t.
    2. S0 sends e^0_0 || f^0_0 || ..., then S1 its own (label ``cmp/and``); both open e, f.
    3. S_s outputs c^s_t ^ (e_t & b^s_t) ^ (f_t & a^s_t); S0 also XORs e_t & f_t.
    """
    count, lanes = len(x), triples[0].lanes
    if len(y) != count:
        raise _shape("and_layer", "y", f"{count} planes", len(y))
    _check_triples("and_layer", triples, lanes, count)
    _check_planes("and_layer", "x", [p for pair in x for p in pair], lanes)
    _check_planes("and_layer", "y", [p for pair in y for p in pair], lanes)
    return and_gates(x, y, triples, lanes, channel)


def less_than_bits(
    c: Sequence[int],
    rho: Sequence[PlanePair],
    triples: tuple[AndTriples, AndTriples],
    *,
    lanes: int,
    channel: Channel,
) -> PlanePair:
    """Implements P21.3: XOR shares of [c < rho] for public planes c and XOR-shared planes rho.

    ``c`` and ``rho`` hold planes 0 .. m-1 (least significant first) of m-bit unsigned
    integers; ``triples`` holds exactly A(m) AND triples (C21.4).
    """
    bits = len(c)
    if bits < 1 or len(rho) != bits:
        raise _shape("less_than_bits", "rho", f"{bits} >= 1 planes", len(rho))
    _check_triples("less_than_bits", triples, lanes, gate_count(bits))
    _check_planes("less_than_bits", "c", c, lanes)
    _check_planes("less_than_bits", "rho", [p for pair in rho for p in pair], lanes)
    return less_than_tree(c, rho, triples, lanes, channel)


def _check_mask(
    function: str, masks: tuple[MaskShares, MaskShares], lanes: int, bits: int, high: bool
) -> None:
    """C21.4: a mask of ``lanes`` lanes and width ``bits`` (``r``, ``bits`` planes and, iff
    ``high``, a high part of ``lanes`` entries), as the optimized tree's ``check_mask``."""
    for m in masks:
        if (
            m.lanes != lanes
            or m.bits != bits
            or len(m.r) != lanes
            or len(m.planes) != bits
            or (m.high is not None) != high
            or (m.high is not None and len(m.high) != lanes)
        ):
            raise _shape(
                function,
                "masks",
                f"a mask of {lanes} lanes, width {bits}, {'with' if high else 'without'} high part",
                f"{m.lanes} lanes, width {m.bits}, high part {m.high is not None}",
            )


def _check_width(function: str, name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(function, name, f"an int in [{low}, {high}]", "C21.4", shown(value))


def less_than_zero(
    x: Pair,
    masks: tuple[MaskShares, MaskShares],
    triples: tuple[AndTriples, AndTriples],
    *,
    width: int,
    channel: Channel,
) -> PlanePair:
    """Implements P21.4: XOR shares of [x < 0] for x in [-2^width, 2^width), 1 <= width <= 63.

    1. S_s: y^s = x^s + [s=0] 2^w, c^s = y^s + r^s; open c (label ``cmp/open``).
    2. borrow = less_than_bits(planes 0..w-1 of c, rho_0..rho_{w-1}).
    3. S0 outputs c_w ^ rho^0_w ^ borrow^0 ^ ONES; S1 outputs rho^1_w ^ borrow^1.
    """
    _check_width("less_than_zero", "width", width, 1, RING_BITS - 1)
    lanes = len(x[0])
    _check_ring_pair("less_than_zero", "x", x, lanes)
    _check_mask("less_than_zero", masks, lanes, width + 1, high=False)
    _check_triples("less_than_zero", triples, lanes, gate_count(width))
    offset = [1 << width] * lanes
    y = (ring_add(x[0], offset), x[1])
    c = _exchange_ring(
        "cmp/open", (ring_add(y[0], masks[0].r), ring_add(y[1], masks[1].r)), channel
    )
    c_planes = planes_of(c, width + 1)
    rho = [(masks[0].planes[j], masks[1].planes[j]) for j in range(width + 1)]
    borrow = less_than_bits(c_planes[:width], rho[:width], triples, lanes=lanes, channel=channel)
    return (
        c_planes[width] ^ rho[width][0] ^ borrow[0] ^ ones(lanes),
        rho[width][1] ^ borrow[1],
    )


def bit_to_ring(b: PlanePair, dabits: tuple[DaBitShares, DaBitShares], *, channel: Channel) -> Pair:
    """Implements P21.5: additive shares of each lane's bit of the XOR-shared plane b.

    1. S_s: v^s = b^s ^ beta^s; S0 sends v^0, then S1 v^1 (label ``cmp/b2a``); both open v.
    2. S_s outputs [s=0] v_i + q^s_i - 2 v_i q^s_i.
    """
    lanes = dabits[0].lanes
    _check_dabits("bit_to_ring", dabits, lanes)
    _check_planes("bit_to_ring", "b", b, lanes)
    (v,) = exchange_planes(
        "cmp/b2a", [[b[0] ^ dabits[0].beta], [b[1] ^ dabits[1].beta]], lanes, channel
    )
    out = []
    for s in (0, 1):
        q = dabits[s].q
        out.append(
            [((v >> i & 1) * ((1 if s == 0 else 0) - 2 * q[i]) + q[i]) & MASK for i in range(lanes)]
        )
    return out[0], out[1]


def select(
    b: Pair,
    x: Pair,
    y: Pair,
    triples: tuple[TripleShares, TripleShares],
    *,
    channel: Channel,
) -> Pair:
    """Implements P21.6: shares of y + b (x - y), i.e. x where the bit b is 1 and y where 0."""
    lanes = len(b[0])
    _check_ring_pair("select", "b", b, lanes)
    _check_ring_pair("select", "x", x, lanes)
    _check_ring_pair("select", "y", y, lanes)
    _check_ring_pair("select", "triples", (triples[0].a, triples[1].a), lanes)
    diff = (ring_sub(x[0], y[0]), ring_sub(x[1], y[1]))
    prod = beaver_mul(b, diff, triples, channel=channel)
    return ring_add(prod[0], y[0]), ring_add(prod[1], y[1])


def range_check(
    x: Pair,
    masks: tuple[MaskShares, MaskShares],
    dabits: tuple[DaBitShares, DaBitShares],
    triples: tuple[AndTriples, AndTriples],
    *,
    bits: int,
    channel: Channel,
) -> list[int]:
    """Implements P21.7: per lane, t = floor(((x + 2^b) mod 2^64) / 2^(b+1)); 0 means in range.

    A lane's shared value x (any ring element) is in [-2^b, 2^b) exactly when its t is 0
    (C21.2). Returns the public t of every lane (C21.3: zero on every in-range lane).
    """
    _check_width("range_check", "bits", bits, 0, RING_BITS - 2)
    lanes, m = len(x[0]), bits + 1
    _check_ring_pair("range_check", "x", x, lanes)
    _check_mask("range_check", masks, lanes, m, high=True)
    _check_dabits("range_check", dabits, lanes)
    _check_triples("range_check", triples, lanes, gate_count(m))
    y = (ring_add(x[0], [1 << bits] * lanes), x[1])
    c = _exchange_ring(
        "range/open", (ring_add(y[0], masks[0].r), ring_add(y[1], masks[1].r)), channel
    )
    rho = [(masks[0].planes[j], masks[1].planes[j]) for j in range(m)]
    borrow = less_than_bits(planes_of(c, m), rho, triples, lanes=lanes, channel=channel)
    borrow_ring = bit_to_ring(borrow, dabits, channel=channel)
    modulus = (1 << (RING_BITS - m)) - 1
    high0, high1 = masks[0].high or [], masks[1].high or []
    t0 = [((ci >> m) - h - k) & modulus for ci, h, k in zip(c, high0, borrow_ring[0], strict=True)]
    t1 = [(-h - k) & modulus for h, k in zip(high1, borrow_ring[1], strict=True)]
    return [v & modulus for v in _exchange_ring("range/high", (t0, t1), channel)]
