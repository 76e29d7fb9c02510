"""Ring vectors as message payloads, in pure Python (spec/07-channel.md, D7.4).

The channel and transcript are shared (``sbrml.core.channel``); each tree packs its own
vectors: here lists of ints, in ``sbrml.optimized.channel`` zero-copy uint64 arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

from sbrml.core.channel import Channel, Message, Payload
from sbrml.core.errors import ShapeError

__all__ = ["Channel", "Message", "Payload", "pack_ring", "unpack_ring"]


def pack_ring(elements: Sequence[int]) -> bytes:
    """Implements D7.4: a ring vector as 8 bytes per element, little-endian, in order."""
    return b"".join(e.to_bytes(8, "little") for e in elements)


def unpack_ring(function: str, parameter: str, payload: Payload, count: int) -> list[int]:
    """Implements D7.4 and C8.3: parse exactly ``count`` ring elements or raise ShapeError."""
    raw = bytes(payload)
    if len(raw) != 8 * count:
        raise ShapeError(
            function,
            parameter,
            f"{8 * count} payload bytes ({count} ring elements)",
            "C8.3",
            f"{len(raw)} bytes",
        )
    return [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
