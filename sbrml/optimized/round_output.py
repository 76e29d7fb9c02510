"""P8.1 step 5, the output, in the optimized tree: the servers' shares of ``z`` from public
weights, and its opening at ``S1`` (split from ``sbrml.optimized.round`` by size)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sbrml.core.channel import each
from sbrml.core.round import peer_payload
from sbrml.optimized.beaver import CHUNK, column_blocks
from sbrml.optimized.channel import Channel, pack_ring, unpack_ring
from sbrml.optimized.ring import F64, U64, decode

__all__ = ["decoder", "open_output", "weighted_output", "weighted_sum"]


def weighted_sum(weights: U64, rows: Sequence[U64], d: int) -> U64:
    """Implements P8.1 step 5 (local): sum_i P_i x_i^s in Z_2^64, over cache-sized blocks.

    Rows with P_i = 0 are skipped: the weights are public, so this reveals nothing, and
    Krum's output then costs one row instead of n.
    """
    out = np.zeros(d, dtype=np.uint64)
    scratch = np.empty(min(d, CHUNK), dtype=np.uint64)
    terms = [(w, row) for w, row in zip(weights, rows, strict=True) if w != 0]
    for block in column_blocks(d):
        acc = out[block]
        tmp = scratch[: acc.size]
        for w, row in terms:
            np.multiply(row[block], w, out=tmp)
            acc += tmp
    return out


def weighted_output(
    channel: Channel, big_p: U64, x_rows: tuple[Sequence[U64], Sequence[U64]], d: int
) -> tuple[U64, U64]:
    """P8.1 step 5 (local) with public weights: z^s = sum_i P_i x_i^s per played server."""
    return each(channel, lambda s: weighted_sum(big_p, x_rows[s], d))


def decoder(bits: int) -> Callable[[U64], F64]:
    return lambda total: decode(total, frac_bits=bits)


def open_output(
    channel: Channel, z_shares: tuple[U64, U64], d: int, finish: Callable[[U64], F64]
) -> F64 | None:
    """P8.1 step 5: S0 sends z^0 to S1 (label ``output``), which publishes
    ``finish(z^0 + z^1)``; None where S1 is not played (S0 does not learn z)."""
    if channel.plays("S0"):
        channel.send("S0", "S1", "output", pack_ring(z_shares[0]))
    if not channel.plays("S1"):
        return None
    payload = peer_payload(channel, "S1", "output", "S0")
    z0 = unpack_ring("secure_aggregate", "output", payload, d)
    return finish(z0 + z_shares[1])
