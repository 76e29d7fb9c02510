"""The carry tree of P21.3 and the AND gates it is built of (P21.2), on bit-planes held as
Python ints (spec/21).

``sbrml.reference.comparison`` checks its inputs (C21.4) and calls these: ``and_gates`` runs
one layer of AND gates, and ``less_than_tree`` builds the tree of P21.3 from such layers, one
per level. ``sbrml.optimized.carry_tree`` is the same on uint64 arrays, with the same messages
and bytes (C21.5).
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.channel import Channel
from sbrml.reference.comparison_dealer import AndTriples, ones, pack_planes, unpack_planes

__all__ = ["PlanePair", "Triples", "and_gates", "exchange_planes", "less_than_tree"]

PlanePair = tuple[int, int]
Triples = tuple[AndTriples, AndTriples]


def exchange_planes(
    label: str, mine: Sequence[Sequence[int]], lanes: int, channel: Channel
) -> list[int]:
    """S0 sends its planes, then S1 its own; returns their XOR (both servers learn it)."""
    channel.send("S0", "S1", label, pack_planes(mine[0], lanes))
    channel.send("S1", "S0", label, pack_planes(mine[1], lanes))
    count = len(mine[0])
    got0 = unpack_planes(channel.receive("S1", label)[-1].payload, lanes, count)
    got1 = unpack_planes(channel.receive("S0", label)[-1].payload, lanes, count)
    return [p ^ q for p, q in zip(got0, got1, strict=True)]


def and_gates(
    x: Sequence[PlanePair],
    y: Sequence[PlanePair],
    triples: Triples,
    lanes: int,
    channel: Channel,
) -> list[PlanePair]:
    """P21.2 on checked inputs: T pairs of planes ``x``, ``y`` and exactly T AND triples of
    ``lanes`` lanes; returns the T pairs of output planes."""
    count = len(x)
    masked = []
    for s in (0, 1):
        t = triples[s]
        masked.append([v for k in range(count) for v in (x[k][s] ^ t.a[k], y[k][s] ^ t.b[k])])
    opened = exchange_planes("cmp/and", masked, lanes, channel)
    out = []
    for k in range(count):
        e, f = opened[2 * k], opened[2 * k + 1]
        z = []
        for s in (0, 1):
            t = triples[s]
            z.append(t.c[k] ^ (e & t.b[k]) ^ (f & t.a[k]) ^ (e & f if s == 0 else 0))
        out.append((z[0], z[1]))
    return out


def _slice(triples: Triples, start: int, stop: int) -> Triples:
    return (
        AndTriples(
            triples[0].lanes,
            triples[0].a[start:stop],
            triples[0].b[start:stop],
            triples[0].c[start:stop],
        ),
        AndTriples(
            triples[1].lanes,
            triples[1].a[start:stop],
            triples[1].b[start:stop],
            triples[1].c[start:stop],
        ),
    )


def less_than_tree(
    c: Sequence[int],
    rho: Sequence[PlanePair],
    triples: Triples,
    lanes: int,
    channel: Channel,
) -> PlanePair:
    """P21.3 steps 1-3 on checked inputs: c and rho hold m >= 1 planes of ``lanes`` lanes,
    least significant first, and ``triples`` exactly A(m) AND triples."""
    full = ones(lanes)
    # Leaves: G_j = ~c_j & rho_j (bit j decides "below"), E_j = ~(c_j ^ rho_j) (bit j ties).
    nodes: list[tuple[PlanePair, PlanePair]] = []
    for cj, (r0, r1) in zip(c, rho, strict=True):
        not_c = cj ^ full
        nodes.append(((r0 & not_c, r1 & not_c), (r0 ^ not_c, r1)))
    used = 0
    while len(nodes) > 1:
        pairs = [(nodes[2 * k], nodes[2 * k + 1]) for k in range(len(nodes) // 2)]
        last = len(nodes) == 2
        left: list[PlanePair] = []
        right: list[PlanePair] = []
        for lo, hi in pairs:
            left.append(hi[1])
            right.append(lo[0])
            if not last:
                left.append(hi[1])
                right.append(lo[1])
        gates = len(left)
        products = and_gates(left, right, _slice(triples, used, used + gates), lanes, channel)
        used += gates
        merged = []
        for k, (_lo, hi) in enumerate(pairs):
            step = 1 if last else 2
            g_and = products[step * k]
            g = (hi[0][0] ^ g_and[0], hi[0][1] ^ g_and[1])
            e = products[step * k + 1] if not last else (0, 0)
            merged.append((g, e))
        if len(nodes) % 2:
            merged.append(nodes[-1])
        nodes = merged
    return nodes[0][0]
