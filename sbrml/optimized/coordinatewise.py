"""Mean and coordinate-wise robust rules on NumPy arrays (spec/09-coordinatewise.md)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.network import sorting_pairs
from sbrml.optimized.distances import check_matrix, checked_distances
from sbrml.optimized.rules import (
    F64,
    check_distance_matrix,
    krum_float_scores,
    settle_lowest,
    tolerant_lowest,
)
from sbrml.reference.rules import NeedsMajority, check_f, need_workers


class Mean:
    """The arithmetic mean. Implements D9.1; weights 1/n whatever D is."""

    name = "mean"
    scale_invariant = True

    def __init__(self, f: int = 0):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "mean") -> None:
        """Implements D9.1: n > f."""
        need_workers(self.name, function, n, self.f, "n > f", n > self.f, "D9.1")

    def weights(self, d: ArrayLike, *, unit: int = 1, rng: Any = None) -> F64:
        n = check_distance_matrix(self.name, d).shape[0]
        self.check_n(n, self.name)
        return np.full(n, 1.0 / n)

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr = x if isinstance(x, np.ndarray) else None  # a list: check_matrix reads it (D6.1)
        if arr is not None and arr.ndim == 2 and arr.dtype == np.float64 and arr.size:
            # One pass: NaN and infinity make a column sum non-finite, and only then (or on
            # an overflow of finite values) does check_matrix look element by element.
            with np.errstate(over="ignore", invalid="ignore"):
                total = arr.sum(axis=0)
            if np.isfinite(total).all():
                self.check_n(arr.shape[0], self.name)
                total /= arr.shape[0]
                return np.asarray(total, dtype=np.float64)
        arr = check_matrix(self.name, "x", x)
        self.check_n(arr.shape[0], self.name)
        # Finite inputs whose column sums overflow (C9.7): the mean of those columns scaled.
        return column_means(arr)


def column_means(arr: NDArray[np.float64]) -> F64:
    """The mean of each column; columns whose sum overflows are summed again on values
    scaled by a power of two (C9.7), so finite inputs give a finite mean."""
    n = arr.shape[0]
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(arr.sum(axis=0) / n, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        shift = n.bit_length() + 1
        out[bad] = np.ldexp(np.ldexp(arr[:, bad], -shift).sum(axis=0) / n, shift)
    return out


# Columns per block, measured at 9 x 1.25M, 30 x 300k and 100 x 100k: the network's row-wise
# passes want long rows, np.sort along axis 0 wants the block to stay in cache.
NETWORK_MAX_N = 16  # up to here a sorting network beats np.sort along axis 0
NETWORK_BLOCK = 16384
SORT_BLOCK = 1024


@functools.cache
def sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Batcher's odd-even merge sort for n wires (D22.1, ``sbrml.core.network``): the
    compare-exchange pairs (i < j) in order, the same network the secure median runs."""
    return sorting_pairs(n)


def sort_columns(block: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each column sorted ascending: a sorting network of row-wise min/max for small n (rows
    are contiguous, so every step is one vectorised pass), np.sort along axis 0 beyond."""
    n = block.shape[0]
    if n > NETWORK_MAX_N:
        return np.sort(block, axis=0)
    out = np.array(block, dtype=np.float64)
    low = np.empty(out.shape[1])
    for i, j in sorting_network(n):
        np.minimum(out[i], out[j], out=low)
        np.maximum(out[i], out[j], out=out[j])
        out[i] = low
    return out


def by_sorted_blocks(arr: NDArray[np.float64], reduce: Any) -> F64:
    """``reduce(sort_columns(block))`` over column blocks, concatenated.

    NumPy's partition and median along axis 0 are slow on short columns; sorting cache-sized
    blocks was 2-3x faster at 9 x 1.25M and 100 x 100k (the median: 0.075 s against 0.166 s,
    and 0.053 s against 0.147 s), and the network again about 1.8x at n = 9 (0.041 s).
    """
    n, d = arr.shape
    block = NETWORK_BLOCK if n <= NETWORK_MAX_N else SORT_BLOCK
    out = np.empty(d, dtype=np.float64)
    for start in range(0, d, block):
        stop = min(d, start + block)
        out[start:stop] = reduce(sort_columns(arr[:, start:stop]), start, stop)
    return out


def middle(sorted_block: NDArray[np.float64]) -> F64:
    """The median of each sorted column, as np.median computes it (mean of the two middles);
    where the two middles' sum overflows, a/2 + b/2 (C9.7, the reference's half_sum)."""
    n = sorted_block.shape[0]
    if n % 2:
        return np.asarray(sorted_block[n // 2], dtype=np.float64)
    a, b = sorted_block[n // 2 - 1], sorted_block[n // 2]
    with np.errstate(over="ignore"):
        out = np.asarray((a + b) / 2, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        out[bad] = a[bad] / 2 + b[bad] / 2
    return out


class _CoordinateRule(NeedsMajority):
    clause = "C9.1"


class CoordinateMedian(_CoordinateRule):
    """Coordinate-wise median (Yin et al., ICML 2018). Implements D9.2."""

    name = "median"

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr = check_matrix(self.name, "x", x)
        self.check_n(arr.shape[0], self.name)
        return by_sorted_blocks(arr, lambda s, a, b: middle(s))


class TrimmedMean(_CoordinateRule):
    """Coordinate-wise trimmed mean (Yin et al., ICML 2018). Implements D9.3."""

    name = "trimmed-mean"

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr = check_matrix(self.name, "x", x)
        n = arr.shape[0]
        self.check_n(n, self.name)
        if self.f == 0:
            return column_means(arr)
        f = self.f
        return by_sorted_blocks(arr, lambda s, a, b: column_means(s[f : n - f]))


def mean_nearest_to_median(values: NDArray[np.float64], keep: int) -> F64:
    """Per column, the mean of the ``keep`` values closest to the median (ties: lower row first)."""

    def block(s: NDArray[np.float64], a: int, b: int) -> F64:
        part = values[:, a:b]
        med = middle(s)
        with np.errstate(over="ignore"):
            gap = np.abs(part - med)
            # |v - med| <= max - min: only columns whose range overflows can overflow a gap;
            # their gaps are all taken halved, which orders them alike (C9.7, gaps_to).
            wide = np.flatnonzero(~np.isfinite(s[-1] - s[0]))
        if wide.size:
            gap[:, wide] = np.abs(part[:, wide] / 2 - med[wide] / 2)
        # The keep-th smallest gap per column is the cut: every gap below it is taken, and of
        # the gaps equal to it the ones in the lowest rows, up to keep (a stable argsort's
        # choice, without the argsort: about 2x faster at n = 100).
        cut = np.sort(gap, axis=0)[keep - 1]
        below = gap < cut
        tied = gap == cut
        take = below | (tied & (np.cumsum(tied, axis=0) <= keep - below.sum(axis=0)))
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(np.where(take, part, 0.0).sum(axis=0) / keep, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size:  # C9.7: the kept values of these columns, scaled
            shift = keep.bit_length() + 1
            kept = np.where(take[:, bad], np.ldexp(part[:, bad], -shift), 0.0)
            out[bad] = np.ldexp(kept.sum(axis=0) / keep, shift)
        return out

    return by_sorted_blocks(values, block)


class Meamed(_CoordinateRule):
    """Mean around the median (Xie et al., 2018). Implements D9.4."""

    name = "meamed"

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr = check_matrix(self.name, "x", x)
        self.check_n(arr.shape[0], self.name)
        return mean_nearest_to_median(arr, arr.shape[0] - self.f)


class Bulyan(_CoordinateRule):
    """Bulyan (El Mhamdi et al., ICML 2018). Implements D9.5 and C9.3; requires n >= 4f + 3."""

    name = "bulyan"

    def check_n(self, n: int, function: str = "") -> None:
        """Implements C9.4: n >= 4f + 3."""
        need_workers(
            self.name, function or self.name, n, self.f, "n >= 4f + 3", n >= 4 * self.f + 3, "C9.4"
        )

    def select(self, d: ArrayLike) -> list[int]:
        """Step 1 (D9.5): the theta indices chosen by repeated Krum, in selection order."""
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        exact = arr.astype(object) if arr.dtype.kind in "iu" else arr

        def best(remaining: list[int], keep: int) -> int:
            sub = exact[np.ix_(remaining, remaining)]
            if sub.dtype != object:  # C6.7: a float D
                return remaining[int(tolerant_lowest(krum_float_scores(sub, keep), 1)[0])]
            off = sub[~np.eye(len(remaining), dtype=bool)].reshape(len(remaining), -1)
            scores = np.sort(off, axis=1)[:, :keep].sum(axis=1) if len(remaining) > 1 else [0]
            return remaining[int(np.argsort(np.asarray(scores), kind="stable")[0])]

        return self._repeat(arr.shape[0], best)

    def _repeat(self, n: int, best: Callable[[list[int], int], int]) -> list[int]:
        """C9.3: theta = n - 2f times, the best of the remaining set, which then loses it."""
        remaining = list(range(n))
        chosen: list[int] = []
        for _ in range(n - 2 * self.f):
            choice = best(remaining, max(1, len(remaining) - self.f - 2))
            chosen.append(choice)
            remaining.remove(choice)
        return chosen

    def __call__(self, x: ArrayLike, *, rng: Any = None) -> F64:
        arr, dist = checked_distances(self.name, x)
        self.check_n(arr.shape[0], self.name)

        def best(remaining: list[int], keep: int) -> int:
            rows = np.asarray(remaining, dtype=np.intp)
            score = functools.partial(krum_float_scores, keep=keep)
            return int(settle_lowest(dist, score, 1, rows, keep=keep)[0])  # C6.8

        chosen = self._repeat(arr.shape[0], best)
        return mean_nearest_to_median(arr[chosen], len(chosen) - 2 * self.f)
