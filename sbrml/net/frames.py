"""The wire frame of a message (D23.2): encoder, strict decoder and reassembler.

A message (D7.1) travels as frames of at most ``FRAME_BYTES`` payload bytes, each
``"SBRMLWF1"``, the round identifier (u64 LE), ``sender``, ``receiver`` and ``label`` (u16 LE
length plus UTF-8), the payload's total length (u64 LE), this frame's offset into it (u64 LE)
and then the frame's payload bytes. Standard library only.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from sbrml.core.channel import Message, Payload, wire_payload
from sbrml.core.errors import ParameterError, SpecError, shown

__all__ = [
    "FRAME_BYTES",
    "FRAME_MAGIC",
    "MAX_FRAME",
    "Frame",
    "FrameError",
    "Reassembler",
    "decode_frame",
    "encode_frames",
]

FRAME_MAGIC = b"SBRMLWF1"
FRAME_BYTES = 1 << 20
# The longest legal header: magic, round, three names of at most 65535 bytes, total, offset.
HEADER_MAX = 8 + 8 + 3 * (2 + 0xFFFF) + 8 + 8
MAX_FRAME = FRAME_BYTES + HEADER_MAX
U64_MAX = (1 << 64) - 1
# What a message may claim as its length before the receiver allocates it; an endpoint
# passes its own bound (a Byzantine worker must not make a server allocate 2^63 bytes).
DEFAULT_MAX_PAYLOAD = 1 << 32

_U64 = struct.Struct("<Q")
_U16 = struct.Struct("<H")
_TAIL = struct.Struct("<QQ")


class FrameError(SpecError):
    """A frame or a message's sequence of frames breaks D23.2 or C23.3; the message counts
    as not received. The text names the fault, never the payload bytes."""


@dataclass(frozen=True)
class Frame:
    """One decoded frame (D23.2); ``data`` is a view of the frame's payload bytes."""

    round_id: int
    sender: str
    receiver: str
    label: str
    total: int
    offset: int
    data: memoryview


def _fault(
    condition: str, got: str, clause: str = "D23.2", function: str = "decode_frame"
) -> FrameError:
    return FrameError(function, "frame", condition, clause, got)


def _name_bytes(function: str, parameter: str, name: object) -> bytes:
    if not isinstance(name, str) or not name:
        raise ParameterError(function, parameter, "a non-empty name (D7.1)", "D23.2", shown(name))
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise ParameterError(
            function, parameter, "a name encodable as UTF-8", "D23.2", shown(name)
        ) from None
    if len(raw) > 0xFFFF:
        raise ParameterError(
            function, parameter, "at most 65535 UTF-8 bytes", "D23.2", f"{len(raw)} bytes"
        )
    return raw


def encode_frames(
    round_id: int, message: Message, frame_bytes: int = FRAME_BYTES
) -> Iterator[bytes]:
    """Implements D23.2: the frames of ``message`` in round ``round_id``, in offset order.

    Each frame is one ``bytes`` object (gRPC sends bytes): the shared header, the offset and
    a memoryview slice of the payload joined once, so the payload is copied only into the
    frame itself. An empty payload is one frame. ``frame_bytes`` (1..FRAME_BYTES) is the
    payload per frame. Raises ParameterError (D23.2) for a round outside u64, an empty or
    over-long name, or a ``frame_bytes`` out of range.
    """
    function = "encode_frames"
    if isinstance(round_id, bool) or not isinstance(round_id, int) or not 0 <= round_id <= U64_MAX:
        raise ParameterError(function, "round_id", "an int in [0, 2^64)", "D23.2", shown(round_id))
    if (
        isinstance(frame_bytes, bool)
        or not isinstance(frame_bytes, int)
        or not 1 <= frame_bytes <= FRAME_BYTES
    ):
        raise ParameterError(
            function, "frame_bytes", f"an int in [1, {FRAME_BYTES}]", "D23.2", shown(frame_bytes)
        )
    names = [
        _name_bytes(function, part, getattr(message, part))
        for part in ("sender", "receiver", "label")
    ]
    payload: Payload = wire_payload(message.payload)
    view = memoryview(payload).cast("B") if isinstance(payload, memoryview) else payload
    total = len(view)
    prefix = b"".join(
        [FRAME_MAGIC, _U64.pack(round_id)]
        + [_U16.pack(len(raw)) + raw for raw in names]
        + [_U64.pack(total)]
    )
    chunks = memoryview(view)
    offset = 0
    while True:
        end = min(offset + frame_bytes, total)
        yield b"".join((prefix, _U64.pack(offset), chunks[offset:end]))
        offset = end
        if offset >= total:
            return


def _read_name(data: memoryview, at: int, part: str) -> tuple[str, int]:
    if at + 2 > len(data):
        raise _fault(f"a {part} length field", f"the header ends at byte {len(data)}")
    (size,) = _U16.unpack_from(data, at)
    at += 2
    if size == 0:
        raise _fault(f"a non-empty {part}", f"{part} of 0 bytes")
    if at + size > len(data):
        raise _fault(
            f"{size} bytes of {part}", f"the frame ends {at + size - len(data)} bytes short"
        )
    try:
        name = str(data[at : at + size], "utf-8")
    except UnicodeDecodeError as error:
        raise _fault(f"a UTF-8 {part}", f"invalid UTF-8 at byte {error.start}") from None
    return name, at + size


def decode_frame(data: bytes | memoryview) -> Frame:
    """Implements D23.2: parse one frame strictly.

    Raises FrameError (D23.2) for a frame shorter than its header, a magic other than
    ``SBRMLWF1``, an empty or non-UTF-8 name, a frame payload over ``FRAME_BYTES``, an empty
    frame of a non-empty message, or an offset plus length beyond the total. The returned
    ``data`` is a view into ``data`` (no copy).
    """
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
    if len(view) < 16:
        raise _fault("a frame of at least 16 bytes", f"{len(view)} bytes")
    if view[:8] != FRAME_MAGIC:
        raise _fault("the magic SBRMLWF1", "other leading bytes")
    (round_id,) = _U64.unpack_from(view, 8)
    at = 16
    sender, at = _read_name(view, at, "sender")
    receiver, at = _read_name(view, at, "receiver")
    label, at = _read_name(view, at, "label")
    if at + 16 > len(view):
        raise _fault("the total and offset fields", f"the header ends at byte {len(view)}")
    total, offset = _TAIL.unpack_from(view, at)
    chunk = view[at + 16 :]
    size = len(chunk)
    if size > FRAME_BYTES:
        raise _fault(f"at most {FRAME_BYTES} payload bytes in a frame", f"{size} bytes")
    if size == 0 and total != 0:
        raise _fault("a non-empty frame (only an empty payload has one)", f"total {total}")
    if offset + size > total:
        raise _fault("offset + frame length <= total", f"offset {offset} + {size} > {total}")
    return Frame(round_id, sender, receiver, label, total, offset, chunk)


class Reassembler:
    """Implements D23.2 and C23.3: rebuild one message from the frames of one call.

    ``add`` takes each frame's bytes in order and returns the ``Message`` when its last
    frame arrives (None before); ``finish`` returns it once the call has ended. Every frame
    must repeat the first one's round, names and total, at the offset where the previous one
    ended; nothing may follow the last. The payload is written into one bytearray allocated
    at the first frame (a one-frame message keeps a view of that frame instead, no copy).
    A total above ``max_payload`` is refused before anything is allocated. Every fault
    raises FrameError naming the clause and the fault.
    """

    def __init__(self, *, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self.first: Frame | None = None
        self.message: Message | None = None
        self._buffer: bytearray | None = None
        self._filled = 0

    @property
    def round_id(self) -> int | None:
        """The round of the first frame, once one has been read."""
        return None if self.first is None else self.first.round_id

    def add(self, data: bytes | memoryview) -> Message | None:
        """Take the next frame of the call (D23.2); the message once it is complete."""
        frame = decode_frame(data)
        first = self.first
        if self.message is not None:
            raise _fault(
                "nothing after a message's last frame",
                f"a frame at offset {frame.offset}",
                function="Reassembler",
            )
        if first is None:
            if frame.total > self.max_payload:
                raise _fault(
                    f"a payload of at most {self.max_payload} bytes",
                    f"total {frame.total}",
                    function="Reassembler",
                )
            self.first = first = frame
        else:
            for part in ("sender", "receiver", "label", "total"):
                now, then = getattr(frame, part), getattr(first, part)
                if now != then:
                    raise _fault(
                        f"every frame with the first frame's {part}",
                        f"{now!r} after {then!r}",
                        function="Reassembler",
                    )
            if frame.round_id != first.round_id:
                raise _fault(
                    "every frame of a message in one round",
                    f"round {frame.round_id} after round {first.round_id}",
                    "C23.3",
                    "Reassembler",
                )
        if frame.offset != self._filled:
            raise _fault(
                "each frame at the offset where the previous one ended",
                f"offset {frame.offset}, expected {self._filled}",
                function="Reassembler",
            )
        end = self._filled + len(frame.data)
        if self._buffer is None and end == frame.total:
            payload: Payload = frame.data.toreadonly()
        else:
            if self._buffer is None:
                self._buffer = bytearray(frame.total)
            self._buffer[self._filled : end] = frame.data
            payload = memoryview(self._buffer).toreadonly()
        self._filled = end
        if end < frame.total:
            return None
        self.message = Message(first.sender, first.receiver, first.label, payload)
        self._buffer = None
        return self.message

    def finish(self) -> Message:
        """The message, once the call has ended; FrameError (D23.2) if no frame came or the
        frames stopped short of the total."""
        if self.message is not None:
            return self.message
        if self.first is None:
            raise _fault("at least one frame in a call", "no frame", function="Reassembler")
        raise _fault(
            "frames up to the payload's total length",
            f"{self._filled} of {self.first.total} bytes",
            function="Reassembler",
        )
