"""In-memory channel that counts bytes and records a transcript (spec/07-channel.md).

Shared on purpose by both trees (sbrml.core): the transcript bytes are the conformance
contract, so they are produced by one implementation.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TypeVar, cast

from sbrml.core.errors import ParameterError, shown

TRANSCRIPT_MAGIC = b"SBRMLTR1"

Payload = bytes | memoryview


@dataclass(frozen=True)
class Message:
    """Implements D7.1: one message (sender, receiver, label, payload bytes)."""

    sender: str
    receiver: str
    label: str
    payload: Payload

    @property
    def size(self) -> int:
        """Payload length in bytes (C7.2 counts payload bytes only)."""
        return self.payload.nbytes if isinstance(self.payload, memoryview) else len(self.payload)


def wire_payload(payload: object) -> Payload:
    """D7.1: ``payload`` as the bytes that cross a wire: bytes as they are, a contiguous
    byte-addressable buffer (a memoryview, as the optimized tree sends) as it is, any other
    buffer (bytearray, strided view, array) copied to bytes, and anything without a readable
    buffer (None, a number, a str, a released view) as an empty payload."""
    if isinstance(payload, bytes):
        return payload
    try:
        view = memoryview(payload)  # type: ignore[arg-type]
        if isinstance(payload, memoryview) and view.c_contiguous and view.itemsize == 1:
            return payload
        return view.tobytes()
    except (TypeError, ValueError):
        return b""


SERVERS = ("S0", "S1")
T = TypeVar("T")


def present(pair: tuple[T, T]) -> list[T]:
    """The shares of a pair that are there (spec section 23): both in one process, one in a
    server's process."""
    return [x for x in pair if x is not None]


def each(channel: Channel, step: Callable[[int], T]) -> tuple[T, T]:
    """Per-party execution (spec section 23): ``(step(0), step(1))`` for the servers the
    channel plays; a server it does not play gets ``None``, its absent share, which no step
    reads (typed as present so that protocol code keeps one pair type)."""
    played = channel.servers()
    out = [step(s) if s in played else None for s in (0, 1)]
    return cast(T, out[0]), cast(T, out[1])


class Channel:
    """Implements D7.2: delivers messages to per-party inboxes and records every one in order.

    ``record=False`` keeps byte counts (C7.2) but drops each payload once it is received, so
    a round holds no copy of what it sent; such a channel has no transcript. The in-memory
    channel plays every party (spec section 23); a network channel (``sbrml.net``) plays one.
    """

    def __init__(self, *, record: bool = True) -> None:
        self.record = record
        self.messages: list[Message] = []
        self._inbox: dict[str, list[Message]] = {}
        self._bytes: dict[str, int] = {}
        self._count = 0

    def plays(self, party: str) -> bool:
        """Whether this channel runs ``party``'s steps (the in-memory one runs all)."""
        return True

    def servers(self) -> tuple[int, ...]:
        """The indices s of the servers S<s> this channel plays, ascending."""
        return tuple(s for s, name in enumerate(SERVERS) if self.plays(name))

    def send(self, sender: str, receiver: str, label: str, payload: Payload) -> None:
        """Record and deliver one message (C7.1)."""
        self.deliver(Message(sender, receiver, label, payload))

    def _count_bytes(self, message: Message) -> None:
        link = f"{message.sender}->{message.receiver}"
        self._bytes[link] = self._bytes.get(link, 0) + message.size
        self._count += 1

    def deliver(self, message: Message) -> None:
        """Record and deliver an already-built message (C7.1), e.g. a Byzantine worker's.

        A payload that is not a byte string (only a tamper hook can hand one over) is recorded
        and delivered as the bytes of its buffer, or as an empty payload when it has none
        (D7.1), so that byte counts and transcripts stay well-defined.
        """
        wire = wire_payload(message.payload)
        if wire is not message.payload:
            message = Message(message.sender, message.receiver, message.label, wire)
        self._count_bytes(message)
        if self.record:
            self.messages.append(message)
        self._inbox.setdefault(message.receiver, []).append(message)

    def receive(
        self, receiver: str, label: str, *, senders: Sequence[str] | None = None
    ) -> list[Message]:
        """Remove and return, in arrival order, the messages for ``receiver`` with ``label``.

        ``senders`` names whom the receiver waits for; in memory every message has already
        arrived, so it only matters to a network channel (spec section 23).
        """
        inbox = self._inbox.get(receiver, [])
        taken = [m for m in inbox if m.label == label]
        self._inbox[receiver] = [m for m in inbox if m.label != label]
        return taken

    def receive_one(self, receiver: str, label: str, sender: str) -> Message | None:
        """Remove and return the earliest message ``sender`` sent ``receiver`` with ``label``
        (None if there is none): a step that expects exactly one message takes that one,
        and a later message with the same label waits for the next step."""
        inbox = self._inbox.get(receiver, [])
        for k, m in enumerate(inbox):
            if m.label == label and m.sender == sender:
                del inbox[k]
                return m
        return None

    def exchange(
        self, label: str, payload0: Payload | None, payload1: Payload | None
    ) -> tuple[Payload | None, Payload | None]:
        """Implements D7.6: S0 sends ``payload0`` to S1 and S1 ``payload1`` to S0, S0's
        recorded first; returns (what S0 received, what S1 received)."""
        self.send("S0", "S1", label, cast(Payload, payload0))
        self.send("S1", "S0", label, cast(Payload, payload1))
        got0 = cast(Message, self.receive_one("S0", label, "S1"))
        got1 = cast(Message, self.receive_one("S1", label, "S0"))
        return got0.payload, got1.payload

    def message_count(self) -> int:
        """How many messages were sent over this channel, recorded or not."""
        return self._count

    def bytes_by_link(self) -> dict[str, int]:
        """Implements C7.2: payload bytes per ``sender->receiver`` link, in first-use order."""
        return dict(self._bytes)

    def view(self, party: str | None = None) -> list[Message]:
        """Implements D7.5: the recorded messages ``party`` sent or received, in recording
        order; every message when ``party`` is None (the full transcript)."""
        if not self.record:
            raise ParameterError(
                "Channel.view",
                "record",
                "a channel that records payloads (record=True, transcript=True)",
                "D7.2",
                "record=False",
            )
        if party is None:
            return self.messages
        if not isinstance(party, str) or not party:
            raise ParameterError(
                "Channel.view", "party", "a party name (D7.1)", "D7.5", shown(party)
            )
        return [m for m in self.messages if party in (m.sender, m.receiver)]

    def _chunks(self, party: str | None) -> Iterator[bytes | memoryview]:
        # D7.3: magic, u32 count, then per message three u16-length-prefixed UTF-8 names
        # and a u64-length-prefixed payload, all little-endian.
        messages = self.view(party)
        yield TRANSCRIPT_MAGIC
        yield struct.pack("<I", len(messages))
        for m in messages:
            for name in (m.sender, m.receiver, m.label):
                raw = name.encode("utf-8")
                yield struct.pack("<H", len(raw)) + raw
            yield struct.pack("<Q", m.size)
            yield m.payload

    def transcript_bytes(self, party: str | None = None) -> bytes:
        """Implements D7.3: the canonical transcript encoding; of ``party``'s view (D7.5) when
        a party is given.

        The full transcript holds both shares of every worker's input, so it reconstructs
        every input; one server's view does not.
        """
        return b"".join(bytes(c) for c in self._chunks(party))

    def transcript_digest(self, party: str | None = None) -> str:
        """SHA-256 (hex) of ``transcript_bytes(party)``, computed without joining it in memory."""
        h = hashlib.sha256()
        for chunk in self._chunks(party):
            h.update(chunk)
        return h.hexdigest()

    def write_transcript(self, stream: BinaryIO, party: str | None = None) -> None:
        """Write ``transcript_bytes(party)`` (D7.3, D7.5) to a binary stream."""
        for chunk in self._chunks(party):
            stream.write(chunk)
