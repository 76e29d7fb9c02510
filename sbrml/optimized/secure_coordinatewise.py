"""Coordinate-wise median, trimmed mean and Meamed on shares, on uint64 arrays (spec/22,
P22.1-P22.3).

Same API, messages and bytes as ``sbrml.reference.secure_coordinatewise`` (C22.1): a server's
share of ``v`` rows of ``d`` coordinates is a uint64 array of shape ``(v, d)``. One layer of
``L`` comparators runs as one batch of ``L*d`` lanes, comparator-major (lane ``c*d + k``), so a
layer costs a fixed number of NumPy passes whatever ``L`` and ``d`` are; ``secure_sort`` copies
the rows once and then updates its own copy in place, layer by layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.channel import Channel, each, present
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.network import check_layer, check_width, gate_count, sorting_layers
from sbrml.core.params import RING_BITS, check_frac_bits
from sbrml.optimized.beaver import Dealer, TripleShares, beaver_mul
from sbrml.optimized.comparison import bit_to_ring, less_than_zero
from sbrml.optimized.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    plane_words,
)
from sbrml.optimized.coordinatewise import CoordinateMedian, Meamed, TrimmedMean
from sbrml.optimized.ring import U64, as_ring, to_signed
from sbrml.reference.rules import NeedsMajority

RowPair = tuple[U64, U64]
Pair = tuple[U64, U64]
F64 = NDArray[np.float64]
Material = tuple[
    tuple[MaskShares, MaskShares],
    tuple[AndTriples, AndTriples],
    tuple[DaBitShares, DaBitShares],
    tuple[TripleShares, TripleShares],
]

__all__ = [
    "MAX_BITS",
    "RULES",
    "compare_exchange",
    "coordinatewise_numerator",
    "publish",
    "secure_sort",
]

# P22.2: the rules this module runs, by their registry names, and the class whose check_n
# states each one's precondition (C9.1).
RULES: dict[str, type[NeedsMajority]] = {
    "median": CoordinateMedian,
    "trimmed-mean": TrimmedMean,
    "meamed": Meamed,
}
# P22.3 compares at width b + 3 <= 63 (P21.4), so b is at most 60.
MAX_BITS = RING_BITS - 4
# Integers up to 2^53 in magnitude convert to float64 exactly.
_EXACT_FLOAT = 1 << 53


def _shape(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C22.3", str(got))


def _check_rows(function: str, rows: tuple[ArrayLike, ArrayLike]) -> tuple[RowPair, int, int]:
    """C22.3: two shares of the same v >= 1 rows of d >= 1 ring elements; returns them as
    uint64 arrays (no copy when they already are) with (v, d)."""
    if not isinstance(rows, tuple | list) or len(rows) != 2:
        raise _shape(function, "rows", "a pair (share of S0, share of S1)", type(rows).__name__)
    out = []
    for s, share in enumerate(rows):
        if share is None:  # a server this process does not play (spec section 23)
            out.append(share)
            continue
        try:
            arr = as_ring(function, f"rows[{s}]", share)
        except ShapeError as err:
            raise _shape(function, err.parameter, "an int in [0, 2^64)", err.got) from None
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise _shape(function, f"rows[{s}]", "a (v, d) array, v, d >= 1", arr.shape)
        out.append(arr)
    shapes = [a.shape for a in out if a is not None]
    if shapes[0] != shapes[-1]:
        raise _shape(function, "rows[1]", f"shape {shapes[0]}", shapes[-1])
    v, d = shapes[0]
    return (out[0], out[1]), int(v), int(d)


def _layer_material(dealer: Dealer, lanes: int, width: int, channel: Channel) -> Material:
    """P22.1's material for ``lanes`` lanes at width w, requested in the spec's order: a mask
    of width w + 1 without high part, A(w) AND triples, N daBits, N scalar triples."""
    masks = dealer.masks(lanes, width + 1, high=False, channel=channel)
    ands = dealer.and_triples(lanes, gate_count(width), channel=channel)
    dabits = dealer.dabits(lanes, channel=channel)
    triples = dealer.scalar_triples(lanes, channel=channel)
    return masks, ands, dabits, triples


def _check_material(function: str, material: Material, lanes: int, width: int) -> None:
    """C22.3: every part of the material has ``lanes`` lanes and width ``width``, checked
    before the layer's first message (the primitives would check some parts only later)."""
    masks, ands, dabits, triples = material
    words, gates = plane_words(lanes), gate_count(width)
    for s in (0, 1):
        if masks[s] is None:  # a server this process does not play (spec section 23)
            continue
        m, a, q, t = masks[s], ands[s], dabits[s], triples[s]
        if (
            m.lanes != lanes
            or m.r.shape != (lanes,)
            or m.bits != width + 1
            or m.planes.shape != (width + 1, words)
            or m.high is not None
        ):
            got = f"{m.lanes} lanes, width {m.bits}"
            raise _shape(function, "masks", f"{lanes} lanes, width {width + 1}, no high", got)
        if a.lanes != lanes or not a.a.shape == a.b.shape == a.c.shape == (gates, words):
            got = f"{len(a.a)} triples of {a.lanes} lanes"
            raise _shape(function, "and_triples", f"{gates} of {lanes} lanes", got)
        if q.lanes != lanes or q.q.shape != (lanes,) or q.beta.shape != (words,):
            raise _shape(function, "dabits", f"{lanes} lanes", f"{q.lanes} lanes")
        if not t.a.shape == t.b.shape == t.c.shape == (lanes,):
            raise _shape(function, "scalar_triples", f"{lanes} triples", t.a.shape)


def _sign(
    function: str, x: Pair, width: int, dealer: Dealer, channel: Channel
) -> tuple[Pair, tuple[TripleShares, TripleShares]]:
    """Shares of [x < 0] as ring elements, for x in [-2^w, 2^w) on N lanes, and the N scalar
    triples of the product that follows (P22.1 steps 2-3, P22.3 step 1)."""
    lanes = present(x)[0].shape[0]
    masks, ands, dabits, triples = material = _layer_material(dealer, lanes, width, channel)
    _check_material(function, material, lanes, width)
    bit = less_than_zero(x, masks, ands, width=width, channel=channel)
    return bit_to_ring(bit, dabits, channel=channel), triples


def _layer_in_place(
    work: RowPair,
    layer: Sequence[tuple[int, int]],
    *,
    width: int,
    dealer: Dealer,
    channel: Channel,
) -> None:
    """P22.1 on checked rows and layer, writing the result into ``work`` (never sent)."""
    first = np.array([i for i, _ in layer], dtype=np.intp)
    second = np.array([j for _, j in layer], dtype=np.intp)
    d = present(work)[0].shape[1]
    # Lanes comparator-major: row c of the (L, d) gather is comparator c, so lane c*d + k.
    a = each(channel, lambda s: work[s][first].reshape(-1))
    b = each(channel, lambda s: work[s][second].reshape(-1))
    # Step 1: delta = b - a; steps 2-3: [swap] = [b < a] as a ring element.
    delta = each(channel, lambda s: b[s] - a[s])
    swap, triples = _sign("compare_exchange", delta, width, dealer, channel)
    # Step 4: select([swap], b, a) is a + [swap](b - a): one beaver_mul of [swap] and delta
    # (P21.6, the same message); then low = a + prod and high = a + b - low = b - prod.
    prod = beaver_mul(swap, delta, triples, channel=channel)
    for s in channel.servers():
        low, high = a[s], b[s]
        low += prod[s]
        high -= prod[s]
        # Step 5: position i_c receives low, j_c receives high.
        work[s][first] = low.reshape(-1, d)
        work[s][second] = high.reshape(-1, d)


def compare_exchange(
    rows: tuple[ArrayLike, ArrayLike],
    layer: Sequence[tuple[int, int]],
    *,
    width: int,
    dealer: Dealer,
    channel: Channel,
) -> RowPair:
    """Implements P22.1: one layer of comparators (i_c, j_c) on shares of v rows of d values.

    ``rows[s]`` is server s's share, a uint64 array ``(v, d)``; every difference
    ``row_j - row_i`` of the layer must lie in [-2^width, 2^width), 1 <= width <= 63. The
    layer's material (N = L*d lanes, comparator-major) is requested from ``dealer`` first.

    1. S_s computes delta^s = b^s - a^s (a at i_c, b at j_c).
    2. swap = less_than_zero(delta, width) (P21.4): [b < a].
    3. [swap] = bit_to_ring(swap) (P21.5).
    4. low = select([swap], b, a) (P21.6), high = a + b - low (local).
    5. Position i_c receives low, j_c receives high.

    Returns new ``(v, d)`` arrays; the input is not written to. Raises ShapeError citing
    C22.3 for malformed rows or layer and ParameterError citing C21.4 for a width outside
    [1, 63], before any message.
    """
    shares, v, _ = _check_rows("compare_exchange", rows)
    check_layer("compare_exchange", layer, v)
    check_width("compare_exchange", "width", width, 1, RING_BITS - 1, "C21.4")
    work = each(channel, lambda s: shares[s].copy())
    _layer_in_place(work, layer, width=width, dealer=dealer, channel=channel)
    return work


def secure_sort(
    rows: tuple[ArrayLike, ArrayLike], *, width: int, dealer: Dealer, channel: Channel
) -> RowPair:
    """Implements D22.1 with P22.1: shares of every coordinate's values in ascending order.

    ``rows`` as in ``compare_exchange``; every value's difference to another must lie in
    [-2^width, 2^width). Runs the layers of ``sorting_layers(v)`` in order (none for v = 1)
    on one copy of the rows, and returns it (uint64 arrays ``(v, d)``).
    """
    shares, v, _ = _check_rows("secure_sort", rows)
    check_width("secure_sort", "width", width, 1, RING_BITS - 1, "C21.4")
    work = each(channel, lambda s: shares[s].copy())
    for layer in sorting_layers(v):
        _layer_in_place(work, layer, width=width, dealer=dealer, channel=channel)
    return work


def _sum_rows(rows: U64) -> U64:
    # uint64 sums wrap mod 2^64, which is the ring's addition.
    total: U64 = rows.sum(axis=0, dtype=np.uint64)
    return total


def _meamed(y: RowPair, f: int, bits: int, dealer: Dealer, channel: Channel) -> Pair:
    """P22.3 on sorted shares: shares of the sum of the k = v - f values nearest the median."""
    v, d = present(y)[0].shape
    k, mid = v - f, v // 2
    total = each(channel, lambda s: _sum_rows(y[s][:k]))
    if f == 0:
        return total
    two = np.uint64(2)

    def lane(s: int) -> U64:
        # 2m = 2 y_mid (odd v) or y_{mid-1} + y_mid (even v); lane t*d + j holds
        # 2 y_{t+k} + 2 y_t - 2 (2m) for t = 0 .. f-1.
        two_m = y[s][mid - 1] + y[s][mid] if v % 2 == 0 else y[s][mid] * two
        out = y[s][k:] + y[s][:f]
        out -= two_m
        out *= two
        return out.reshape(-1)

    lanes = each(channel, lane)
    gaps = each(channel, lambda s: (y[s][k:] - y[s][:f]).reshape(-1))
    # Step 1: move_t = [y_{t+k} - m < m - y_t], as a ring element.
    move, triples = _sign("coordinatewise_numerator", lanes, bits + 3, dealer, channel)
    # Step 2: S = sum_{r<k} y_r + sum_t [move_t] (y_{t+k} - y_t).
    shifts = beaver_mul(move, gaps, triples, channel=channel)
    for s in channel.servers():
        subtotal = total[s]
        subtotal += _sum_rows(shifts[s].reshape(f, d))
    return total


def coordinatewise_numerator(
    name: str,
    f: int,
    rows: tuple[ArrayLike, ArrayLike],
    *,
    bits: int,
    dealer: Dealer,
    channel: Channel,
) -> tuple[Pair, int]:
    """Implements P22.2 (and P22.3): shares of the numerator S (shape ``(d,)``, uint64) and
    the public divisor q of a coordinate-wise rule on the shares ``(v, d)`` of the rows of V.

    ``name`` is ``"median"``, ``"trimmed-mean"`` or ``"meamed"`` (the registry's names), ``f``
    the rule's f, ``bits`` the round's coordinate bound b (every value in [-2^b, 2^b)). The
    servers sort every coordinate (D22.1, P22.1 at width b + 1), then:

    - median: S = y_mid, q = 1 (odd v); S = y_{mid-1} + y_mid, q = 2 (even v);
    - trimmed mean: S = sum_{f <= r < v-f} y_r, q = v - 2f;
    - Meamed: P22.3, q = v - f.

    Raises ParameterError citing P22.2 for another name or a bound outside [0, 60], C6.2
    for a bad f, InsufficientWorkersError citing C9.1 when v <= 2f and ShapeError citing
    C22.3 for malformed rows, all before any message.
    """
    if name not in RULES:
        raise ParameterError(
            "coordinatewise_numerator", "name", f"one of {', '.join(RULES)}", "P22.2", shown(name)
        )
    rule = RULES[name](f)
    check_width("coordinatewise_numerator", "bits", bits, 0, MAX_BITS, "P22.2")
    shares, v, _ = _check_rows("coordinatewise_numerator", rows)
    rule.check_n(v, "coordinatewise_numerator")
    y = secure_sort(shares, width=bits + 1, dealer=dealer, channel=channel)
    mid = v // 2
    if name == "median":
        if v % 2:
            return each(channel, lambda s: y[s][mid].copy()), 1
        return each(channel, lambda s: y[s][mid - 1] + y[s][mid]), 2
    if name == "trimmed-mean":
        return each(channel, lambda s: _sum_rows(y[s][f : v - f])), v - 2 * f
    return _meamed(y, f, bits, dealer, channel), v - f


def publish(numerator: ArrayLike, q: int, frac_bits: int) -> F64:
    """Implements P22.2's output: z_k = (S_k / q) * 2^-F, S_k the signed value of a ring element.

    ``numerator`` is the reconstructed S (``d`` ring elements), ``q >= 1`` the public divisor;
    returns float64 ``(d,)``. S / q is the correctly rounded quotient: one IEEE division where
    S converts to float64 exactly (|S| <= 2^53), Python's int true division elsewhere; then
    the exact scaling by 2^-F, so both trees publish the same doubles.
    """
    ring = as_ring("publish", "numerator", numerator)
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ParameterError("publish", "q", "an int >= 1", "P22.2", shown(q))
    check_frac_bits("publish", frac_bits)
    signed = to_signed(ring.reshape(-1))
    quotient = signed.astype(np.float64) / float(q)
    wide = np.flatnonzero(np.abs(signed) > _EXACT_FLOAT)
    for i in wide.tolist():
        quotient[i] = int(signed[i]) / q
    return np.ldexp(quotient, -frac_bits).reshape(ring.shape)
