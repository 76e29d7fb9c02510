"""Beaver multiplication with correlated randomness from a provider (spec/04-beaver.md).

Protocol functions never make their own randomness: a ``TripleProvider`` (the dealer here,
a Paillier-based provider later) hands each server its share of the material.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.params import RING_BITS
from sbrml.reference.channel import pack_ring
from sbrml.reference.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    deal_and_triples,
    deal_dabits,
    deal_masks,
)
from sbrml.reference.randomness import RandomSource, ring_elements
from sbrml.reference.ring import ring_add, ring_sub

Vector = list[int]
Matrix = list[list[int]]
SERVERS = ("S0", "S1")
MASK = (1 << RING_BITS) - 1


@dataclass(frozen=True)
class TripleShares:
    """One server's shares of ``count`` scalar triples c = a * b (D4.1)."""

    a: Vector
    b: Vector
    c: Vector


@dataclass(frozen=True)
class SquareShares:
    """One server's shares of ``count`` square pairs b = a^2 (D4.2)."""

    a: Vector
    b: Vector


@dataclass(frozen=True)
class RowTriples:
    """One server's shares of row triples C_i = a_i B_i for ``rows`` x ``cols`` (P22.6).

    ``a`` holds ``rows`` scalars, ``b`` and ``c`` are ``rows`` x ``cols`` matrices.
    """

    a: Vector
    b: Matrix
    c: Matrix


@dataclass(frozen=True)
class GramShares:
    """One server's shares of a matrix triple (A, C = A A^T), A of shape rows x cols (D4.3)."""

    a: Matrix
    c: Matrix

    def restrict(self, rows: Sequence[int]) -> GramShares:
        """Shares of (A[V], A[V] A[V]^T) for a subset V of rows (C4.5)."""
        return GramShares([self.a[i] for i in rows], [[self.c[i][j] for j in rows] for i in rows])


class TripleProvider(Protocol):
    """Implements D4.4: the source of correlated randomness, one pair of shares per request."""

    def scalar_triples(
        self, count: int, *, channel: Channel
    ) -> tuple[TripleShares, TripleShares]: ...

    def square_pairs(
        self, count: int, *, channel: Channel
    ) -> tuple[SquareShares, SquareShares]: ...

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]: ...


def _check_count(function: str, name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(function, name, f"an int {name} >= 1", "D4.4", shown(value))


def _flatten(m: Matrix) -> Vector:
    return [v for row in m for v in row]


def _rows(flat: Vector, cols: int) -> Matrix:
    return [flat[i : i + cols] for i in range(0, len(flat), cols)]


def gram(a: Matrix, b: Matrix) -> Matrix:
    """The ring product a b^T (D1.1), a and b of equal width."""
    return [[sum(x * y for x, y in zip(ra, rb, strict=True)) & MASK for rb in b] for ra in a]


def mat_add(a: Matrix, b: Matrix) -> Matrix:
    """Element-wise a + b in Z_2^64."""
    return [ring_add(ra, rb) for ra, rb in zip(a, b, strict=True)]


def mat_sub(a: Matrix, b: Matrix) -> Matrix:
    """Element-wise a - b in Z_2^64."""
    return [ring_sub(ra, rb) for ra, rb in zip(a, b, strict=True)]


def transpose(a: Matrix) -> Matrix:
    """The transpose of a square or rectangular matrix."""
    return [list(col) for col in zip(*a, strict=True)]


class Dealer:
    """Implements P4.1: a trusted dealer that draws triples from its rng and then goes away."""

    def __init__(self, *, rng: RandomSource):
        self._rng = rng

    def _send(
        self, label: str, parts0: Sequence[Vector], parts1: Sequence[Vector], channel: Channel
    ) -> None:
        # P4.1 last step: one message per server, its shares concatenated in field order.
        channel.send("dealer", "S0", label, b"".join(pack_ring(p) for p in parts0))
        channel.send("dealer", "S1", label, b"".join(pack_ring(p) for p in parts1))

    def scalar_triples(self, count: int, *, channel: Channel) -> tuple[TripleShares, TripleShares]:
        """P4.1 (a): draw a^0, a^1, b^0, b^1, c^0; set c^1 = (a^0 + a^1)(b^0 + b^1) - c^0."""
        _check_count("Dealer.scalar_triples", "count", count)
        a0, a1, b0, b1, c0 = (ring_elements(self._rng, count) for _ in range(5))
        c1 = [
            ((x0 + x1) * (y0 + y1) - z0) & MASK
            for x0, x1, y0, y1, z0 in zip(a0, a1, b0, b1, c0, strict=True)
        ]
        self._send("offline/triples", (a0, b0, c0), (a1, b1, c1), channel)
        return TripleShares(a0, b0, c0), TripleShares(a1, b1, c1)

    def square_pairs(self, count: int, *, channel: Channel) -> tuple[SquareShares, SquareShares]:
        """P4.1 (b): draw a^0, a^1, b^0; set b^1 = (a^0 + a^1)^2 - b^0."""
        _check_count("Dealer.square_pairs", "count", count)
        a0, a1, b0 = (ring_elements(self._rng, count) for _ in range(3))
        b1 = [((x0 + x1) * (x0 + x1) - z0) & MASK for x0, x1, z0 in zip(a0, a1, b0, strict=True)]
        self._send("offline/squares", (a0, b0), (a1, b1), channel)
        return SquareShares(a0, b0), SquareShares(a1, b1)

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]:
        """P4.1 (c): draw A^0, A^1 (row-major), C^0; set C^1 = (A^0 + A^1)(A^0 + A^1)^T - C^0."""
        _check_count("Dealer.gram_triple", "rows", rows)
        _check_count("Dealer.gram_triple", "cols", cols)
        a0 = _rows(ring_elements(self._rng, rows * cols), cols)
        a1 = _rows(ring_elements(self._rng, rows * cols), cols)
        c0 = _rows(ring_elements(self._rng, rows * rows), rows)
        a = mat_add(a0, a1)
        c1 = mat_sub(gram(a, a), c0)
        self._send(
            "offline/gram", (_flatten(a0), _flatten(c0)), (_flatten(a1), _flatten(c1)), channel
        )
        return GramShares(a0, c0), GramShares(a1, c1)

    def and_triples(
        self, lanes: int, count: int, *, channel: Channel
    ) -> tuple[AndTriples, AndTriples]:
        """P21.1 (a): ``count`` AND triples over ``lanes`` lanes."""
        return deal_and_triples(self._rng, lanes, count, channel=channel)

    def masks(
        self, lanes: int, bits: int, *, high: bool, channel: Channel
    ) -> tuple[MaskShares, MaskShares]:
        """P21.1 (b): a mask of width ``bits`` per lane, with its high part if ``high``."""
        return deal_masks(self._rng, lanes, bits, high=high, channel=channel)

    def dabits(self, lanes: int, *, channel: Channel) -> tuple[DaBitShares, DaBitShares]:
        """P21.1 (c): ``lanes`` daBits."""
        return deal_dabits(self._rng, lanes, channel=channel)

    def row_triples(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[RowTriples, RowTriples]:
        """P22.6: draw a^0, a^1 (rows), B^0, B^1 (rows x cols, row-major), C^0; set
        C^1 = (a^0 + a^1)(B^0 + B^1) - C^0; label ``offline/rows``, parts in order a, B, C."""
        _check_count("Dealer.row_triples", "rows", rows)
        _check_count("Dealer.row_triples", "cols", cols)
        a0, a1 = ring_elements(self._rng, rows), ring_elements(self._rng, rows)
        b0 = _rows(ring_elements(self._rng, rows * cols), cols)
        b1 = _rows(ring_elements(self._rng, rows * cols), cols)
        c0 = _rows(ring_elements(self._rng, rows * cols), cols)
        c1 = [
            [((x0 + x1) * (y0 + y1) - z0) & MASK for y0, y1, z0 in zip(r0, r1, t0, strict=True)]
            for x0, x1, r0, r1, t0 in zip(a0, a1, b0, b1, c0, strict=True)
        ]
        self._send(
            "offline/rows",
            (a0, _flatten(b0), _flatten(c0)),
            (a1, _flatten(b1), _flatten(c1)),
            channel,
        )
        return RowTriples(a0, b0, c0), RowTriples(a1, b1, c1)


def _open(label: str, masked0: Vector, masked1: Vector, channel: Channel) -> Vector:
    # Each server sends its masked share to the other; both add them (one batch, one round).
    channel.send("S0", "S1", label, pack_ring(masked0))
    channel.send("S1", "S0", label, pack_ring(masked1))
    return ring_add(masked0, masked1)


def _check_pair(
    function: str, name: str, pair: tuple[Sequence[int], Sequence[int]], length: int
) -> None:
    if len(pair[0]) != length or len(pair[1]) != length:
        raise ShapeError(
            function,
            name,
            f"two shares of length {length}",
            "D4.4",
            f"lengths {len(pair[0])}, {len(pair[1])}",
        )


def beaver_mul(
    x: tuple[Vector, Vector],
    y: tuple[Vector, Vector],
    triples: tuple[TripleShares, TripleShares],
    *,
    channel: Channel,
) -> tuple[Vector, Vector]:
    """Implements P4.2: shares of x * y (element-wise) from shares of x, y and a triple.

    1. S_s computes e^s = x^s - a^s and f^s = y^s - b^s.
    2. S_s sends (e^s, f^s) to the other server; both open e = x - a, f = y - b.
    3. S_s outputs z^s = c^s + e b^s + f a^s, and S0 adds e f.
    """
    count = len(triples[0].a)
    _check_pair("beaver_mul", "x", x, count)
    _check_pair("beaver_mul", "y", y, count)
    masked = [ring_sub(x[s], triples[s].a) + ring_sub(y[s], triples[s].b) for s in (0, 1)]
    opened = _open("beaver/open", masked[0], masked[1], channel)
    e, f = opened[:count], opened[count:]
    out = []
    for s in (0, 1):
        t = triples[s]
        z = [
            (c + ek * bk + fk * ak + (ek * fk if s == 0 else 0)) & MASK
            for c, ek, fk, ak, bk in zip(t.c, e, f, t.a, t.b, strict=True)
        ]
        out.append(z)
    return out[0], out[1]


def beaver_square(
    x: tuple[Vector, Vector], pairs: tuple[SquareShares, SquareShares], *, channel: Channel
) -> tuple[Vector, Vector]:
    """Implements P4.3: shares of x^2 (element-wise) from a square pair (a, b = a^2).

    1. S_s computes e^s = x^s - a^s.
    2. S_s sends e^s to the other server; both open e = x - a.
    3. S_s outputs z^s = b^s + 2 e a^s, and S0 adds e^2.
    """
    count = len(pairs[0].a)
    _check_pair("beaver_square", "x", x, count)
    e = _open("beaver/open", ring_sub(x[0], pairs[0].a), ring_sub(x[1], pairs[1].a), channel)
    out = []
    for s in (0, 1):
        p = pairs[s]
        out.append(
            [
                (bk + 2 * ek * ak + (ek * ek if s == 0 else 0)) & MASK
                for bk, ek, ak in zip(p.b, e, p.a, strict=True)
            ]
        )
    return out[0], out[1]


def beaver_gram(
    x: tuple[Matrix, Matrix], triple: tuple[GramShares, GramShares], *, channel: Channel
) -> tuple[Matrix, Matrix]:
    """Implements P4.4: shares of G = X X^T from a matrix triple (A, C = A A^T).

    1. S_s computes E^s = X^s - A^s.
    2. S_s sends E^s (row-major) to the other server; both open E = X - A.
    3. S_s computes M^s = E (A^s)^T and outputs G^s = C^s + M^s + (M^s)^T, and S0 adds E E^T.
    """
    rows, cols = len(triple[0].a), len(triple[0].a[0]) if triple[0].a else 0
    for s in (0, 1):
        a, c = triple[s].a, triple[s].c
        a_shape = (len(a), len(a[0]) if a else 0)
        c_shape = (len(c), len(c[0]) if c else 0)
        square = all(len(r) == rows for r in c)
        if (
            any(len(r) != cols for r in a)
            or a_shape != (rows, cols)
            or c_shape[0] != rows
            or not square
        ):
            raise ShapeError(
                "beaver_gram",
                f"triple[{s}]",
                f"A^{s} of shape ({rows}, {cols}) and C^{s} of shape ({rows}, {rows})",
                "P4.4",
                f"A^{s} {a_shape}, C^{s} {c_shape}",
            )
        if len(x[s]) != rows or any(len(r) != cols for r in x[s]):
            raise ShapeError(
                "beaver_gram", f"x[{s}]", f"a {rows} x {cols} matrix", "P4.4", f"{len(x[s])} rows"
            )
    masked = [_flatten(mat_sub(x[s], triple[s].a)) for s in (0, 1)]
    opened = _open("beaver/open", masked[0], masked[1], channel)
    # E has `rows` rows of `cols` entries, also when rows = 0 (C4.5's empty restriction).
    e = [opened[i * cols : (i + 1) * cols] for i in range(rows)]
    out = []
    for s in (0, 1):
        m = gram(e, triple[s].a)
        g = mat_add(mat_add(triple[s].c, m), transpose(m))
        if s == 0:
            g = mat_add(g, gram(e, e))
        out.append(g)
    return out[0], out[1]
