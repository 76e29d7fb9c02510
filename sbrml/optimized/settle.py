"""Selections in the clear settled on D5.3's bounded distances (C6.7, C6.8), optimized tree.

A choice of the m lowest scores is read off the bounds where they settle it, refined where
they do not, and moved to another view (D5.3 step 6) where its cut lies outside the range of
the current one: a far row of 1e300 makes the other rows' distances vanish at the scale that
holds its own, so the candidates at the cut are compared at theirs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml.optimized.bounded_distances import UNIT_ROUNDOFF, magnitudes, view_for
from sbrml.optimized.distances import Distances
from sbrml.reference.rules import FLOAT_TIE_TOLERANCE
from sbrml.reference.rules import tolerant_lowest as reference_tolerant_lowest

F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]
# relevant(lower, upper, lo, which): the entries of the (sub)matrix that can enter the scores
# of the candidates marked in ``which``, given the entries' bounds and the scores' lower bounds.
Relevant = Callable[[F64, F64, F64, Mask], Mask]

CERTAIN = 1e-11  # C6.8: margin over the tolerance before a choice counts as settled
TINY = 2.0**-900  # scores below this at a view are resolved at a finer view (step 6)
HUGE = 2.0**900  # and above this at a coarser one
MAX_VIEWS = 8  # moves to a candidate's scale one choice may make (they save refinement)
CUT_MOVES = 40  # moves to the cut's scale: more than there are views (multiples of 64)
WIDEN = (1.0 + FLOAT_TIE_TOLERANCE) * (1.0 + CERTAIN)


def tolerant_lowest(scores: F64, m: int) -> NDArray[np.intp]:
    """Implements C6.7 as the reference does; when the m + 1 smallest scores are pairwise
    further apart than the tolerance, that order is the sorted order (no loop in Python)."""
    order = np.argsort(scores, kind="stable")
    head = scores[order[: m + 1]]
    if np.all(head[1:] > head[:-1] + FLOAT_TIE_TOLERANCE * np.abs(head[:-1])):
        return np.asarray(order[:m], dtype=np.intp)
    return np.asarray(reference_tolerant_lowest(scores.tolist(), m), dtype=np.intp)


def rowwise_lowest(d: NDArray[Any], m: int) -> NDArray[np.intp]:
    """Per row, the m lowest entries: C6.4 for exact entries, C6.7 for floats (rows whose
    m + 1 smallest entries are pairwise further apart than the tolerance need no loop)."""
    order = np.argsort(d, axis=1, kind="stable")
    if d.dtype.kind != "f" or m >= d.shape[1]:
        return np.asarray(order[:, :m])
    head = np.take_along_axis(d, order[:, : m + 1], axis=1)
    plain = np.all(head[:, 1:] > head[:, :-1] + FLOAT_TIE_TOLERANCE * np.abs(head[:, :-1]), axis=1)
    out = np.array(order[:, :m])
    for i in np.flatnonzero(~plain).tolist():
        out[i] = reference_tolerant_lowest(d[i].tolist(), m)
    return out


def _cuts(lo: F64, hi: F64, m: int) -> tuple[F64, F64]:
    """The m-th smallest upper and the (m+1)-th smallest lower bound, along the last axis."""
    top = np.partition(hi, m - 1, axis=-1)[..., m - 1 : m]
    floor = np.partition(lo, m, axis=-1)[..., m : m + 1]
    return top, floor


def unsettled(lo: F64, hi: F64, m: int) -> Mask:
    """C6.8: candidates whose place relative to the m lowest is not settled by the bounds,
    and whose bounds are wider than CERTAIN (a score known that well needs no refinement).

    Along the last axis (each row of a matrix is its own choice). With lo <= score <= hi:
    a candidate with hi (1 + tol) below the (m+1)-th smallest lo is among the m chosen in
    any order C6.7 can take, one with lo above (1 + tol) times the m-th smallest hi is never
    chosen; the rest decide the choice and need tight scores. (Scores known to within
    CERTAIN swap places in C6.7's order only when the exact ones are within the tolerance
    plus 2 CERTAIN of each other: a tie, which C6.8 leaves open.) An infinite upper bound
    is always wide: the score lies beyond this view's range.
    """
    n = lo.shape[-1]
    if m >= n:
        return np.zeros(lo.shape, dtype=bool)
    top, floor = _cuts(lo, hi, m)
    with np.errstate(over="ignore", invalid="ignore"):
        wide = ~(hi <= lo * (1.0 + CERTAIN)) | ~np.isfinite(hi)
        settled = (hi * WIDEN < floor) | (lo > top * WIDEN)
    return np.asarray(wide & ~settled)


def _sure(lo: F64, hi: F64, m: int) -> int:
    """How many candidates the bounds alone put among the m chosen."""
    if m >= len(lo):
        return len(lo)
    floor = _cuts(lo, hi, m)[1]
    with np.errstate(over="ignore"):
        return int(np.count_nonzero(hi * WIDEN < floor))


def _largest(dist: Distances, idx: NDArray[np.intp], mask: Mask) -> int | None:
    """Refine the entries marked in ``mask`` (over idx x idx) and return the largest one's
    exponent e (the entry is q 4^e, q in [1, 4)), None if they are all 0."""
    full = np.zeros((dist.n, dist.n), dtype=bool)
    full[np.ix_(idx, idx)] = mask
    np.fill_diagonal(full, False)
    dist.refine(full)
    nonzero = full & (dist.q > 0)
    return int(dist.e[nonzero].max()) if nonzero.any() else None


def settle(
    dist: Distances,
    idx: NDArray[np.intp],
    score: Callable[[F64], NDArray[Any]],
    m: int,
    relevant: Relevant,
    *,
    rough: Callable[[F64], NDArray[Any]] | None = None,
    live: Mask | None = None,
) -> NDArray[np.intp]:
    """Implements C6.8 for one choice: the positions of the m candidates C6.7 chooses.

    ``score`` maps the idx x idx submatrix of 4^-k D to one score per candidate and must not
    decrease when an entry grows; ``rough`` (default ``score``) computes it on the bounds to
    within the rounding of a sum of len(idx) terms; ``live`` marks the candidates (default:
    all). Open candidates get the entries they read refined. Where they stay open because
    their scores lie beyond the view's range (below TINY or above HUGE), the view moves to
    the scale of one of them (refined first), near the cut; a choice whose every read entry
    is refined and still open moves to the view of its cut (D5.3 step 6).
    """
    bounds = rough or score
    slack = 4.0 * len(idx) * UNIT_ROUNDOFF  # the scores' own rounding (sums of <= n terms)
    sub = np.ix_(idx, idx)
    moves = {"rep": 0, "cut": 0}
    while True:
        lower, upper = dist.lo[sub], dist.hi[sub]
        with np.errstate(over="ignore", invalid="ignore"):
            lo = np.asarray(bounds(lower), dtype=np.float64) * (1.0 - slack)
            hi = np.asarray(bounds(upper), dtype=np.float64) * (1.0 + slack)
        pool = np.arange(len(lo)) if live is None else np.flatnonzero(live)
        wide = np.zeros(len(lo), dtype=bool)
        wide[pool[unsettled(lo[pool], hi[pool], m)]] = True
        if wide.any():
            state = (lower, upper, lo, hi)
            kind, target = _next_view(dist, idx, relevant, state, wide, pool, m, moves)
            if target is not None:
                dist.rescale(target)
                moves[kind] += 1
                continue
        need = relevant(lower, upper, lo, wide) & ~dist.refined[sub]
        np.fill_diagonal(need, False)
        if not need.any():
            with np.errstate(over="ignore"):  # scores beyond the range of the view: inf
                values = np.asarray(score(dist.value[sub]), dtype=np.float64)
            return pool[tolerant_lowest(values[pool], m)]
        full = np.zeros_like(dist.refined)
        full[sub] = need
        dist.refine(full)


def _next_view(
    dist: Distances,
    idx: NDArray[np.intp],
    relevant: Relevant,
    state: tuple[F64, F64, F64, F64],
    wide: Mask,
    pool: NDArray[np.intp],
    m: int,
    moves: dict[str, int],
) -> tuple[str, int | None]:
    """D5.3 step 6 for one choice: ("rep" or "cut", the view to move to), or a view None to
    refine at this one. Moves to a candidate's scale save refinement (at most MAX_VIEWS of
    them); moves to the cut's are what settles a choice beyond the range of the view (at
    most CUT_MOVES, more than there are views)."""
    lower, upper, lo, hi = state
    sure = _sure(lo[pool], hi[pool], m)
    rank = max(m - sure - 1, 0)
    far = wide & ((hi < TINY) | (lo > HUGE))
    if far.any() and moves["rep"] < MAX_VIEWS:
        # The cut lies beyond the view's range: move to the scale of an open candidate near it.
        cands = np.flatnonzero(far)
        order = cands[np.lexsort((cands, lo[cands], hi[cands]))]
        rep = int(order[min(rank, len(order) - 1)])
        which = np.zeros(len(lo), dtype=bool)
        which[rep] = True
        top = _largest(dist, idx, relevant(lower, upper, lo, which))
        if top is not None and view_for(top) != dist.shift:
            return "rep", view_for(top)
    need = relevant(lower, upper, lo, wide) & ~dist.refined[np.ix_(idx, idx)]
    np.fill_diagonal(need, False)
    if need.any() or moves["cut"] >= CUT_MOVES:
        return "cut", None
    # Every entry the open candidates read is refined and they are still open: their scores
    # are beyond this view's range. Move to the scale of the one at the cut.
    tops = []
    for k in np.flatnonzero(wide).tolist():
        which = np.zeros(len(lo), dtype=bool)
        which[k] = True
        top = _largest(dist, idx, relevant(lower, upper, lo, which))
        tops.append(-math.inf if top is None else top)
    tops.sort()
    chosen = tops[min(rank, len(tops) - 1)]
    if chosen == -math.inf or view_for(int(chosen)) == dist.shift:
        return "cut", None
    return "cut", view_for(int(chosen))


def row_entries(keep: int | None) -> Relevant:
    """``relevant`` for scores computed per row of D: a candidate reads its row; with
    ``keep`` (a sum of the keep smallest off-diagonal entries) only the entries whose lower
    bound is at most the keep-th smallest upper bound of the row can count."""

    def relevant(lower: F64, upper: F64, lo: F64, which: Mask) -> Mask:
        mask = np.repeat(which[:, None], lower.shape[1], axis=1)
        if keep is not None and len(lower) > 1:
            off = upper + np.diag(np.full(len(upper), np.inf))
            cut = np.partition(off, keep - 1, axis=1)[:, keep - 1 : keep]
            mask &= lower <= cut
        return np.asarray(mask)

    return relevant


def settle_lowest(
    dist: Distances,
    score: Callable[[F64], NDArray[Any]],
    m: int,
    rows: NDArray[np.intp] | None = None,
    *,
    rough: Callable[[F64], NDArray[Any]] | None = None,
    keep: int | None = None,
) -> NDArray[np.intp]:
    """Implements C6.8: the m lowest scores of ``rows`` (a score per row of the submatrix)
    by C6.7, settled by ``settle``. With ``keep`` the score is a sum of the ``keep`` smallest
    off-diagonal entries (``row_entries``). For one choice, a row equal to one of lower index
    has the same exact score and loses the tie (C6.4): it is no candidate, and equal rows
    need no refinement between them."""
    idx = np.arange(dist.n) if rows is None else np.asarray(rows, dtype=np.intp)
    live = ~dist.twins(idx) if m == 1 else None
    chosen = settle(dist, idx, score, m, row_entries(keep), rough=rough, live=live)
    return np.asarray(idx[chosen], dtype=np.intp)


def settle_rows(dist: Distances, m: int) -> NDArray[np.intp]:
    """Implements C6.8 for each row's own choice (NNM, D11.2): per row of D, the m lowest
    entries by C6.7 (n x m indices).

    Rows the bounds leave open get their open entries refined. When two or more rows are
    open beyond the view's range, the view moves to the scale of one of them (the centre if
    it is one); a row still open then is refined whole and decided at its own scale.
    """
    n = dist.n
    out = np.zeros((n, m), dtype=np.intp)
    todo = np.ones(n, dtype=bool)
    views = 0
    while todo.any():
        rows = np.flatnonzero(todo)
        lower, upper = dist.lo[rows], dist.hi[rows]
        wide = unsettled(lower, upper, m)
        done = ~wide.any(axis=1)
        out[rows[done]] = rowwise_lowest(dist.value[rows[done]], m)
        todo[rows[done]] = False
        rows, wide = rows[~done], wide[~done]
        lower, upper = lower[~done], upper[~done]
        far = rows[(wide & ((upper < TINY) | (lower > HUGE))).any(axis=1)]
        if len(far) >= 2 and views < MAX_VIEWS:
            rep = dist.centre if dist.centre in far else int(far[0])
            target = _row_view(dist, rep, m)
            if target != dist.shift:
                dist.rescale(target)
                views += 1
                continue
        need = np.zeros_like(dist.refined)
        need[rows] = wide & ~dist.refined[rows]
        if need.any():
            dist.refine(need)
            continue
        for r in rows.tolist():
            out[r] = tolerant_lowest(dist.row_at(r, _row_view(dist, r, m)), m)
            todo[r] = False
    return out


def _row_view(dist: Distances, r: int, m: int) -> int:
    """Refine row r whole; the view of its cut: its m-th smallest entry, or its smallest
    positive entry where the m-th is an exact 0.

    A refined entry is 0 only for rows equal bit for bit (D5.3 step 5), so such a cut is
    exact, and the exact zeros are chosen, ties by index, before any positive entry. At a
    coarse view a positive entry may have underflowed to 0 (a near row beside a far one) and
    would join that tie by its index; at its own view it lies in [1, 2^130).
    """
    dist.refine_rows([r])
    mags = magnitudes(dist.q[r], dist.e[r])
    cut = float(np.partition(mags, m - 1)[m - 1])
    if cut == -math.inf:
        cut = float(np.min(mags, initial=math.inf, where=mags > -math.inf))
    return view_for(math.floor(cut)) if math.isfinite(cut) else dist.shift
