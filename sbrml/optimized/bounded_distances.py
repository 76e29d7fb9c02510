"""D5.3's bounded float distances in the clear (spec/05-distances.md), optimized tree only.

A *view* holds every squared distance times 4^-s for one power-of-four scale s: the Gram
pass's values with bounds (steps 2-3), overwritten by refined entries (step 5). Refined
entries are kept scale-free, as q * 4^e, so that a selection can move to the view where its
own cut lies (step 6) without computing them again, whatever the magnitudes of other rows.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

GRAM_BLOCK = 8192  # measured best of 8K-2M columns for 9 x 1.25M (26 ms against 44 ms unblocked)
UNIT_ROUNDOFF = 2.0**-53
SUBNORMAL = 2.0**-1074
LARGEST = sys.float_info.max
RECENTRE = 16.0  # D5.3 step 4: move the centre when it is this far out, in squared radii
PLAIN_LOW = 2.0**-960  # a block's sum of squares in [PLAIN_LOW, PLAIN_HIGH] needs no scaling
PLAIN_HIGH = 2.0**1000
NO_EXPONENT = -(2**40)  # the exponent recorded for an exact zero


def gram_error(d: int) -> float:
    """D5.3 step 3's gamma: every product y_ik y_jk passes through at most h = min(d, B) +
    ceil(d/B) additions (inside a block's BLAS product, then accumulating blocks), so each
    Gram entry is off by at most h u sum_k |y_ik y_jk| <= h u (N_i + N_j)/2; with the
    translation's and the last four roundings, |D^_ij - D_ij| <= (2h + 16) u (N_i + N_j)."""
    h = min(d, GRAM_BLOCK) + -(-d // GRAM_BLOCK)
    return (2 * h + 16) * UNIT_ROUNDOFF


def refine_error() -> float:
    """D5.3 step 5's relative error: one rounding in each difference and square, at most B - 1
    in a block's sum, one in the correctly rounded sum of the blocks (with slack)."""
    return (GRAM_BLOCK + 8) * UNIT_ROUNDOFF


class View(NamedTuple):
    """One Gram pass (D5.3 steps 2-3) at scale 4^-shift, seen from row ``centre``.

    ``value`` is D^ (inf where it left the float range), ``lo`` and ``hi`` bound the exact
    4^-shift D entrywise, ``gram`` is G (rows beyond the float range zeroed), ``finite`` says
    that no entry overflowed.
    """

    shift: int
    centre: int
    gram: F64
    value: F64
    lo: F64
    hi: F64
    finite: bool


def gram_view(arr: NDArray[np.float64], centre: int, shift: int) -> View:
    """D5.3 steps 2-3: D from the Gram matrix of y_i = 2^-shift (x_i - x_c), with bounds.

    Blocks of columns keep the translated copy in cache instead of allocating all of it. A
    scale-down (shift > 0) scales before translating, so that no difference overflows; a
    scale-up translates first (one rounding), so that a large common offset cannot overflow.
    Rows with a component beyond the float range at this scale keep no Gram entries: their
    distances are inf with the lower bound of step 3's norm gap.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return _gram_view(arr, centre, shift)


def _gram_view(arr: NDArray[np.float64], centre: int, shift: int) -> View:
    n, d = arr.shape
    g = np.zeros((n, n))
    lost = np.zeros(n, dtype=bool)
    for start in range(0, d, GRAM_BLOCK):
        cols = arr[:, start : start + GRAM_BLOCK]
        if shift > 0:
            block = np.ldexp(cols, -shift) - np.ldexp(cols[centre], -shift)
        elif shift == 0:
            block = cols - cols[centre]
        else:
            block = np.ldexp(cols - cols[centre], -shift)
            big = ~np.isfinite(block)
            if big.any():
                lost |= big.any(axis=1)
                block[big] = 0.0
        g += block @ block.T
    norms = np.diag(g).copy()
    over = lost | ~np.isfinite(norms)
    norms[over] = np.inf
    value = norms[:, None] + norms[None, :] - 2.0 * g
    value = 0.5 * (value + value.T)
    finite = bool(np.isfinite(value).all())
    bad = ~np.isfinite(value) | over[:, None] | over[None, :]
    value[bad] = np.inf
    np.fill_diagonal(value, 0.0)
    np.maximum(value, 0.0, out=value)
    floor = 16.0 * (d + 1) * SUBNORMAL  # eta: squares lost below the subnormals
    gamma = gram_error(d)
    bound = gamma * (norms[:, None] + norms[None, :]) + floor
    lo = np.maximum(value - bound, 0.0)
    lo[bad] = 0.0
    # Step 3's norm gap: D_ij >= (|y_i| - |y_j|)^2, which keeps far rows' distances large
    # where the Gram entries overflowed or cancelled.
    root_lo = np.sqrt(np.maximum(np.minimum(norms, LARGEST) * (1.0 - gamma) - floor, 0.0))
    root_hi = np.sqrt(norms * (1.0 + gamma) + floor)
    gap = np.maximum(root_lo[:, None] - root_hi[None, :], root_lo[None, :] - root_hi[:, None])
    gap = np.maximum(gap, 0.0)
    np.maximum(lo, np.minimum(gap * gap * (1.0 - 4.0 * UNIT_ROUNDOFF), LARGEST), out=lo)
    hi = value + bound
    hi[bad] = np.inf
    np.fill_diagonal(lo, 0.0)
    np.fill_diagonal(hi, 0.0)
    np.maximum(value, lo, out=value)  # the gap may say more than D^ - E: keep D^ in bounds
    g[over, :] = 0.0
    g[:, over] = 0.0
    return View(shift, centre, g, value, lo, hi, finite)


def central_row(value: F64) -> int:
    """The row whose median distance (the diagonal's 0 included) is smallest, lowest index
    first: with an honest majority, a row inside the honest points (D5.3 step 4)."""
    k = value.shape[0] // 2
    return int(np.argmin(np.partition(value, k, axis=1)[:, k]))


def recentred(arr: NDArray[np.float64], view: View) -> View:
    """D5.3 step 4: the pass again from the central row when the centre is far out."""
    n = arr.shape[0]
    if n <= 2:
        return view
    c = central_row(view.value)
    median = np.partition(view.value[c], n // 2)[n // 2]
    if view.value[view.centre, c] > RECENTRE * median:
        return gram_view(arr, c, view.shift)
    return view


def direct_distances(arr: NDArray[np.float64], i: int, js: NDArray[np.intp]) -> tuple[F64, I64]:
    """D5.3 step 5: ||x_i - x_j||^2 = q 4^e for j in js (q in [1, 4), or q = 0 for equal rows).

    Squares of the differences are summed per block of columns; a block whose sum is outside
    [PLAIN_LOW, PLAIN_HIGH] (or overflowed) is summed again on the differences scaled by a
    power of two (halved first if a difference overflowed), so that neither overflow nor
    underflow can lose the value; the block sums are added with a correctly rounded sum.
    """
    n, d = arr.shape
    every = len(js) == n
    blocks = -(-d // GRAM_BLOCK)
    sums = np.empty((len(js), blocks))
    exps = np.zeros((len(js), blocks), dtype=np.int64)
    for b, start in enumerate(range(0, d, GRAM_BLOCK)):
        cols = arr[:, start : start + GRAM_BLOCK]
        rows = cols if every else cols[js]
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            diff = rows - cols[i]
            np.multiply(diff, diff, out=diff)
            part = diff.sum(axis=1)
        sums[:, b] = part
        odd = np.flatnonzero(~((part >= PLAIN_LOW) & (part <= PLAIN_HIGH)))
        if odd.size:
            sums[odd, b], exps[odd, b] = _scaled_squares(rows[odd], cols[i])
    return _combine(sums, exps)


def _scaled_squares(rows: F64, centre: F64) -> tuple[F64, I64]:
    """(s, e) with sum_k (x_k - c_k)^2 = s 4^e per row, without overflow or underflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        diff = rows - centre
    extra = np.zeros(len(rows), dtype=np.int64)
    wide = ~np.isfinite(diff).all(axis=1)
    if wide.any():
        # Halving is exact but for subnormal components, far below such a sum's last bit.
        diff[wide] = rows[wide] / 2 - centre / 2
        extra[wide] = 1
    top = np.abs(diff).max(axis=1)
    exp = np.frexp(top)[1].astype(np.int64)
    scaled = np.ldexp(diff, -exp[:, None])
    with np.errstate(under="ignore"):
        s = np.einsum("ij,ij->i", scaled, scaled)
    return s, exp + extra


def _combine(sums: F64, exps: I64) -> tuple[F64, I64]:
    """(q, e) with q 4^e = sum_b sums_b 4^exps_b, q in [1, 4) or 0 (a correctly rounded sum
    of the parts brought to the largest one's exponent)."""
    mant, power = np.frexp(sums)
    total = power.astype(np.int64) + 2 * exps
    total[sums == 0] = NO_EXPONENT
    top = total.max(axis=1)
    with np.errstate(under="ignore"):
        parts = np.ldexp(mant, np.maximum(total - top[:, None], -2000).astype(np.int64))
    q = np.asarray([math.fsum(p) for p in parts.tolist()], dtype=np.float64)
    m2, p2 = np.frexp(q)
    big = p2.astype(np.int64) + np.where(q > 0, top, 0)
    e = (big - 1) // 2
    q = np.ldexp(m2, (big - 2 * e).astype(np.int64))
    e[q == 0] = 0
    return np.asarray(q, dtype=np.float64), e


def at_scale(q: F64, e: I64, shift: int) -> tuple[F64, F64, F64]:
    """Refined entries q 4^e as (value, lo, hi) at scale 4^-shift: the refinement's relative
    error, one rounding below the normal range, and LARGEST as the lower bound beyond it."""
    k = np.clip(2 * (e - shift), -2400, 2400).astype(np.int64)
    err = refine_error() + 4.0 * UNIT_ROUNDOFF  # the products below round too
    with np.errstate(over="ignore", under="ignore"):
        value = np.ldexp(q, k)
        lo = np.maximum(np.ldexp(q * (1.0 - err), k) - SUBNORMAL, 0.0)
        hi = np.ldexp(q * (1.0 + err), k) + SUBNORMAL
    lo = np.minimum(lo, LARGEST)
    zero = q == 0
    value[zero] = lo[zero] = hi[zero] = 0.0
    return np.asarray(value), np.asarray(lo), np.asarray(hi)


def view_for(exponent: int) -> int:
    """D5.3 step 6: the view for entries near 4^exponent, a multiple of 64 (a few views serve
    every selection, each computed once): such entries then lie in [1, 2^130)."""
    return exponent - exponent % 64


def magnitudes(q: ArrayLike, e: ArrayLike) -> F64:
    """log4 of q 4^e (-inf for 0), for ordering refined entries of any size."""
    with np.errstate(divide="ignore"):
        return np.asarray(np.log2(np.asarray(q)) / 2 + np.asarray(e), dtype=np.float64)
