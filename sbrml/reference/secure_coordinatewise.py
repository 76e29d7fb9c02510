"""Coordinate-wise median, trimmed mean and Meamed on shares (spec/22-secure-rules.md, P22.1-P22.3).

Both servers run in this process, as in ``sbrml.reference.comparison``: every function takes
the pair ``(share of S0, share of S1)`` and returns the pair of output shares. A server's share
of ``v`` rows of ``d`` coordinates is a list of ``v`` lists of ``d`` ring elements. The servers
sort every coordinate by the comparator network of D22.1 (``sbrml.core.network``), one layer
of ``L`` comparators at a time on ``L*d`` lanes, then add the rule's sorted positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.network import check_layer, check_width, gate_count, sorting_layers
from sbrml.core.params import RING_BITS, check_frac_bits
from sbrml.reference.beaver import Dealer, TripleShares, beaver_mul
from sbrml.reference.comparison import bit_to_ring, less_than_zero, select
from sbrml.reference.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
)
from sbrml.reference.coordinatewise import CoordinateMedian, Meamed, TrimmedMean
from sbrml.reference.ring import check_ring_vector, ring_add, ring_sub, to_signed
from sbrml.reference.rules import NeedsMajority

Rows = list[list[int]]
RowPair = tuple[Rows, Rows]
Vec = list[int]
Pair = tuple[Vec, Vec]
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
_MASK = (1 << RING_BITS) - 1


def _shape(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C22.3", str(got))


def _check_rows(function: str, rows: RowPair) -> tuple[int, int]:
    """C22.3: two shares of the same v >= 1 rows of d >= 1 ring elements; returns (v, d)."""
    if not isinstance(rows, tuple | list) or len(rows) != 2:
        raise _shape(function, "rows", "a pair (share of S0, share of S1)", type(rows).__name__)
    shape = None
    for s, share in enumerate(rows):
        if not isinstance(share, list) or not share:
            raise _shape(function, f"rows[{s}]", "a list of v >= 1 rows", type(share).__name__)
        d = len(share[0]) if isinstance(share[0], list) else 0
        if d < 1 or any(not isinstance(r, list) or len(r) != d for r in share):
            raise _shape(function, f"rows[{s}]", "rows of one length d >= 1", f"first row {d}")
        if shape is not None and (len(share), d) != shape:
            raise _shape(function, "rows[1]", f"{shape[0]} rows of {shape[1]}", (len(share), d))
        shape = (len(share), d)
        for i, r in enumerate(share):
            try:
                check_ring_vector(function, f"rows[{s}][{i}]", r)
            except ShapeError as err:
                raise _shape(function, err.parameter, "an int in [0, 2^64)", err.got) from None
    if shape is None:  # pragma: no cover - the loop above runs twice
        raise _shape(function, "rows", "two shares", "none")
    return shape


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
    for s in (0, 1):
        m, a, q, t = masks[s], ands[s], dabits[s], triples[s]
        if m.lanes != lanes or len(m.r) != lanes or m.bits != width + 1 or m.high is not None:
            got = f"{m.lanes} lanes, width {m.bits}"
            raise _shape(function, "masks", f"{lanes} lanes, width {width + 1}, no high", got)
        if a.lanes != lanes or not len(a.a) == len(a.b) == len(a.c) == gate_count(width):
            got = f"{len(a.a)} triples of {a.lanes} lanes"
            raise _shape(function, "and_triples", f"{gate_count(width)} of {lanes} lanes", got)
        if q.lanes != lanes or len(q.q) != lanes:
            raise _shape(function, "dabits", f"{lanes} lanes", f"{q.lanes} lanes")
        if not len(t.a) == len(t.b) == len(t.c) == lanes:
            raise _shape(function, "scalar_triples", f"{lanes} triples", len(t.a))


def _sign(
    function: str, x: Pair, width: int, dealer: Dealer, channel: Channel
) -> tuple[Pair, tuple[TripleShares, TripleShares]]:
    """Shares of [x < 0] as ring elements, for x in [-2^w, 2^w) on N lanes, and the N scalar
    triples of the product that follows (P22.1 steps 2-3, P22.3 step 1)."""
    lanes = len(x[0])
    masks, ands, dabits, triples = material = _layer_material(dealer, lanes, width, channel)
    _check_material(function, material, lanes, width)
    bit = less_than_zero(x, masks, ands, width=width, channel=channel)
    return bit_to_ring(bit, dabits, channel=channel), triples


def _layer(
    rows: RowPair,
    layer: Sequence[tuple[int, int]],
    *,
    width: int,
    dealer: Dealer,
    channel: Channel,
) -> RowPair:
    """P22.1 on checked rows and layer."""
    d = len(rows[0][0])
    # Lanes comparator-major: lane c*d + k is coordinate k of comparator c.
    a = [[v for i, _ in layer for v in rows[s][i]] for s in (0, 1)]
    b = [[v for _, j in layer for v in rows[s][j]] for s in (0, 1)]
    # Step 1: delta = b - a; steps 2-3: [swap] = [b < a] as a ring element.
    swap, triples = _sign(
        "compare_exchange", (ring_sub(b[0], a[0]), ring_sub(b[1], a[1])), width, dealer, channel
    )
    # Step 4: low = b where b < a, else a; high = a + b - low.
    low = select(swap, (b[0], b[1]), (a[0], a[1]), triples, channel=channel)
    out: RowPair = (list(rows[0]), list(rows[1]))
    for s in (0, 1):
        high = ring_sub(ring_add(a[s], b[s]), low[s])
        # Step 5: position i_c receives low, j_c receives high.
        for c, (i, j) in enumerate(layer):
            out[s][i] = low[s][c * d : (c + 1) * d]
            out[s][j] = high[c * d : (c + 1) * d]
    return out


def compare_exchange(
    rows: RowPair,
    layer: Sequence[tuple[int, int]],
    *,
    width: int,
    dealer: Dealer,
    channel: Channel,
) -> RowPair:
    """Implements P22.1: one layer of comparators (i_c, j_c) on shares of v rows of d values.

    ``rows[s]`` is server s's share, v lists of d ring elements; every difference
    ``row_j - row_i`` of the layer must lie in [-2^width, 2^width), 1 <= width <= 63. The
    layer's material (N = L*d lanes, comparator-major) is requested from ``dealer`` first.

    1. S_s computes delta^s = b^s - a^s (a at i_c, b at j_c).
    2. swap = less_than_zero(delta, width) (P21.4): [b < a].
    3. [swap] = bit_to_ring(swap) (P21.5).
    4. low = select([swap], b, a) (P21.6), high = a + b - low (local).
    5. Position i_c receives low, j_c receives high.

    Returns the new pair of shares (new outer lists; rows not in the layer are shared with
    the input). Raises ShapeError citing C22.3 for malformed rows or layer and
    ParameterError citing C21.4 for a width outside [1, 63], before any message.
    """
    v, _ = _check_rows("compare_exchange", rows)
    check_layer("compare_exchange", layer, v)
    check_width("compare_exchange", "width", width, 1, RING_BITS - 1, "C21.4")
    return _layer(rows, layer, width=width, dealer=dealer, channel=channel)


def secure_sort(rows: RowPair, *, width: int, dealer: Dealer, channel: Channel) -> RowPair:
    """Implements D22.1 with P22.1: shares of every coordinate's values in ascending order.

    ``rows`` as in ``compare_exchange``; every value's difference to another must lie in
    [-2^width, 2^width). Runs the layers of ``sorting_layers(v)`` in order (none for v = 1).
    """
    v, _ = _check_rows("secure_sort", rows)
    check_width("secure_sort", "width", width, 1, RING_BITS - 1, "C21.4")
    for layer in sorting_layers(v):
        rows = _layer(rows, layer, width=width, dealer=dealer, channel=channel)
    return rows


def _sum_rows(rows: Rows, d: int) -> Vec:
    return [sum(col) & _MASK for col in zip(*rows, strict=True)] if rows else [0] * d


def _meamed(
    y: RowPair, f: int, bits: int, d: int, dealer: Dealer, channel: Channel
) -> tuple[Vec, Vec]:
    """P22.3 on sorted shares: shares of the sum of the k = v - f values nearest the median."""
    v = len(y[0])
    k, mid = v - f, v // 2
    total = [_sum_rows(y[s][:k], d) for s in (0, 1)]
    if f == 0:
        return total[0], total[1]
    # 2m = 2 y_mid (odd v) or y_{mid-1} + y_mid (even v); lane t*d + j holds
    # 2 y_{t+k} + 2 y_t - 2 (2m) for t = 0 .. f-1 (the spec's s; s here is the server).
    lanes = []
    gaps = []
    for s in (0, 1):
        two_m = ring_add(y[s][mid - 1], y[s][mid]) if v % 2 == 0 else ring_add(y[s][mid], y[s][mid])
        lanes.append(
            [
                (2 * (hi + lo) - 2 * m) & _MASK
                for t in range(f)
                for hi, lo, m in zip(y[s][t + k], y[s][t], two_m, strict=True)
            ]
        )
        gaps.append([g for t in range(f) for g in ring_sub(y[s][t + k], y[s][t])])
    # Step 1: move_t = [y_{t+k} - m < m - y_t], as a ring element.
    move, triples = _sign(
        "coordinatewise_numerator", (lanes[0], lanes[1]), bits + 3, dealer, channel
    )
    # Step 2: S = sum_{r<k} y_r + sum_t [move_t] (y_{t+k} - y_t).
    shifts = beaver_mul(move, (gaps[0], gaps[1]), triples, channel=channel)
    for s in (0, 1):
        total[s] = ring_add(
            total[s], _sum_rows([shifts[s][t * d : (t + 1) * d] for t in range(f)], d)
        )
    return total[0], total[1]


def coordinatewise_numerator(
    name: str,
    f: int,
    rows: RowPair,
    *,
    bits: int,
    dealer: Dealer,
    channel: Channel,
) -> tuple[Pair, int]:
    """Implements P22.2 (and P22.3): shares of the numerator S (d coordinates) and the public
    divisor q of a coordinate-wise rule on the shares of the v rows of V.

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
    v, d = _check_rows("coordinatewise_numerator", rows)
    rule.check_n(v, "coordinatewise_numerator")
    y = secure_sort(rows, width=bits + 1, dealer=dealer, channel=channel)
    mid = v // 2
    if name == "median":
        if v % 2:
            return (list(y[0][mid]), list(y[1][mid])), 1
        return (ring_add(y[0][mid - 1], y[0][mid]), ring_add(y[1][mid - 1], y[1][mid])), 2
    if name == "trimmed-mean":
        kept = (_sum_rows(y[0][f : v - f], d), _sum_rows(y[1][f : v - f], d))
        return kept, v - 2 * f
    return _meamed(y, f, bits, d, dealer, channel), v - f


def publish(numerator: Sequence[int], q: int, frac_bits: int) -> list[float]:
    """Implements P22.2's output: z_k = (S_k / q) * 2^-F, S_k the signed value of a ring element.

    ``numerator`` is the reconstructed S (d ring elements), ``q >= 1`` the public divisor.
    S / q is the correctly rounded double quotient of the two integers (Python's int true
    division), then scaled exactly by ldexp, so both trees publish the same doubles.
    """
    check_ring_vector("publish", "numerator", numerator)
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise ParameterError("publish", "q", "an int >= 1", "P22.2", shown(q))
    check_frac_bits("publish", frac_bits)
    return [math.ldexp(to_signed(s) / q, -frac_bits) for s in numerator]
