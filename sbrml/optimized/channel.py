"""Message payload encoding for uint64 arrays (spec/07-channel.md, D7.4).

The channel and transcript are shared (sbrml.core.channel): payloads are bytes-like, so an
array is sent as a zero-copy little-endian view and the transcript bytes are identical.
"""

from __future__ import annotations

import sys
from typing import cast

import numpy as np
from numpy.typing import NDArray

from sbrml.core.channel import Channel, Message, Payload
from sbrml.core.errors import ShapeError

__all__ = ["Channel", "Message", "exchange_ring", "open_ring", "pack_ring", "unpack_ring"]

if sys.byteorder != "little":  # pragma: no cover - every supported platform is little-endian
    raise ImportError("sbrml.optimized sends native uint64 buffers and needs a little-endian host")


def pack_ring(elements: NDArray[np.uint64]) -> memoryview:
    """Implements D7.4: 8 bytes per element, little-endian, row-major; a zero-copy view."""
    return np.ascontiguousarray(elements, dtype=np.uint64).reshape(-1).data.cast("B")


def unpack_ring(function: str, parameter: str, payload: Payload, count: int) -> NDArray[np.uint64]:
    """Implements D7.4 and C8.3: parse exactly ``count`` ring elements or raise ShapeError."""
    size = payload.nbytes if isinstance(payload, memoryview) else len(payload)
    if size != 8 * count:
        raise ShapeError(
            function,
            parameter,
            f"{8 * count} payload bytes ({count} ring elements)",
            "C8.3",
            f"{size} bytes",
        )
    return np.frombuffer(payload, dtype="<u8")


def exchange_ring(
    label: str, share0: NDArray[np.uint64], share1: NDArray[np.uint64], channel: Channel
) -> tuple[int, NDArray[np.uint64], NDArray[np.uint64]]:
    """D7.6 for ring arrays: each played server sends its share to the other. Returns
    ``(s, mine, theirs)`` for the first server S<s> the channel plays: its own share and the
    other's as received (parsed to the same shape; C8.3 for a payload of another length), so
    the caller opens ``mine + theirs`` once even when the channel plays both servers."""
    played = channel.servers()
    shares = (share0, share1)
    got = channel.exchange(label, *(pack_ring(shares[s]) if s in played else None for s in (0, 1)))
    s = played[0]
    mine = shares[s]
    theirs = unpack_ring("open", "payload", cast(Payload, got[s]), mine.size)
    return s, mine, theirs.reshape(mine.shape)


def open_ring(
    label: str,
    share0: NDArray[np.uint64],
    share1: NDArray[np.uint64],
    channel: Channel,
    out: NDArray[np.uint64] | None = None,
) -> NDArray[np.uint64]:
    """Open a shared ring array (D7.6): the sum of both shares, which both servers learn,
    written to ``out`` when given."""
    _, mine, theirs = exchange_ring(label, share0, share1, channel)
    return np.add(mine, theirs, out=out)
