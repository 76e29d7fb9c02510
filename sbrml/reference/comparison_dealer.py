"""Bit-planes and the dealer's comparison material (spec/21-comparison.md, D21.1-D21.2, P21.1).

A bit-plane of ``N`` lanes is a Python int whose bit ``i`` is lane ``i``'s bit; XOR and AND of
two planes are then one gate for every lane at once (bit-slicing). The dealer functions here
are called by ``Dealer`` (``sbrml.reference.beaver``) with its own source, so that one dealer
draws all of a round's material from one stream in request order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sbrml.core.channel import Channel, Payload
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.params import RING_BITS
from sbrml.reference.channel import pack_ring
from sbrml.reference.randomness import RandomSource, ring_elements

MASK = (1 << RING_BITS) - 1
Planes = list[int]
Vector = list[int]


def plane_bytes(lanes: int) -> int:
    """D21.1: the wire size of one plane of ``lanes`` lanes, 8 * ceil(lanes / 64) bytes."""
    return 8 * (-(-lanes // 64))


def ones(lanes: int) -> int:
    """D21.1: the plane with every one of ``lanes`` lanes set."""
    return (1 << lanes) - 1


def pack_planes(planes: Sequence[int], lanes: int) -> bytes:
    """D21.1: planes as ``plane_bytes(lanes)`` LE bytes each, concatenated."""
    size = plane_bytes(lanes)
    return b"".join(p.to_bytes(size, "little") for p in planes)


def unpack_planes(payload: Payload, lanes: int, count: int) -> Planes:
    """The inverse of ``pack_planes``; a payload of the wrong size raises ShapeError (D21.1)."""
    size = plane_bytes(lanes)
    raw = bytes(payload)  # its bytes, whatever the item size of a memoryview
    if len(raw) != size * count:
        raise ShapeError(
            "unpack_planes",
            "payload",
            f"{count} planes of {size} bytes",
            "D21.1",
            f"{len(raw)} bytes",
        )
    return [int.from_bytes(raw[k * size : (k + 1) * size], "little") for k in range(count)]


def planes_of(values: Sequence[int], count: int) -> Planes:
    """D21.1: planes 0 .. count-1 of a vector of ring elements (bit i of plane j = bit j of v_i)."""
    planes = [0] * count
    for i, v in enumerate(values):
        for j in range(count):
            if v >> j & 1:
                planes[j] |= 1 << i
    return planes


@dataclass(frozen=True)
class AndTriples:
    """One server's XOR shares of T AND triples over ``lanes`` lanes (D21.2 (a))."""

    lanes: int
    a: Planes
    b: Planes
    c: Planes


@dataclass(frozen=True)
class MaskShares:
    """One server's shares of a mask of width ``bits`` (D21.2 (b)): r, its low planes, and
    h = floor(r / 2^bits) when drawn with high part (else ``high`` is None)."""

    lanes: int
    bits: int
    r: Vector
    planes: Planes
    high: Vector | None


@dataclass(frozen=True)
class DaBitShares:
    """One server's shares of N daBits (D21.2 (c)): the plane beta and each bit in the ring."""

    lanes: int
    beta: int
    q: Vector


def check_lanes(
    function: str, name: str, value: int, low: int = 1, high: int | None = None
) -> None:
    """D21.2: a count of lanes, gates or bits is an int in [low, high]."""
    ok = not isinstance(value, bool) and isinstance(value, int) and value >= low
    if not ok or (high is not None and value > high):
        bound = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise ParameterError(function, name, bound, "D21.2", shown(value))


def random_planes(rng: RandomSource, lanes: int, count: int) -> Planes:
    """P21.1: ``count`` uniform planes, each plane_bytes(lanes) bytes with bits >= lanes cleared."""
    size, top = plane_bytes(lanes), ones(lanes)
    return [int.from_bytes(rng.random_bytes(size), "little") & top for _ in range(count)]


def _send(label: str, part0: bytes, part1: bytes, channel: Channel) -> None:
    channel.send("dealer", "S0", label, part0)
    channel.send("dealer", "S1", label, part1)


def deal_and_triples(
    rng: RandomSource, lanes: int, count: int, *, channel: Channel
) -> tuple[AndTriples, AndTriples]:
    """Implements P21.1 (a): a^0, a^1, b^0, b^1, c^0; c^1 = (a^0 ^ a^1) & (b^0 ^ b^1) ^ c^0."""
    check_lanes("Dealer.and_triples", "lanes", lanes)
    check_lanes("Dealer.and_triples", "count", count, low=0)
    a0, a1, b0, b1, c0 = (random_planes(rng, lanes, count) for _ in range(5))
    c1 = [(x0 ^ x1) & (y0 ^ y1) ^ z0 for x0, x1, y0, y1, z0 in zip(a0, a1, b0, b1, c0, strict=True)]
    _send(
        "offline/and",
        pack_planes(a0 + b0 + c0, lanes),
        pack_planes(a1 + b1 + c1, lanes),
        channel,
    )
    return AndTriples(lanes, a0, b0, c0), AndTriples(lanes, a1, b1, c1)


def deal_masks(
    rng: RandomSource, lanes: int, bits: int, *, high: bool, channel: Channel
) -> tuple[MaskShares, MaskShares]:
    """Implements P21.1 (b): r^0, r^1, the planes rho^0_j; rho^1_j = r_j ^ rho^0_j; then, with
    high part, h^0 and h^1 = floor(r / 2^bits) - h^0."""
    check_lanes("Dealer.masks", "lanes", lanes)
    check_lanes("Dealer.masks", "bits", bits, high=RING_BITS - 1 if high else RING_BITS)
    r0, r1 = ring_elements(rng, lanes), ring_elements(rng, lanes)
    r = [(x + y) & MASK for x, y in zip(r0, r1, strict=True)]
    rho0 = random_planes(rng, lanes, bits)
    rho1 = [p ^ q for p, q in zip(planes_of(r, bits), rho0, strict=True)]
    parts0, parts1 = (
        pack_ring(r0) + pack_planes(rho0, lanes),
        pack_ring(r1) + pack_planes(rho1, lanes),
    )
    h0: Vector | None = None
    h1: Vector | None = None
    if high:
        h0 = ring_elements(rng, lanes)
        h1 = [((v >> bits) - x) & MASK for v, x in zip(r, h0, strict=True)]
        parts0, parts1 = parts0 + pack_ring(h0), parts1 + pack_ring(h1)
    _send("offline/masks", parts0, parts1, channel)
    return MaskShares(lanes, bits, r0, rho0, h0), MaskShares(lanes, bits, r1, rho1, h1)


def deal_dabits(
    rng: RandomSource, lanes: int, *, channel: Channel
) -> tuple[DaBitShares, DaBitShares]:
    """Implements P21.1 (c): the planes beta^0, beta^1, then q^0; q^1 = beta - q^0."""
    check_lanes("Dealer.dabits", "lanes", lanes)
    beta0, beta1 = random_planes(rng, lanes, 2)
    beta = beta0 ^ beta1
    q0 = ring_elements(rng, lanes)
    q1 = [((beta >> i & 1) - x) & MASK for i, x in enumerate(q0)]
    _send(
        "offline/dabits",
        pack_planes([beta0], lanes) + pack_ring(q0),
        pack_planes([beta1], lanes) + pack_ring(q1),
        channel,
    )
    return DaBitShares(lanes, beta0, q0), DaBitShares(lanes, beta1, q1)
