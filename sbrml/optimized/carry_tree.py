"""The carry tree of P21.3 on stacked planes, and the AND gates it is built of (P21.2), on
uint64 arrays (spec/21).

``sbrml.optimized.comparison`` checks its inputs (C21.4) and calls these: ``and_gates`` runs
one layer of AND gates as a few NumPy passes, and ``less_than_stacked`` builds the tree of
P21.3 from such layers, one per level. Same messages and bytes as the reference tree's
``sbrml.reference.carry_tree`` (C21.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from sbrml.core.channel import Channel, Payload, each, present
from sbrml.optimized.channel import pack_ring
from sbrml.optimized.comparison_dealer import AndTriples, ones, unpack_planes
from sbrml.optimized.ring import U64

__all__ = ["PlanePair", "Triples", "and_gates", "exchange_planes", "less_than_stacked"]

PlanePair = tuple[U64, U64]
Triples = tuple[AndTriples, AndTriples]


def exchange_planes(
    label: str, mine0: U64, mine1: U64, lanes: int, count: int, channel: Channel
) -> U64:
    """S0 sends its ``count`` planes, then S1 its own (D7.6); returns their XOR,
    ``(count, words)`` (both servers learn it)."""
    played = channel.servers()
    mine = (mine0, mine1)
    got = channel.exchange(label, *(pack_ring(mine[s]) if s in played else None for s in (0, 1)))
    s = played[0]
    theirs = unpack_planes(cast(Payload, got[s]), lanes, count)
    return np.bitwise_xor(mine[s].reshape(theirs.shape), theirs)


def and_gates(
    x: PlanePair, y: PlanePair, triples: Triples, lanes: int, channel: Channel
) -> PlanePair:
    """P21.2 on arrays of gates: the T gates have a shape ``G`` (``(T,)``, or ``(T/2, 2)`` for
    a level of P21.3), gate t being the t-th in row-major order; ``y^s`` has shape
    ``G + (words,)`` and ``x^s`` broadcasts to it; returns z^s of shape ``G + (words,)``.

    Every NumPy call here runs once per layer, not once per gate, and writes into a buffer
    made for it: fresh memory is what costs most at 11M lanes (first touch of its pages).
    """
    shape = present(y)[0].shape
    count, words = int(np.prod(shape[:-1])), shape[-1]

    def mask(s: int) -> U64:
        a, b = triples[s].a.reshape(shape), triples[s].b.reshape(shape)
        # Step 1, straight into the message buffer: e_t, f_t, gate by gate, as step 2 sends.
        m = np.empty((*shape[:-1], 2, words), dtype=np.uint64)
        np.bitwise_xor(x[s], a, out=m[..., 0, :])
        np.bitwise_xor(y[s], b, out=m[..., 1, :])
        return m

    masked = each(channel, mask)
    # Step 2.
    opened = exchange_planes("cmp/and", masked[0], masked[1], lanes, 2 * count, channel)
    opened = opened.reshape((*shape[:-1], 2, words))
    e, f = opened[..., 0, :], opened[..., 1, :]
    # Step 3.
    scratch = np.empty(shape, dtype=np.uint64)

    def output(s: int) -> U64:
        a, b, c = (getattr(triples[s], k).reshape(shape) for k in "abc")
        z: U64 = np.bitwise_and(e, b)
        z ^= np.bitwise_and(f, a, out=scratch)
        z ^= c
        if s == 0:
            z ^= np.bitwise_and(e, f, out=scratch)
        return z

    return each(channel, output)


def _rows(triples: Triples, start: int, stop: int) -> Triples:
    def rows(t: AndTriples) -> AndTriples:
        if t is None:  # a server this process does not play (spec section 23)
            return t
        return AndTriples(t.lanes, t.a[start:stop], t.b[start:stop], t.c[start:stop])

    return rows(triples[0]), rows(triples[1])


def less_than_stacked(
    c: U64, rho: PlanePair, triples: Triples, lanes: int, channel: Channel
) -> PlanePair:
    """P21.3 on stacked planes: c and rho^s of shape ``(m, words)``, checked by the caller.

    Server s keeps the list L as one array ``(|L|, 2, words)``, node k being
    ``(G^s_k, E^s_k)``. Then the level's gates E_hi & G_lo, E_hi & E_lo are the AND of
    ``E_hi`` (broadcast over the pair) with the node ``lo`` itself, in gate order, and the
    products are the new node once G_hi is XORed into their first half: no copies.
    """
    # Step 1. Leaves: G_j = ~c_j & rho_j (bit j decides "below"), E_j = ~(c_j ^ rho_j) (ties).
    count, words = c.shape
    not_c = c ^ ones(lanes)

    def leaves(s: int) -> U64:
        out = np.empty((count, 2, words), dtype=np.uint64)
        np.bitwise_and(rho[s], not_c, out=out[:, 0])
        if s == 0:
            np.bitwise_xor(rho[s], not_c, out=out[:, 1])
        else:
            out[:, 1] = rho[s]
        return out

    nodes = each(channel, leaves)
    played = channel.servers()
    used = 0
    # Step 2. One and_layer per level.
    while nodes[played[0]].shape[0] > 1:
        nodes, used = _tree_level(nodes, triples, used, lanes, channel)
    # Step 3.
    return _map(channel, nodes, lambda node: node[0, 0])


def _map(channel: Channel, pair: PlanePair, step: Callable[[U64], U64]) -> PlanePair:
    """``step`` on each played server's value of ``pair``."""
    return each(channel, lambda s: step(pair[s]))


def _tree_level(
    level: PlanePair, triples: Triples, used: int, lanes: int, channel: Channel
) -> tuple[PlanePair, int]:
    """One level of P21.3 step 2: returns the next level's nodes and the triples used."""
    size, words = present(level)[0].shape[0], present(level)[0].shape[-1]
    pairs = size // 2
    lo, hi = slice(0, 2 * pairs, 2), slice(1, 2 * pairs, 2)
    if size == 2:
        # The last level needs only E_hi & G_lo, one gate.
        x = _map(channel, level, lambda node: node[1:2, 1])
        y = _map(channel, level, lambda node: node[0:1, 0])
    else:
        x = _map(channel, level, lambda node: node[hi, 1:2])
        y = _map(channel, level, lambda node: node[lo])
    gates = present(y)[0].size // words
    z = and_gates(x, y, _rows(triples, used, used + gates), lanes, channel)

    def merge(s: int) -> U64:
        new = z[s].reshape(-1, 2, words) if size > 2 else z[s][:, None]
        new[:, 0] ^= level[s][hi, 0]
        if size % 2:
            # An odd level carries its last node unchanged to the end of the new list.
            new = np.concatenate([new, level[s][-1:]])
        return new

    return each(channel, merge), used + gates
