"""The shapes of the comparison networks: the carry tree of ``less_than_bits`` (its gate count,
spec/21-comparison.md P21.3) and Batcher's odd-even merge sorting network pruned to v values
(spec/22-secure-rules.md, D22.1).

Part of ``sbrml.core``: these are combinatorics, not arithmetic, and both trees must walk the
same gates and comparators in the same order for their transcripts to agree (C21.5, C22.1),
so they are defined once, here; the plaintext coordinate-wise rules sort with the same network.
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.errors import ParameterError, ShapeError, shown

Layer = list[tuple[int, int]]


def gate_count(bits: int) -> int:
    """P21.3: A(m), the AND gates of ``less_than_bits`` on m-bit operands: 2m - 3 for m >= 2,
    0 for m = 1 (each level pairs its nodes at two gates a pair, one on the last level)."""
    total, size = 0, bits
    while size > 1:
        total += 2 * (size // 2)
        size = size // 2 + size % 2
    return max(total - 1, 0)


def sorting_layers(v: int) -> list[Layer]:
    """Implements D22.1: the layers of comparators (i, j), i < j, that sort v values.

    Batcher's odd-even merge sort on P = 2^ceil(log2 v) positions, keeping the comparators
    whose second position is < v (positions >= v hold +infinity) and the non-empty layers.
    """
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ParameterError("sorting_layers", "v", "an int >= 1", "D22.1", shown(v))
    size = 1 << (v - 1).bit_length()
    layers: list[Layer] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            layer = [
                (i + j, i + j + k)
                for j in range(k % p, size - k, 2 * k)
                for i in range(min(k, size - j - k))
                if (i + j) // (2 * p) == (i + j + k) // (2 * p) and i + j + k < v
            ]
            if layer:
                layers.append(layer)
            k //= 2
        p *= 2
    return layers


def sorting_pairs(v: int) -> tuple[tuple[int, int], ...]:
    """D22.1's comparators for v values in order, the layers flattened."""
    return tuple(pair for layer in sorting_layers(v) for pair in layer)


def comparator_count(v: int) -> int:
    """The number of comparators of D22.1's network for v values."""
    return sum(len(layer) for layer in sorting_layers(v))


def check_layer(function: str, layer: Sequence[tuple[int, int]], v: int) -> None:
    """C22.3: a layer is L >= 1 comparators (i, j), 0 <= i < j < v, on disjoint positions."""
    if not isinstance(layer, Sequence) or not layer:
        raise ShapeError(function, "layer", "L >= 1 comparators (i, j)", "C22.3", shown(layer))
    seen: set[int] = set()
    for c, pair in enumerate(layer):
        ok = isinstance(pair, tuple | list) and len(pair) == 2
        ok = ok and all(isinstance(p, int) and not isinstance(p, bool) for p in pair)
        if not ok or not 0 <= pair[0] < pair[1] < v or {pair[0], pair[1]} & seen:
            need = f"disjoint comparators (i, j) with 0 <= i < j < v = {v}"
            raise ShapeError(function, f"layer[{c}]", need, "C22.3", shown(pair))
        seen.update(pair)


def check_width(function: str, name: str, value: int, low: int, high: int, clause: str) -> None:
    """A comparison width or coordinate bound: an int in [low, high], else ParameterError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ParameterError(function, name, f"an int in [{low}, {high}]", clause, shown(value))
