"""Ranks, Krum selection and row products on shares (spec/22-secure-rules.md, P22.4-P22.7).

Krum and Multi-Krum without revealing ``D``: the servers rank each row's distances (P22.4),
keep the ``q`` nearest as shared bits, sum them into shared scores, rank the scores and turn
the ``m`` lowest into a shared selection (P22.5); ``row_mul`` (P22.6) then forms the weighted
sum of the shared rows. After NNM (P22.7) the neighbour bits N mix D into the mixed points'
distances on shares, Krum selects among those, and N turns the selection into integer
weights. Both servers run in this process, as in ``sbrml.reference.beaver``: every function
takes the pair ``(share of S0, share of S1)`` and every value one server learns from the other
crosses the channel. Material is requested from ``dealer`` just before the step that uses it,
in the order the spec lists (C22.2, C22.4: both trees send identical transcripts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sbrml.core.channel import Channel
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError, shown
from sbrml.core.network import gate_count
from sbrml.core.params import RING_BITS
from sbrml.reference.beaver import RowTriples, TripleShares, beaver_mul
from sbrml.reference.channel import pack_ring
from sbrml.reference.comparison import bit_to_ring, less_than_zero
from sbrml.reference.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
)
from sbrml.reference.ring import ring_add, ring_sub

MASK = (1 << RING_BITS) - 1
RANK_WIDTH = 62
Vector = list[int]
Matrix = list[list[int]]
Pair = tuple[Vector, Vector]

__all__ = ["RANK_WIDTH", "krum_selection", "nnm_krum_selection", "ranks", "row_mul"]


class SelectionDealer(Protocol):
    """The material P22.4, P22.5 and P22.7 request: section 21's comparison material and
    D4.1's scalar triples."""

    def masks(
        self, lanes: int, bits: int, *, high: bool, channel: Channel
    ) -> tuple[MaskShares, MaskShares]: ...

    def and_triples(
        self, lanes: int, count: int, *, channel: Channel
    ) -> tuple[AndTriples, AndTriples]: ...

    def dabits(self, lanes: int, *, channel: Channel) -> tuple[DaBitShares, DaBitShares]: ...

    def scalar_triples(
        self, count: int, *, channel: Channel
    ) -> tuple[TripleShares, TripleShares]: ...


def _shape(function: str, name: str, need: str, got: object) -> ShapeError:
    return ShapeError(function, name, need, "C22.3", str(got))


def _check_int(function: str, name: str, value: object, low: int, clause: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ParameterError(function, name, f"an int {name} >= {low}", clause, shown(value))
    return value


def _check_vector_pair(function: str, name: str, x: Sequence[Sequence[int]], length: int) -> None:
    if len(x) != 2 or any(len(share) != length for share in x):
        got = [len(share) for share in x] if len(x) == 2 else f"{len(x)} shares"
        raise _shape(function, name, f"two shares of {length} elements", got)


def _check_matrix_pair(
    function: str, name: str, x: Sequence[Sequence[Sequence[int]]], rows: int, cols: int
) -> None:
    if len(x) != 2 or any(len(m) != rows or any(len(r) != cols for r in m) for m in x):
        got = [[len(r) for r in m] for m in x] if len(x) == 2 else f"{len(x)} shares"
        raise _shape(function, name, f"two shares of a {rows} x {cols} matrix", got)


def _is_negative(x: Pair, width: int, dealer: SelectionDealer, channel: Channel) -> Pair:
    """Shares of [x < 0] per lane: P21.4 then P21.5, material requested as in P22.1."""
    lanes = len(x[0])
    masks = dealer.masks(lanes, width + 1, high=False, channel=channel)
    triples = dealer.and_triples(lanes, gate_count(width), channel=channel)
    dabits = dealer.dabits(lanes, channel=channel)
    bits = less_than_zero(x, masks, triples, width=width, channel=channel)
    return bit_to_ring(bits, dabits, channel=channel)


def _below(rho: Pair, bound: int, width: int, dealer: SelectionDealer, channel: Channel) -> Pair:
    """Shares of [rho < bound] for a public bound, |rho - bound| < 2^width (P22.5 steps 1, 3)."""
    shifted = ([(r - bound) & MASK for r in rho[0]], list(rho[1]))
    return _is_negative(shifted, width, dealer, channel)


def _rank_pairs(size: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(size) for j in range(i + 1, size)]


def ranks(
    values: tuple[Vector, Vector],
    *,
    groups: int,
    size: int,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.4: shares of each value's rank within its group, ties by index.

    ``values`` holds both servers' shares of ``groups * size`` ring elements, group-major, each
    in [0, 2^62); the result holds shares of rho_i = #{j : (u_j, j) < (u_i, i)} in the same
    layout. Shapes that do not match raise ShapeError citing C22.3 before any message.

    1. For every pair i < j of a group (lexicographic, groups in order), one lane:
       lt_ij = less_than_zero(u_j - u_i, width = 62) = [u_j < u_i], then bit_to_ring.
    2. rho_i = sum_{j<i} (1 - lt_ji) + sum_{j>i} lt_ij (local; S0 adds the constants).
    """
    _check_int("ranks", "groups", groups, 1, "C22.3")
    _check_int("ranks", "size", size, 1, "C22.3")
    _check_vector_pair("ranks", "values", values, groups * size)
    plist = _rank_pairs(size)
    if not plist:
        # One value per group ranks 0: there is nothing to compare and nothing to send.
        return [0] * groups, [0] * groups
    diffs: list[Vector] = []
    for s in (0, 1):
        u = values[s]
        diffs.append(
            [(u[g * size + j] - u[g * size + i]) & MASK for g in range(groups) for i, j in plist]
        )
    lt = _is_negative((diffs[0], diffs[1]), RANK_WIDTH, dealer, channel)
    out: list[Vector] = []
    for s in (0, 1):
        rank = [0] * (groups * size)
        for g in range(groups):
            base, lane = g * size, g * len(plist)
            for k, (i, j) in enumerate(plist):
                bit = lt[s][lane + k]
                # Step 2: lane (i, j) adds [u_j < u_i] to rho_i and 1 - [u_j < u_i] to rho_j.
                rank[base + i] += bit
                rank[base + j] += (1 if s == 0 else 0) - bit
        out.append([r & MASK for r in rank])
    return out[0], out[1]


def _check_krum(v: int, f: int, offset: int, m: int, function: str = "krum_selection") -> None:
    _check_int(function, "f", f, 0, "C6.2")
    if isinstance(offset, bool) or offset not in (1, 2):
        raise ParameterError(
            function, "offset", "2 (blanchard) or 1 (byzfl)", "C6.6", shown(offset)
        )
    # Blanchard's convention needs n > 2f + 2 (C6.3), ByzFL's only n > 2f (C6.6).
    if v <= (2 * f + 2 if offset == 2 else 2 * f):
        condition, clause = ("n > 2f + 2", "C6.3") if offset == 2 else ("n > 2f", "C6.6")
        raise InsufficientWorkersError(function, "n", condition, clause, f"n={v}, f={shown(f)}")
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= v:
        raise ParameterError(function, "m", "an int 1 <= m <= n", "C6.5", f"m={shown(m)}, n={v}")


def krum_selection(
    dist: tuple[Matrix, Matrix],
    *,
    f: int,
    offset: int,
    m: int,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.5 steps 1-3: shares of sel_i = 1 for the m lowest Krum scores, else 0.

    ``dist`` holds both servers' shares of the v x v distance matrix D over V (every entry in
    [0, 2^62), which range validation with b_h guarantees, C8.15); ``offset`` is 2 (D6.3) or
    1 (C6.6), so each score sums the q = v - f - offset smallest D_ij, j != i; ``m`` is 1 for
    Krum. The selection equals C6.4's on the exact D (C22.2). Raises ShapeError citing C22.3
    for a non-square or mismatched ``dist``, ParameterError (C6.2, C6.6, C6.5) for f, offset,
    m, InsufficientWorkersError (C6.3, C6.6) below the convention's precondition; all before
    any message.

    1. Neighbours: P22.4 on the v groups {D_ij : j != i}; near_ij = [rho_ij < q] by
       less_than_zero(rho_ij - q, width = bit length of v) and bit_to_ring.
    2. Scores: score_i = sum_{j != i} beaver_mul(near_ij, D_ij), v(v-1) lanes row-major.
    3. Selection: P22.4 on the one group of scores; sel_i = [rho_i < m] as in step 1.
    """
    v = len(dist[0]) if len(dist) == 2 else 0
    if v < 1:
        raise _shape("krum_selection", "dist", "two shares of a v x v matrix, v >= 1", v)
    _check_matrix_pair("krum_selection", "dist", dist, v, v)
    _check_krum(v, f, offset, m)
    q, width = v - f - offset, v.bit_length()
    # Step 1: row i's group lists D_ij for j != i in ascending j.
    off_diagonal = [(i, j) for i in range(v) for j in range(v) if j != i]
    flat = ([dist[0][i][j] for i, j in off_diagonal], [dist[1][i][j] for i, j in off_diagonal])
    scores: Pair = ([0] * v, [0] * v)
    if v > 1:
        rho = ranks(flat, groups=v, size=v - 1, dealer=dealer, channel=channel)
        near = _below(rho, q, width, dealer, channel)
        # Step 2: one Beaver product per off-diagonal entry, summed per row.
        triples = dealer.scalar_triples(len(off_diagonal), channel=channel)
        terms = beaver_mul(near, flat, triples, channel=channel)
        scores = (
            [sum(terms[0][i * (v - 1) : (i + 1) * (v - 1)]) & MASK for i in range(v)],
            [sum(terms[1][i * (v - 1) : (i + 1) * (v - 1)]) & MASK for i in range(v)],
        )
    # Step 3: the m lowest scores, ties to the lower index (C6.4).
    rank = ranks(scores, groups=1, size=v, dealer=dealer, channel=channel)
    return _below(rank, m, width, dealer, channel)


def _both(part: Callable[[int], Vector]) -> Pair:
    """The pair (S0's vector, S1's vector), each computed by ``part(s)`` from its own shares."""
    return part(0), part(1)


def _summed_products(
    left: Pair, right: Pair, size: int, dealer: SelectionDealer, channel: Channel
) -> Pair:
    """Shares of the sums of consecutive runs of ``size`` lane products: one beaver_mul, its
    scalar triples requested just before (P22.7 steps 2 and 4)."""
    triples = dealer.scalar_triples(len(left[0]), channel=channel)
    terms = beaver_mul(left, right, triples, channel=channel)
    runs = range(len(left[0]) // size)
    return _both(lambda s: [sum(terms[s][r * size : (r + 1) * size]) & MASK for r in runs])


def nnm_krum_selection(
    dist: tuple[Matrix, Matrix],
    *,
    f: int,
    offset: int,
    m: int,
    nnm_f: int | None = None,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.7 steps 1-4: shares of the integer weights w_a = sum_b sel_b N_ba.

    ``dist`` holds both servers' shares of the v x v distance matrix D over V (D_ii = 0, every
    entry exact, which range validation with b_nnm guarantees, C8.15); NNM keeps the
    k = v - f nearest rows (D11.2), and Krum (m = 1) or Multi-Krum selects among the mixed
    points with ``offset`` 2 (D6.3) or 1 (C6.6). Returns shares of v integers w_a in [0, m];
    the composition's weights are p_a = w_a / (m k) (C11.6, C22.4). ``nnm_f`` is NNM's own f
    when it differs from the inner rule's ``f`` (``Compose`` keeps both; default: ``f``).
    Raises ShapeError citing
    C22.3 for a non-square or mismatched ``dist``, ParameterError (C6.2, C6.6, C6.5) for f,
    offset, m, InsufficientWorkersError (C11.2, then C6.3 or C6.6) below the preconditions;
    all before any message.

    1. Neighbours: P22.4 on the v groups {D_ij : j = 0 .. v-1}; N_ij = [rho_ij < k] by
       less_than_zero(rho_ij - k, width = bit length of v) and bit_to_ring.
    2. Mixed distances: T_ba = sum_c N_bc D_ca (beaver_mul on v^3 lanes, lane (b v + a) v + c),
       Q_bc = sum_a T_ba N_ca (lane (b v + c) v + a), D''_bc = 2 Q_bc - Q_bb - Q_cc (local).
    3. Selection: P22.5 steps 1-3 on D'' (``krum_selection``).
    4. Weights: w_a = sum_b sel_b N_ba (beaver_mul on v^2 lanes, lane a v + b).
    """
    v = len(dist[0]) if len(dist) == 2 else 0
    if v < 1:
        raise _shape("nnm_krum_selection", "dist", "two shares of a v x v matrix, v >= 1", v)
    _check_matrix_pair("nnm_krum_selection", "dist", dist, v, v)
    mix_f = f if nnm_f is None else nnm_f
    _check_int("nnm_krum_selection", "nnm_f", mix_f, 0, "C6.2")
    if v <= 2 * mix_f:  # NNM's own precondition comes first (D11.6)
        raise InsufficientWorkersError(
            "nnm_krum_selection", "n", "n > 2f", "C11.2", f"n={v}, f={shown(mix_f)}"
        )
    _check_krum(v, f, offset, m, "nnm_krum_selection")
    k, width, cube = v - mix_f, v.bit_length(), range(v)
    # Step 1: row i's group lists D_ij for every j, x_i itself included (D11.2).
    flat = _both(lambda s: [x for row in dist[s] for x in row])
    rho = ranks(flat, groups=v, size=v, dealer=dealer, channel=channel)
    near = _below(rho, k, width, dealer, channel)
    # Step 2: T = N D, then Q = T N^T, each entry one run of v products.
    t = _summed_products(
        _both(lambda s: [near[s][b * v + c] for b in cube for a in cube for c in cube]),
        _both(lambda s: [dist[s][c][a] for b in cube for a in cube for c in cube]),
        v,
        dealer,
        channel,
    )
    q = _summed_products(
        _both(lambda s: [t[s][b * v + a] for b in cube for c in cube for a in cube]),
        _both(lambda s: [near[s][c * v + a] for b in cube for c in cube for a in cube]),
        v,
        dealer,
        channel,
    )
    # C11.5 with L = k: D''_bc = 2 k^2 ||y_b - y_c||^2, exact in the ring under b_nnm.
    mixed = tuple(
        [
            [(2 * q[s][b * v + c] - q[s][b * v + b] - q[s][c * v + c]) & MASK for c in cube]
            for b in cube
        ]
        for s in (0, 1)
    )
    # Step 3: Krum's selection among the mixed points, ties to the lower index (C6.4).
    sel = krum_selection(
        (mixed[0], mixed[1]), f=f, offset=offset, m=m, dealer=dealer, channel=channel
    )
    # Step 4: w = sel^T N, one run of v products per input a.
    return _summed_products(
        _both(lambda s: [sel[s][b] for a in cube for b in cube]),
        _both(lambda s: [near[s][b * v + a] for a in cube for b in cube]),
        v,
        dealer,
        channel,
    )


def row_mul(
    p: tuple[Vector, Vector],
    x: tuple[Matrix, Matrix],
    triples: tuple[RowTriples, RowTriples],
    *,
    channel: Channel,
) -> Pair:
    """Implements P22.6: shares of sum_i p_i x_i (length d) from shared weights and rows.

    ``p`` holds shares of v weights, ``x`` shares of a v x d matrix, ``triples`` row triples
    for v rows of d columns (``Dealer.row_triples``). Shapes that do not match raise
    ShapeError citing C22.3 before any message.

    1. S_s computes e^s_i = p^s_i - a^s_i and F^s_i = x^s_i - B^s_i; S0 sends e^0 || F^0,
       then S1 sends e^1 || F^1 (label ``beaver/open``); both open e and F.
    2. S_s outputs sum_i (C^s_i + e_i B^s_i + F_i a^s_i), and S0 adds sum_i e_i F_i.
    """
    rows = len(triples[0].a)
    cols = len(triples[0].b[0]) if triples[0].b else 0
    if rows < 1 or cols < 1:
        raise _shape("row_mul", "triples", "row triples of at least 1 x 1", (rows, cols))
    for s in (0, 1):
        t = triples[s]
        if len(t.a) != rows:
            raise _shape("row_mul", "triples", f"{rows} scalars a", len(t.a))
        _check_matrix_pair("row_mul", "triples", (t.b, t.c), rows, cols)
    _check_vector_pair("row_mul", "p", p, rows)
    _check_matrix_pair("row_mul", "x", x, rows, cols)
    masked: list[Vector] = []
    for s in (0, 1):
        t = triples[s]
        e = ring_sub(p[s], t.a)
        big_f = [v for xi, bi in zip(x[s], t.b, strict=True) for v in ring_sub(xi, bi)]
        masked.append(e + big_f)
    # Step 1: one batch, one round (as beaver_mul's opening, P4.2).
    channel.send("S0", "S1", "beaver/open", pack_ring(masked[0]))
    channel.send("S1", "S0", "beaver/open", pack_ring(masked[1]))
    opened = ring_add(masked[0], masked[1])
    e_open = opened[:rows]
    f_open = [opened[rows + i * cols : rows + (i + 1) * cols] for i in range(rows)]
    out: list[Vector] = []
    for s in (0, 1):
        t = triples[s]
        acc = [0] * cols
        for i in range(rows):
            ei, ai, fi, bi, ci = e_open[i], t.a[i], f_open[i], t.b[i], t.c[i]
            for k in range(cols):
                term = ci[k] + ei * bi[k] + fi[k] * ai
                if s == 0:
                    term += ei * fi[k]
                acc[k] += term
        out.append([v & MASK for v in acc])
    return out[0], out[1]
