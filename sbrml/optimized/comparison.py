"""Secure comparison on additive shares over Z_2^64, on uint64 arrays (spec/21, P21.2-P21.7).

Same API, messages and bytes as ``sbrml.reference.comparison`` (C21.5): every function takes
the pair ``(share of S0, share of S1)`` and returns the pair of output shares. A plane is a
uint64 array of ``ceil(N / 64)`` words (``sbrml.optimized.comparison_dealer``); the gates of
one layer are one array of planes, so a layer costs a few NumPy passes whatever its number of
gates (``sbrml.optimized.carry_tree``, which also holds P21.3's tree). Every shape is
checked before the first message (C21.4); arrays already sent are never written to, since the
channel keeps views of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from sbrml.core.channel import Channel, each, present
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.network import gate_count
from sbrml.core.params import RING_BITS
from sbrml.optimized.beaver import TripleShares, beaver_mul
from sbrml.optimized.carry_tree import PlanePair, and_gates, exchange_planes, less_than_stacked
from sbrml.optimized.channel import open_ring
from sbrml.optimized.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    check_dabits,
    check_mask,
    check_triples,
    lane_bits,
    ones,
    plane_stack,
    planes_of,
)
from sbrml.optimized.ring import U64

Pair = tuple[U64, U64]


def _shape(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C21.4", str(got))


def _lanes_of(function: str, name: str, x: tuple[ArrayLike, ArrayLike]) -> int:
    shape = np.shape(present(x)[0])
    if len(shape) != 1:
        raise _shape(function, name, "two shares of one vector of lanes", f"shape {shape}")
    return int(shape[0])


def _ring_pair(function: str, name: str, x: tuple[ArrayLike, ArrayLike], lanes: int) -> Pair:
    # A share the channel does not play is None (spec section 23) and stays None.
    out = [None if v is None else np.asarray(v, dtype=np.uint64) for v in x]
    shapes = [v.shape for v in out if v is not None]
    if any(shape != (lanes,) for shape in shapes):
        raise _shape(function, name, f"two shares of {lanes} lanes", tuple(shapes))
    return out[0], out[1]


def _check_width(function: str, name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(function, name, f"an int in [{low}, {high}]", "C21.4", shown(value))


def _exchange_ring(
    label: str, mine0: U64, mine1: U64, channel: Channel, out: U64 | None = None
) -> U64:
    """S0 sends its ring vector, then S1 its own (D7.6); returns their sum (both servers
    learn it), written to ``out`` when given."""
    return open_ring(label, mine0, mine1, channel, out=out)


def and_layer(
    x: Sequence[PlanePair],
    y: Sequence[PlanePair],
    triples: tuple[AndTriples, AndTriples],
    *,
    channel: Channel,
) -> list[PlanePair]:
    """Implements P21.2: XOR shares of x_t & y_t for T pairs of XOR-shared planes.

    ``x[t]``, ``y[t]`` are pairs of planes of shape ``(words,)``; ``triples`` holds exactly T
    AND triples of the same lanes (C21.4). Returns T pairs of planes.

    1. S_s computes e^s_t = x^s_t ^ a^s_t and f^s_t = y^s_t ^ b^s_t.
    2. S0 sends e^0_0 || f^0_0 || ..., then S1 its own (label ``cmp/and``); both open e, f.
    3. S_s outputs c^s_t ^ (e_t & b^s_t) ^ (f_t & a^s_t); S0 also XORs e_t & f_t.
    """
    count, lanes = len(x), present(triples)[0].lanes
    if len(y) != count:
        raise _shape("and_layer", "y", f"{count} planes", len(y))
    check_triples("and_layer", triples, lanes, count)
    xs = each(channel, lambda s: plane_stack("and_layer", "x", [p[s] for p in x], lanes))
    ys = each(channel, lambda s: plane_stack("and_layer", "y", [p[s] for p in y], lanes))
    z = and_gates(xs, ys, triples, lanes, channel)
    rows = [list(v) if v is not None else [None] * count for v in z]
    return cast(list[PlanePair], list(zip(rows[0], rows[1], strict=True)))


def less_than_bits(
    c: Sequence[U64],
    rho: Sequence[PlanePair],
    triples: tuple[AndTriples, AndTriples],
    *,
    lanes: int,
    channel: Channel,
) -> PlanePair:
    """Implements P21.3: XOR shares of [c < rho] for public planes c and XOR-shared planes rho.

    ``c`` (a sequence of planes or a ``(m, words)`` array) and ``rho`` (pairs of planes) hold
    planes 0 .. m-1, least significant first, of m-bit unsigned integers; ``triples`` holds
    exactly A(m) AND triples (C21.4). Returns a pair of planes of shape ``(words,)``.
    """
    bits = len(c)
    if bits < 1 or len(rho) != bits:
        raise _shape("less_than_bits", "rho", f"{bits} >= 1 planes", len(rho))
    check_triples("less_than_bits", triples, lanes, gate_count(bits))
    public = plane_stack("less_than_bits", "c", list(c), lanes)
    stacked = each(
        channel, lambda s: plane_stack("less_than_bits", "rho", [p[s] for p in rho], lanes)
    )
    return less_than_stacked(public, stacked, triples, lanes, channel)


def _open_masked(
    label: str, x: Pair, offset: int, masks: tuple[MaskShares, MaskShares], channel: Channel
) -> U64:
    """Steps 1 of P21.4 and P21.7: y^s = x^s + [s=0] offset, c^s = y^s + r^s; open c."""

    def masked(s: int) -> U64:
        c: U64 = x[s] + masks[s].r
        if s == 0:
            c += np.uint64(offset)
        return c

    return _exchange_ring(label, *each(channel, masked), channel)


def less_than_zero(
    x: Pair,
    masks: tuple[MaskShares, MaskShares],
    triples: tuple[AndTriples, AndTriples],
    *,
    width: int,
    channel: Channel,
) -> PlanePair:
    """Implements P21.4: XOR shares of [x < 0] for x in [-2^width, 2^width), 1 <= width <= 63.

    ``x[s]`` has shape ``(N,)``; returns a pair of planes of shape ``(words,)``.

    1. S_s: y^s = x^s + [s=0] 2^w, c^s = y^s + r^s; open c (label ``cmp/open``).
    2. borrow = less_than_bits(planes 0..w-1 of c, rho_0..rho_{w-1}).
    3. S0 outputs c_w ^ rho^0_w ^ borrow^0 ^ ONES; S1 outputs rho^1_w ^ borrow^1.
    """
    _check_width("less_than_zero", "width", width, 1, RING_BITS - 1)
    lanes = _lanes_of("less_than_zero", "x", x)
    shares = _ring_pair("less_than_zero", "x", x, lanes)
    check_mask("less_than_zero", masks, lanes, width + 1, high=False)
    check_triples("less_than_zero", triples, lanes, gate_count(width))
    c = _open_masked("cmp/open", shares, 1 << width, masks, channel)
    c_planes = planes_of(c, width + 1)
    rho = each(channel, lambda s: masks[s].planes)
    low = each(channel, lambda s: rho[s][:width])
    borrow = less_than_stacked(c_planes[:width], low, triples, lanes, channel)

    def output(s: int) -> U64:
        out: U64 = rho[s][width] ^ borrow[s]
        if s == 0:
            out ^= c_planes[width]
            out ^= ones(lanes)
        return out

    return each(channel, output)


def _bit_to_ring(
    b: PlanePair, dabits: tuple[DaBitShares, DaBitShares], lanes: int, channel: Channel
) -> Pair:
    """P21.5 on checked inputs."""
    # Step 1.
    masked = each(channel, lambda s: b[s] ^ dabits[s].beta)
    v = exchange_planes("cmp/b2a", masked[0], masked[1], lanes, 1, channel)
    # Step 2, without branches: with mask = -v_i (all ones where v_i = 1, else 0), since
    # (q ^ mask) - mask = -q where v_i = 1 and q where v_i = 0, and -mask = v_i,
    # [s=0] v_i + q^s_i - 2 v_i q^s_i = (q^s_i ^ mask) + (1 + [s=0]) v_i.
    bits = lane_bits(v[0], lanes)
    mask = np.negative(bits, dtype=np.uint64)

    def output(s: int) -> U64:
        out = np.bitwise_xor(dabits[s].q, mask)
        out += bits
        if s == 0:
            out += bits
        return out

    return each(channel, output)


def bit_to_ring(b: PlanePair, dabits: tuple[DaBitShares, DaBitShares], *, channel: Channel) -> Pair:
    """Implements P21.5: additive shares of each lane's bit of the XOR-shared plane b.

    ``b[s]`` has shape ``(words,)``; returns two uint64 arrays of shape ``(N,)``.

    1. S_s: v^s = b^s ^ beta^s; S0 sends v^0, then S1 v^1 (label ``cmp/b2a``); both open v.
    2. S_s outputs [s=0] v_i + q^s_i - 2 v_i q^s_i.
    """
    lanes = present(dabits)[0].lanes
    check_dabits("bit_to_ring", dabits, lanes)
    planes = plane_stack("bit_to_ring", "b", present(b), lanes)
    stacked = iter(planes)
    return _bit_to_ring(each(channel, lambda s: next(stacked)), dabits, lanes, channel)


def select(
    b: Pair,
    x: Pair,
    y: Pair,
    triples: tuple[TripleShares, TripleShares],
    *,
    channel: Channel,
) -> Pair:
    """Implements P21.6: shares of y + b (x - y), i.e. x where the bit b is 1 and y where 0.

    All shares have shape ``(N,)``; ``triples`` holds N scalar triples, else ShapeError
    citing C21.4 before any message.
    """
    lanes = _lanes_of("select", "b", b)
    bits = _ring_pair("select", "b", b, lanes)
    xs = _ring_pair("select", "x", x, lanes)
    ys = _ring_pair("select", "y", y, lanes)
    if any(t.a.shape != (lanes,) for t in present(triples)):
        got = tuple(t.a.shape for t in present(triples))
        raise _shape("select", "triples", f"two shares of {lanes} lanes", got)
    diff = each(channel, lambda s: xs[s] - ys[s])
    prod = beaver_mul(bits, diff, triples, channel=channel)
    return each(channel, lambda s: prod[s] + ys[s])


def range_check(
    x: Pair,
    masks: tuple[MaskShares, MaskShares],
    dabits: tuple[DaBitShares, DaBitShares],
    triples: tuple[AndTriples, AndTriples],
    *,
    bits: int,
    channel: Channel,
) -> U64:
    """Implements P21.7: per lane, t = floor(((x + 2^b) mod 2^64) / 2^(b+1)); 0 means in range.

    A lane's shared value x (any ring element; ``x[s]`` of shape ``(N,)``) is in
    [-2^b, 2^b) exactly when its t is 0 (C21.2). Returns the public t of every lane, a uint64
    array of shape ``(N,)`` (C21.3: zero on every in-range lane).
    """
    _check_width("range_check", "bits", bits, 0, RING_BITS - 2)
    lanes, m = _lanes_of("range_check", "x", x), bits + 1
    shares = _ring_pair("range_check", "x", x, lanes)
    check_mask("range_check", masks, lanes, m, high=True)
    check_dabits("range_check", dabits, lanes)
    check_triples("range_check", triples, lanes, gate_count(m))
    # Step 1.
    c = _open_masked("range/open", shares, 1 << bits, masks, channel)
    # Steps 2 and 3.
    rho = each(channel, lambda s: masks[s].planes)
    borrow = less_than_stacked(planes_of(c, m), rho, triples, lanes, channel)
    k = _bit_to_ring(borrow, dabits, lanes, channel)
    # Step 4, in place on arrays no message refers to: c is the sum of the received shares,
    # k0 and k1 are fresh. check_mask has checked that both high parts are there.
    modulus = np.uint64((1 << (RING_BITS - m)) - 1)

    def high_share(s: int) -> U64:
        high = masks[s].high
        if high is None:  # pragma: no cover - excluded by check_mask
            raise _shape("range_check", "masks", "a mask with high part", "none")
        if s == 0:
            t0 = c
            t0 >>= np.uint64(m)
            t0 -= high
            t0 -= k[0]
            t0 &= modulus
            return t0
        t1 = k[1]
        t1 += high
        np.negative(t1, out=t1)
        t1 &= modulus
        return t1

    t_shares = each(channel, high_share)
    # The opened t goes into the memory of a k no message refers to any more.
    t = _exchange_ring(
        "range/high", *t_shares, channel, out=k[0] if 0 in channel.servers() else None
    )
    t &= modulus
    return t
