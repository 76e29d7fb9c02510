"""Message payload encoding for uint64 arrays (spec/07-channel.md, D7.4).

The channel and transcript are shared (sbrml.core.channel): payloads are bytes-like, so an
array is sent as a zero-copy little-endian view and the transcript bytes are identical.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.typing import NDArray

from sbrml.core.channel import Channel, Message, Payload
from sbrml.core.errors import ShapeError

__all__ = ["Channel", "Message", "pack_ring", "unpack_ring"]

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
