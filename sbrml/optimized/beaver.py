"""Beaver multiplication with provider material, on uint64 arrays (spec/04-beaver.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sbrml.optimized.channel import Channel, pack_ring
from sbrml.optimized.randomness import RandomSource, ring_elements
from sbrml.optimized.ring import U64
from sbrml.reference.errors import ParameterError, ShapeError


@dataclass(frozen=True)
class TripleShares:
    """One server's shares of ``count`` scalar triples c = a * b (D4.1)."""

    a: U64
    b: U64
    c: U64


@dataclass(frozen=True)
class SquareShares:
    """One server's shares of ``count`` square pairs b = a^2 (D4.2)."""

    a: U64
    b: U64


@dataclass(frozen=True)
class GramShares:
    """One server's shares of a matrix triple (A, C = A A^T), A of shape rows x cols (D4.3).

    ``aat`` caches A^s (A^s)^T, which S0 may compute offline (C4.6) so that its online
    Gram step needs one ring matrix product instead of two.
    """

    a: U64
    c: U64
    aat: U64 | None = field(default=None, compare=False)

    def restrict(self, rows: Sequence[int]) -> GramShares:
        """Shares of (A[V], A[V] A[V]^T) for a subset V of rows (C4.5)."""
        idx = np.asarray(rows, dtype=np.intp)
        aat = None if self.aat is None else self.aat[np.ix_(idx, idx)]
        if len(idx) == self.a.shape[0] and np.array_equal(idx, np.arange(len(idx))):
            return self
        return GramShares(self.a[idx], self.c[np.ix_(idx, idx)], aat)

    def with_aat(self) -> GramShares:
        """The same shares with A^s (A^s)^T precomputed (C4.6, offline)."""
        return GramShares(self.a, self.c, self.a @ self.a.T)


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
        raise ParameterError(function, name, f"an int {name} >= 1", "D4.4", repr(value))


class Dealer:
    """Implements P4.1: a trusted dealer that draws triples from its rng and then goes away."""

    def __init__(self, *, rng: RandomSource):
        self._rng = rng

    def _send(
        self, label: str, parts0: Sequence[U64], parts1: Sequence[U64], channel: Channel
    ) -> None:
        # P4.1 last step: one message per server, its shares concatenated in field order.
        for server, parts in (("S0", parts0), ("S1", parts1)):
            payload = np.concatenate([p.reshape(-1) for p in parts]) if len(parts) > 1 else parts[0]
            channel.send("dealer", server, label, pack_ring(payload))

    def scalar_triples(self, count: int, *, channel: Channel) -> tuple[TripleShares, TripleShares]:
        """P4.1 (a): draw a^0, a^1, b^0, b^1, c^0; set c^1 = (a^0 + a^1)(b^0 + b^1) - c^0."""
        _check_count("Dealer.scalar_triples", "count", count)
        a0, a1, b0, b1, c0 = (ring_elements(self._rng, count) for _ in range(5))
        c1 = (a0 + a1) * (b0 + b1) - c0
        self._send("offline/triples", (a0, b0, c0), (a1, b1, c1), channel)
        return TripleShares(a0, b0, c0), TripleShares(a1, b1, c1)

    def square_pairs(self, count: int, *, channel: Channel) -> tuple[SquareShares, SquareShares]:
        """P4.1 (b): draw a^0, a^1, b^0; set b^1 = (a^0 + a^1)^2 - b^0."""
        _check_count("Dealer.square_pairs", "count", count)
        a0, a1, b0 = (ring_elements(self._rng, count) for _ in range(3))
        a = a0 + a1
        b1 = a * a - b0
        self._send("offline/squares", (a0, b0), (a1, b1), channel)
        return SquareShares(a0, b0), SquareShares(a1, b1)

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]:
        """P4.1 (c): draw A^0, A^1 (row-major), C^0; set C^1 = (A^0 + A^1)(A^0 + A^1)^T - C^0."""
        _check_count("Dealer.gram_triple", "rows", rows)
        _check_count("Dealer.gram_triple", "cols", cols)
        a0 = ring_elements(self._rng, rows * cols).reshape(rows, cols)
        a1 = ring_elements(self._rng, rows * cols).reshape(rows, cols)
        c0 = ring_elements(self._rng, rows * rows).reshape(rows, rows)
        a = a0 + a1
        c1 = a @ a.T - c0
        del a
        self._send("offline/gram", (a0, c0), (a1, c1), channel)
        return GramShares(a0, c0), GramShares(a1, c1)


def _open(label: str, masked0: U64, masked1: U64, channel: Channel) -> U64:
    # Each server sends its masked share to the other; both add them (one batch, one round).
    channel.send("S0", "S1", label, pack_ring(masked0))
    channel.send("S1", "S0", label, pack_ring(masked1))
    return masked0 + masked1


def _check_pair(function: str, name: str, pair: tuple[U64, U64], shape: tuple[int, ...]) -> None:
    if pair[0].shape != shape or pair[1].shape != shape:
        raise ShapeError(
            function,
            name,
            f"two shares of shape {shape}",
            "D4.4",
            f"shapes {pair[0].shape}, {pair[1].shape}",
        )


def beaver_mul(
    x: tuple[U64, U64],
    y: tuple[U64, U64],
    triples: tuple[TripleShares, TripleShares],
    *,
    channel: Channel,
) -> tuple[U64, U64]:
    """Implements P4.2: shares of x * y (element-wise) from shares of x, y and a triple."""
    count = triples[0].a.shape
    _check_pair("beaver_mul", "x", x, count)
    _check_pair("beaver_mul", "y", y, count)
    masked = [np.concatenate([x[s] - triples[s].a, y[s] - triples[s].b]) for s in (0, 1)]
    opened = _open("beaver/open", masked[0], masked[1], channel)
    e, f = opened[: count[0]], opened[count[0] :]
    t0, t1 = triples
    z0 = t0.c + e * t0.b + f * t0.a + e * f
    z1 = t1.c + e * t1.b + f * t1.a
    return z0, z1


def beaver_square(
    x: tuple[U64, U64], pairs: tuple[SquareShares, SquareShares], *, channel: Channel
) -> tuple[U64, U64]:
    """Implements P4.3: shares of x^2 (element-wise) from a square pair (a, b = a^2)."""
    _check_pair("beaver_square", "x", x, pairs[0].a.shape)
    e = _open("beaver/open", x[0] - pairs[0].a, x[1] - pairs[1].a, channel)
    two = np.uint64(2)
    z0 = pairs[0].b + two * e * pairs[0].a + e * e
    z1 = pairs[1].b + two * e * pairs[1].a
    return z0, z1


def beaver_gram(
    x: tuple[U64, U64], triple: tuple[GramShares, GramShares], *, channel: Channel
) -> tuple[U64, U64]:
    """Implements P4.4: shares of G = X X^T from a matrix triple (A, C = A A^T).

    S0 uses the identity E E^T + E A0^T + A0 E^T = (E + A0)(E + A0)^T - A0 A0^T, with
    A0 A0^T precomputed offline when available (C4.6): the shares are the same ring values.
    """
    _check_pair("beaver_gram", "x", x, triple[0].a.shape)
    e = _open("beaver/open", x[0] - triple[0].a, x[1] - triple[1].a, channel)
    t0, t1 = triple
    aat0 = t0.aat if t0.aat is not None else t0.a @ t0.a.T
    shifted = e + t0.a
    g0 = t0.c + shifted @ shifted.T - aat0
    del shifted
    m1 = e @ t1.a.T
    g1 = t1.c + m1 + m1.T
    return g0, g1
