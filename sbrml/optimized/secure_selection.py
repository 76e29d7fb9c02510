"""Ranks, Krum selection and row products on shares, on uint64 arrays (spec/22, P22.4-P22.7).

Same API, messages and bytes as ``sbrml.reference.secure_selection`` (C22.2, C22.4): every function
takes the pair ``(share of S0, share of S1)`` and returns the pair of output shares. The pairs
of a rank are compared in one batch of lanes (one ``less_than_zero`` for every group), ranks
are row and column sums of the dense matrix of comparison bits, and ``row_mul`` sums the rows
with one fused pass per row. Every shape is checked before the first message (C22.3); arrays
already sent are never written to, since the channel keeps views of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from sbrml.core.channel import Channel, each, present
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError, shown
from sbrml.core.network import gate_count
from sbrml.optimized.beaver import RowTriples, TripleShares, beaver_mul
from sbrml.optimized.channel import exchange_ring
from sbrml.optimized.comparison import bit_to_ring, less_than_zero
from sbrml.optimized.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
)
from sbrml.optimized.ring import U64

RANK_WIDTH = 62
Pair = tuple[U64, U64]

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


def _shape_of(x: Any) -> tuple[int, ...] | None:
    """The array shape of ``x``, or None for a ragged nesting NumPy cannot shape."""
    try:
        return tuple(int(n) for n in np.shape(x))
    except ValueError:
        return None


def _pair_of(
    function: str, name: str, x: Sequence[ArrayLike], shape: tuple[int, ...], need: str
) -> Pair:
    """Both shares as uint64 arrays of ``shape``, else ShapeError citing C22.3."""
    if len(x) != 2:
        raise _shape(function, name, need, f"{len(x)} shares")
    # A server this process does not play has None (spec section 23) and keeps it.
    got = [_shape_of(share) for share in x if share is not None]
    if not got or any(g != shape for g in got):
        raise _shape(function, name, need, got)
    out = [None if share is None else np.asarray(share, dtype=np.uint64) for share in x]
    return out[0], out[1]


def _is_negative(x: Pair, width: int, dealer: SelectionDealer, channel: Channel) -> Pair:
    """Shares of [x < 0] per lane: P21.4 then P21.5, material requested as in P22.1."""
    lanes = int(present(x)[0].shape[0])
    masks = dealer.masks(lanes, width + 1, high=False, channel=channel)
    triples = dealer.and_triples(lanes, gate_count(width), channel=channel)
    dabits = dealer.dabits(lanes, channel=channel)
    bits = less_than_zero(x, masks, triples, width=width, channel=channel)
    return bit_to_ring(bits, dabits, channel=channel)


def _below(rho: Pair, bound: int, width: int, dealer: SelectionDealer, channel: Channel) -> Pair:
    """Shares of [rho < bound] for a public bound, |rho - bound| < 2^width (P22.5 steps 1, 3)."""
    shifted = each(channel, lambda s: rho[s] - np.uint64(bound) if s == 0 else rho[s])
    return _is_negative(shifted, width, dealer, channel)


def ranks(
    values: tuple[ArrayLike, ArrayLike],
    *,
    groups: int,
    size: int,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.4: shares of each value's rank within its group, ties by index.

    ``values[s]`` has shape ``(groups * size,)``, group-major, each value in [0, 2^62); the
    result holds shares of rho_i = #{j : (u_j, j) < (u_i, i)} in the same layout (uint64).
    Shapes that do not match raise ShapeError citing C22.3 before any message.

    1. For every pair i < j of a group (lexicographic, groups in order), one lane:
       lt_ij = less_than_zero(u_j - u_i, width = 62) = [u_j < u_i], then bit_to_ring.
    2. rho_i = sum_{j<i} (1 - lt_ji) + sum_{j>i} lt_ij (local; S0 adds the constants).
    """
    _check_int("ranks", "groups", groups, 1, "C22.3")
    _check_int("ranks", "size", size, 1, "C22.3")
    count = groups * size
    u = _pair_of("ranks", "values", values, (count,), f"two shares of {count} elements")
    if size == 1:
        # One value per group ranks 0: there is nothing to compare and nothing to send.
        return each(channel, lambda s: np.zeros(groups, dtype=np.uint64))
    left, right = np.triu_indices(size, k=1)  # the pairs (i, j), i < j, in lexicographic order

    def diff(s: int) -> U64:
        grid = u[s].reshape(groups, size)
        return (grid[:, right] - grid[:, left]).reshape(-1)

    lt = _is_negative(each(channel, diff), RANK_WIDTH, dealer, channel)

    def rank_of(s: int) -> U64:
        # Step 2 as sums of the matrix L_ij = lt_ij (i < j): rho_i = row sum - column sum + i.
        dense = np.zeros((groups, size, size), dtype=np.uint64)
        dense[:, left, right] = lt[s].reshape(groups, -1)
        rank: U64 = dense.sum(axis=2, dtype=np.uint64)
        rank -= dense.sum(axis=1, dtype=np.uint64)
        if s == 0:
            rank += np.arange(size, dtype=np.uint64)
        return rank.reshape(-1)

    return each(channel, rank_of)


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
    dist: tuple[ArrayLike, ArrayLike],
    *,
    f: int,
    offset: int,
    m: int,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.5 steps 1-3: shares of sel_i = 1 for the m lowest Krum scores, else 0.

    ``dist[s]`` has shape ``(v, v)``: shares of D over V (every entry in [0, 2^62), which
    range validation with b_h guarantees, C8.15); ``offset`` is 2 (D6.3) or 1 (C6.6), so each
    score sums the q = v - f - offset smallest D_ij, j != i; ``m`` is 1 for Krum. Returns two
    uint64 arrays of shape ``(v,)``; the selection equals C6.4's on the exact D (C22.2).
    Raises ShapeError citing C22.3 for a non-square or mismatched ``dist``, ParameterError
    (C6.2, C6.6, C6.5) for f, offset, m, InsufficientWorkersError (C6.3, C6.6) below
    the convention's precondition; all before any message.

    1. Neighbours: P22.4 on the v groups {D_ij : j != i}; near_ij = [rho_ij < q] by
       less_than_zero(rho_ij - q, width = bit length of v) and bit_to_ring.
    2. Scores: score_i = sum_{j != i} beaver_mul(near_ij, D_ij), v(v-1) lanes row-major.
    3. Selection: P22.4 on the one group of scores; sel_i = [rho_i < m] as in step 1.
    """
    need = "two shares of a v x v matrix, v >= 1"
    shape = _shape_of(present(dist)[0]) if len(dist) == 2 and present(dist) else ()
    if shape is None or len(shape) != 2 or shape[0] < 1:
        raise _shape("krum_selection", "dist", need, shape)
    v = int(shape[0])
    d = _pair_of("krum_selection", "dist", dist, (v, v), need)
    _check_krum(v, f, offset, m)
    q, width = v - f - offset, v.bit_length()
    scores: Pair = each(channel, lambda s: np.zeros(v, dtype=np.uint64))
    if v > 1:
        # Step 1: row i's group lists D_ij for j != i in ascending j (row-major, diagonal out).
        off_diagonal = ~np.eye(v, dtype=np.bool_)
        flat = each(channel, lambda s: d[s][off_diagonal])
        rho = ranks(flat, groups=v, size=v - 1, dealer=dealer, channel=channel)
        near = _below(rho, q, width, dealer, channel)
        # Step 2: one Beaver product per off-diagonal entry, summed per row.
        triples = dealer.scalar_triples(v * (v - 1), channel=channel)
        terms = beaver_mul(near, flat, triples, channel=channel)
        scores = each(channel, lambda s: terms[s].reshape(v, v - 1).sum(axis=1, dtype=np.uint64))
    # Step 3: the m lowest scores, ties to the lower index (C6.4).
    rank = ranks(scores, groups=1, size=v, dealer=dealer, channel=channel)
    return _below(rank, m, width, dealer, channel)


def _summed_products(
    left: Pair, right: Pair, size: int, dealer: SelectionDealer, channel: Channel
) -> Pair:
    """Shares of the sums of consecutive runs of ``size`` lane products: one beaver_mul, its
    scalar triples requested just before (P22.7 steps 2 and 4)."""
    triples = dealer.scalar_triples(int(present(left)[0].size), channel=channel)
    terms = beaver_mul(left, right, triples, channel=channel)
    return each(channel, lambda s: terms[s].reshape(-1, size).sum(axis=1, dtype=np.uint64))


def nnm_krum_selection(
    dist: tuple[ArrayLike, ArrayLike],
    *,
    f: int,
    offset: int,
    m: int,
    nnm_f: int | None = None,
    dealer: SelectionDealer,
    channel: Channel,
) -> Pair:
    """Implements P22.7 steps 1-4: shares of the integer weights w_a = sum_b sel_b N_ba.

    ``dist[s]`` has shape ``(v, v)``: shares of D over V (D_ii = 0, every entry exact, which
    range validation with b_nnm guarantees, C8.15); NNM keeps the k = v - f nearest rows
    (D11.2), and Krum (m = 1) or Multi-Krum selects among the mixed points with ``offset`` 2
    (D6.3) or 1 (C6.6). Returns two uint64 arrays of shape ``(v,)``: shares of integers w_a in
    [0, m]; the composition's weights are p_a = w_a / (m k) (C11.6, C22.4). Raises ShapeError
    citing C22.3 for a non-square or mismatched ``dist``, ParameterError (C6.2, C6.6, C6.5) for
    f, offset, m, InsufficientWorkersError (C11.2, then C6.3 or C6.6) below the preconditions;
    all before any message.

    1. Neighbours: P22.4 on the v groups {D_ij : j = 0 .. v-1}; N_ij = [rho_ij < k] by
       less_than_zero(rho_ij - k, width = bit length of v) and bit_to_ring.
    2. Mixed distances: T_ba = sum_c N_bc D_ca (beaver_mul on v^3 lanes, lane (b v + a) v + c),
       Q_bc = sum_a T_ba N_ca (lane (b v + c) v + a), D''_bc = 2 Q_bc - Q_bb - Q_cc (local).
    3. Selection: P22.5 steps 1-3 on D'' (``krum_selection``).
    4. Weights: w_a = sum_b sel_b N_ba (beaver_mul on v^2 lanes, lane a v + b).
    """
    need = "two shares of a v x v matrix, v >= 1"
    shape = _shape_of(present(dist)[0]) if len(dist) == 2 and present(dist) else ()
    if shape is None or len(shape) != 2 or shape[0] < 1:
        raise _shape("nnm_krum_selection", "dist", need, shape)
    v = int(shape[0])
    d = _pair_of("nnm_krum_selection", "dist", dist, (v, v), need)
    mix_f = f if nnm_f is None else nnm_f
    _check_int("nnm_krum_selection", "nnm_f", mix_f, 0, "C6.2")
    if v <= 2 * mix_f:  # NNM's own precondition comes first (D11.6)
        raise InsufficientWorkersError(
            "nnm_krum_selection", "n", "n > 2f", "C11.2", f"n={v}, f={shown(mix_f)}"
        )
    _check_krum(v, f, offset, m, "nnm_krum_selection")
    k, width, cube = v - mix_f, v.bit_length(), (v, v, v)
    # Step 1: row i's group lists D_ij for every j, x_i itself included (D11.2).
    rho = ranks(
        each(channel, lambda s: d[s].reshape(-1)), groups=v, size=v, dealer=dealer, channel=channel
    )
    near = _below(rho, k, width, dealer, channel)
    n_mat = each(channel, lambda s: near[s].reshape(v, v))
    _both = partial(each, channel)
    # Step 2: T = N D (lane (b, a, c): N_bc D_ca), then Q = T N^T (lane (b, c, a): T_ba N_ca).
    t = _summed_products(
        _both(lambda s: np.broadcast_to(n_mat[s][:, None, :], cube).reshape(-1)),
        _both(lambda s: np.broadcast_to(d[s].T[None, :, :], cube).reshape(-1)),
        v,
        dealer,
        channel,
    )
    q = _summed_products(
        _both(lambda s: np.broadcast_to(t[s].reshape(v, v)[:, None, :], cube).reshape(-1)),
        _both(lambda s: np.broadcast_to(n_mat[s][None, :, :], cube).reshape(-1)),
        v,
        dealer,
        channel,
    )

    # C11.5 with L = k: D''_bc = 2 k^2 ||y_b - y_c||^2, exact in the ring under b_nnm.
    def mix(s: int) -> U64:
        qs = q[s].reshape(v, v)
        diagonal = np.diagonal(qs)
        out: U64 = np.uint64(2) * qs - diagonal[:, None] - diagonal[None, :]
        return out

    mixed = each(channel, mix)
    # Step 3: Krum's selection among the mixed points, ties to the lower index (C6.4).
    sel = krum_selection(mixed, f=f, offset=offset, m=m, dealer=dealer, channel=channel)
    # Step 4: w = sel^T N (lane (a, b): sel_b N_ba), one run of v products per input a.
    return _summed_products(
        _both(lambda s: np.broadcast_to(sel[s][None, :], (v, v)).reshape(-1)),
        _both(lambda s: np.ascontiguousarray(n_mat[s].T).reshape(-1)),
        v,
        dealer,
        channel,
    )


def _check_row_triples(triples: tuple[RowTriples, RowTriples]) -> tuple[int, int]:
    need = "row triples: a of shape (v,), b and c of shape (v, d), v, d >= 1"
    shape = np.shape(present(triples)[0].b)
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise _shape("row_mul", "triples", need, shape)
    rows, cols = int(shape[0]), int(shape[1])
    for t in present(triples):
        got = (np.shape(t.a), np.shape(t.b), np.shape(t.c))
        if got != ((rows,), (rows, cols), (rows, cols)):
            raise _shape("row_mul", "triples", need, got)
    return rows, cols


def row_mul(
    p: tuple[ArrayLike, ArrayLike],
    x: tuple[U64 | Sequence[U64], U64 | Sequence[U64]],
    triples: tuple[RowTriples, RowTriples],
    *,
    channel: Channel,
) -> Pair:
    """Implements P22.6: shares of sum_i p_i x_i (shape ``(d,)``) from shared weights and rows.

    ``p[s]`` has shape ``(v,)``; ``x[s]`` is a ``(v, d)`` array or a sequence of v rows of
    shape ``(d,)`` (the received share messages, never copied into a matrix); ``triples`` are
    row triples for v rows of d columns (``Dealer.row_triples``). Shapes that do not match
    raise ShapeError citing C22.3 before any message.

    1. S_s computes e^s_i = p^s_i - a^s_i and F^s_i = x^s_i - B^s_i; S0 sends e^0 || F^0,
       then S1 sends e^1 || F^1 (label ``beaver/open``); both open e and F.
    2. S_s outputs sum_i (C^s_i + e_i B^s_i + F_i a^s_i), and S0 adds sum_i e_i F_i.
    """
    rows, cols = _check_row_triples(triples)
    weights = _pair_of("row_mul", "p", p, (rows,), f"two shares of {rows} weights")
    for s in channel.servers():
        if len(x[s]) != rows or any(_shape_of(r) != (cols,) for r in x[s]):
            got = [_shape_of(r) for r in x[s]]
            raise _shape("row_mul", "x", f"two shares of {rows} rows of length {cols}", got)

    # Step 1: each server masks its shares straight into the one buffer it sends.
    def mask(s: int) -> U64:
        t = triples[s]
        out = np.empty(rows + rows * cols, dtype=np.uint64)
        np.subtract(weights[s], t.a, out=out[:rows])
        body = out[rows:].reshape(rows, cols)
        for i in range(rows):
            np.subtract(x[s][i], t.b[i], out=body[i])
        return out

    masked = each(channel, mask)
    _, mine, theirs = exchange_ring("beaver/open", masked[0], masked[1], channel)
    e = mine[:rows] + theirs[:rows]
    # Step 2, one row at a time: S0 folds e_i F_i into F_i (a^0_i + e_i), S1 takes F_i a^1_i.
    row = np.empty(cols, dtype=np.uint64)
    scaled = np.empty(cols, dtype=np.uint64)

    def output(s: int) -> U64:
        t = triples[s]
        out: U64 = t.c.sum(axis=0, dtype=np.uint64)
        # Array, not scalar, additions: they wrap mod 2^64 silently, as the ring requires.
        factor = t.a + e if s == 0 else t.a
        for i in range(rows):
            np.add(
                mine[rows + i * cols : rows + (i + 1) * cols],
                theirs[rows + i * cols : rows + (i + 1) * cols],
                out=row,
            )
            np.multiply(row, factor[i], out=scaled)
            out += scaled
            np.multiply(t.b[i], e[i], out=scaled)
            out += scaled
        return out

    return each(channel, output)
