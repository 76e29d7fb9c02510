"""Bit-planes, the dealer's comparison material and its shape checks (spec/21, D21.1-P21.1).

A bit-plane of ``N`` lanes is a uint64 array of ``ceil(N / 64)`` words whose bit ``i`` (bit
``i % 64`` of word ``i // 64``) is lane ``i``'s bit; on a little-endian host its bytes are the
plane's wire bytes (D21.1), so planes are sent as zero-copy views. Planes of one kind are
stacked as a 2-D array ``(count, words)``, and one XOR or AND of two stacks is one gate on
every lane of every plane. The dealer functions are called by ``Dealer``
(``sbrml.optimized.beaver``) with its own source and draw exactly the bytes of
``sbrml.reference.comparison_dealer``, in the same order (C21.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sbrml.core.channel import Channel, Payload, present
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.params import RING_BITS
from sbrml.optimized.channel import pack_ring
from sbrml.optimized.randomness import ChaCha20RandomSource, RandomSource, fill_ring_elements
from sbrml.optimized.ring import U64

U8 = NDArray[np.uint8]


def plane_words(lanes: int) -> int:
    """D21.1: the uint64 words of one plane of ``lanes`` lanes, ceil(lanes / 64)."""
    return -(-lanes // 64)


def plane_bytes(lanes: int) -> int:
    """D21.1: the wire size of one plane of ``lanes`` lanes, 8 * ceil(lanes / 64) bytes."""
    return 8 * plane_words(lanes)


def top_word(lanes: int) -> np.uint64:
    """The bits of a plane's last word that hold lanes (D21.1: the bits above are zero)."""
    rest = lanes % 64
    return np.uint64((1 << rest) - 1 if rest else (1 << 64) - 1)


def clear_high_lanes(planes: U64, lanes: int) -> None:
    """Clear, in place, every bit at a lane position >= ``lanes`` of planes ``(..., words)``."""
    if lanes % 64 and planes.size:
        planes[..., -1] &= top_word(lanes)


def ones(lanes: int) -> U64:
    """D21.1: the plane with every one of ``lanes`` lanes set, shape ``(words,)``."""
    out = np.full(plane_words(lanes), np.uint64((1 << 64) - 1), dtype=np.uint64)
    clear_high_lanes(out, lanes)
    return out


def unpack_planes(payload: Payload, lanes: int, count: int) -> U64:
    """The planes of a payload as a read-only ``(count, words)`` view; a payload of the wrong
    size raises ShapeError (D21.1)."""
    size = plane_bytes(lanes)
    got = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if got != size * count:
        raise ShapeError(
            "unpack_planes", "payload", f"{count} planes of {size} bytes", "D21.1", f"{got} bytes"
        )
    return np.frombuffer(payload, dtype="<u8").reshape(count, size // 8)


def planes_of(values: U64, count: int) -> U64:
    """D21.1: planes 0 .. count-1 of a uint64 vector of N lanes, shape ``(count, words)``.

    One contiguous byte column per 8 planes, then one ``packbits`` per plane: 21 planes of
    11.25M lanes took 0.03-0.06 s here, against 0.57 s by shifting the 64-bit words (D21.3).
    """
    lanes = values.shape[0]
    out = np.zeros((count, plane_words(lanes)), dtype=np.uint64)
    out_bytes = out.view(np.uint8)
    filled = -(-lanes // 8)
    columns = np.ascontiguousarray(values, dtype=np.uint64).view(np.uint8).reshape(lanes, 8)
    for k in range(-(-count // 8)):
        column = np.ascontiguousarray(columns[:, k])
        for bit in range(min(8, count - 8 * k)):
            # packbits counts any non-zero byte as a 1 and pads the last byte with zeros.
            out_bytes[8 * k + bit, :filled] = np.packbits(
                column & np.uint8(1 << bit), bitorder="little"
            )
    return out


def lane_bits(plane: U64, lanes: int) -> U8:
    """The lanes of one plane as a uint8 array of 0/1 values, shape ``(lanes,)``."""
    return np.unpackbits(np.ascontiguousarray(plane).view(np.uint8), count=lanes, bitorder="little")


@dataclass(frozen=True)
class AndTriples:
    """One server's XOR shares of T AND triples over ``lanes`` lanes (D21.2 (a)); ``a``,
    ``b``, ``c`` have shape ``(T, words)``."""

    lanes: int
    a: U64
    b: U64
    c: U64


@dataclass(frozen=True)
class MaskShares:
    """One server's shares of a mask of width ``bits`` (D21.2 (b)): ``r`` of shape
    ``(lanes,)``, its low planes ``(bits, words)``, and h = floor(r / 2^bits) of shape
    ``(lanes,)`` when drawn with high part (else ``high`` is None)."""

    lanes: int
    bits: int
    r: U64
    planes: U64
    high: U64 | None


@dataclass(frozen=True)
class DaBitShares:
    """One server's shares of N daBits (D21.2 (c)): the plane ``beta`` ``(words,)`` and each
    bit in the ring, ``q`` of shape ``(lanes,)``."""

    lanes: int
    beta: U64
    q: U64


def check_lanes(
    function: str, name: str, value: int, low: int = 1, high: int | None = None
) -> None:
    """D21.2: a count of lanes, gates or bits is an int in [low, high]."""
    ok = not isinstance(value, bool) and isinstance(value, int) and value >= low
    if not ok or (high is not None and value > high):
        bound = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise ParameterError(function, name, bound, "D21.2", shown(value))


def _shape_error(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C21.4", str(got))


# The checks below are C21.4's: a protocol runs them all before its first message.


def plane_stack(function: str, name: str, planes: Sequence[U64], lanes: int) -> U64:
    """Planes of ``lanes`` lanes stacked as ``(count, words)``; a plane of another size, or
    with a bit set at a lane position >= lanes, raises ShapeError citing C21.4."""
    words = plane_words(lanes)
    need = f"planes of {words} words ({lanes} lanes)"
    if any(np.shape(p) != (words,) for p in planes):
        raise _shape_error(function, name, need, sorted({np.shape(p) for p in planes}))
    if not planes:
        return np.zeros((0, words), dtype=np.uint64)
    stack = np.stack([np.asarray(p, dtype=np.uint64) for p in planes])
    # D21.1: a bit at a position >= N would be sent unmasked, since the material's planes
    # are zero there.
    if np.any(stack[:, -1] & ~top_word(lanes)):
        raise _shape_error(function, name, need, "a bit set at a lane position >= lanes")
    return stack


def check_triples(
    function: str, triples: tuple[AndTriples, AndTriples], lanes: int, count: int
) -> None:
    """C21.4: exactly ``count`` AND triples of ``lanes`` lanes, planes ``(count, words)``."""
    words = plane_words(lanes)
    for t in present(triples):
        if t.lanes != lanes or not t.a.shape == t.b.shape == t.c.shape == (count, words):
            raise _shape_error(
                function,
                "triples",
                f"{count} AND triples of {lanes} lanes",
                f"{t.lanes} lanes, planes {t.a.shape}, {t.b.shape}, {t.c.shape}",
            )


def check_mask(
    function: str, masks: tuple[MaskShares, MaskShares], lanes: int, bits: int, high: bool
) -> None:
    """C21.4: a mask of ``lanes`` lanes and width ``bits``, with a high part iff ``high``."""
    planes = (bits, plane_words(lanes))
    for m in present(masks):
        if (
            m.lanes != lanes
            or m.bits != bits
            or m.r.shape != (lanes,)
            or m.planes.shape != planes
            or (m.high is not None) != high
            or (m.high is not None and m.high.shape != (lanes,))
        ):
            raise _shape_error(
                function,
                "masks",
                f"a mask of {lanes} lanes, width {bits}, {'with' if high else 'without'} high part",
                f"{m.lanes} lanes, width {m.bits}, high part {m.high is not None}",
            )


def check_dabits(function: str, dabits: tuple[DaBitShares, DaBitShares], lanes: int) -> None:
    """C21.4: daBits of ``lanes`` lanes, a plane beta and q of shape ``(lanes,)``."""
    words = plane_words(lanes)
    for d in present(dabits):
        if d.lanes != lanes or d.beta.shape != (words,) or d.q.shape != (lanes,):
            raise _shape_error(
                function,
                "dabits",
                f"daBits of {lanes} lanes",
                f"{d.lanes} lanes, beta {d.beta.shape}, q {d.q.shape}",
            )


def draw_planes(rng: RandomSource, out: U64, lanes: int) -> None:
    """P21.1: fill ``out`` ``(count, words)`` with ``count`` uniform planes, in order, each
    ``plane_bytes(lanes)`` keystream bytes read little-endian with the bits >= lanes cleared."""
    if isinstance(rng, ChaCha20RandomSource):
        # The keystream is sequential, so one fill of count planes reads the same bytes as
        # count draws of plane_bytes(lanes), straight into the message buffer.
        rng.fill_uint64(out)
    else:
        for row in out.reshape(-1, out.shape[-1]):
            row[...] = np.frombuffer(rng.random_bytes(8 * row.size), dtype="<u8")
    clear_high_lanes(out, lanes)


def _send(label: str, part0: U64, part1: U64, channel: Channel) -> None:
    channel.send("dealer", "S0", label, pack_ring(part0))
    channel.send("dealer", "S1", label, pack_ring(part1))


def deal_and_triples(
    rng: RandomSource, lanes: int, count: int, *, channel: Channel
) -> tuple[AndTriples, AndTriples]:
    """Implements P21.1 (a): a^0, a^1, b^0, b^1, c^0; c^1 = (a^0 ^ a^1) & (b^0 ^ b^1) ^ c^0.

    Each server's message is one buffer ``[a | b | c]`` of shape ``(3, count, words)`` and
    its shares are views into it, so sending copies nothing.
    """
    check_lanes("Dealer.and_triples", "lanes", lanes)
    check_lanes("Dealer.and_triples", "count", count, low=0)
    buffers = [np.empty((3, count, plane_words(lanes)), dtype=np.uint64) for _ in range(2)]
    for part in range(3):
        draw_planes(rng, buffers[0][part], lanes)
        if part < 2:  # c^0 is drawn; c^1 is computed
            draw_planes(rng, buffers[1][part], lanes)
    (a0, b0, c0), (a1, b1, c1) = buffers
    np.bitwise_xor(a0, a1, out=c1)
    c1 &= b0 ^ b1
    c1 ^= c0
    _send("offline/and", buffers[0], buffers[1], channel)
    return AndTriples(lanes, a0, b0, c0), AndTriples(lanes, a1, b1, c1)


def deal_masks(
    rng: RandomSource, lanes: int, bits: int, *, high: bool, channel: Channel
) -> tuple[MaskShares, MaskShares]:
    """Implements P21.1 (b): r^0, r^1, the planes rho^0_j; rho^1_j = r_j ^ rho^0_j; then, with
    high part, h^0 and h^1 = floor(r / 2^bits) - h^0.

    Each server's message is one buffer ``[r | rho | h]`` and its shares are views into it.
    """
    check_lanes("Dealer.masks", "lanes", lanes)
    check_lanes("Dealer.masks", "bits", bits, high=RING_BITS - 1 if high else RING_BITS)
    words = plane_words(lanes)
    end = lanes + bits * words
    buffers = [np.empty(end + (lanes if high else 0), dtype=np.uint64) for _ in range(2)]
    r0, r1 = buffers[0][:lanes], buffers[1][:lanes]
    fill_ring_elements(rng, r0)
    fill_ring_elements(rng, r1)
    r = r0 + r1
    rho0, rho1 = (b[lanes:end].reshape(bits, words) for b in buffers)
    draw_planes(rng, rho0, lanes)
    np.bitwise_xor(planes_of(r, bits), rho0, out=rho1)
    h0: U64 | None = None
    h1: U64 | None = None
    if high:
        h0, h1 = buffers[0][end:], buffers[1][end:]
        fill_ring_elements(rng, h0)
        r >>= np.uint64(bits)
        np.subtract(r, h0, out=h1)
    _send("offline/masks", buffers[0], buffers[1], channel)
    return MaskShares(lanes, bits, r0, rho0, h0), MaskShares(lanes, bits, r1, rho1, h1)


def deal_dabits(
    rng: RandomSource, lanes: int, *, channel: Channel
) -> tuple[DaBitShares, DaBitShares]:
    """Implements P21.1 (c): the planes beta^0, beta^1, then q^0; q^1 = beta - q^0.

    Each server's message is one buffer ``[beta | q]`` and its shares are views into it.
    """
    check_lanes("Dealer.dabits", "lanes", lanes)
    words = plane_words(lanes)
    buffers = [np.empty(words + lanes, dtype=np.uint64) for _ in range(2)]
    beta0, beta1 = buffers[0][:words], buffers[1][:words]
    draw_planes(rng, beta0, lanes)
    draw_planes(rng, beta1, lanes)
    q0, q1 = buffers[0][words:], buffers[1][words:]
    fill_ring_elements(rng, q0)
    np.subtract(lane_bits(beta0 ^ beta1, lanes), q0, out=q1)
    _send("offline/dabits", buffers[0], buffers[1], channel)
    return DaBitShares(lanes, beta0, q0), DaBitShares(lanes, beta1, q1)
