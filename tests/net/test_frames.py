"""Section 23's wire frame (D23.2) and a message's frames bound to one round (C23.3):
encoding, strict decoding, reassembly, and a fuzz of the decoder."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbrml.core.channel import Message
from sbrml.core.errors import ParameterError
from sbrml.net.frames import (
    FRAME_BYTES,
    FrameError,
    Reassembler,
    decode_frame,
    encode_frames,
)

SECRET = b"SECRET-PAYLOAD-BYTES"


def header(
    round_id: int = 7,
    names: tuple[bytes, bytes, bytes] = (b"W0", b"S0", b"share"),
    total: int = 3,
    offset: int = 0,
) -> bytes:
    """A D23.2 header built by hand, independently of the encoder."""
    parts = [b"SBRMLWF1", struct.pack("<Q", round_id)]
    parts += [struct.pack("<H", len(n)) + n for n in names]
    return b"".join([*parts, struct.pack("<QQ", total, offset)])


def reassemble(frames: list[bytes], max_payload: int = 1 << 32) -> Message:
    assembler = Reassembler(max_payload=max_payload)
    for frame in frames:
        assembler.add(frame)
    return assembler.finish()


@pytest.mark.spec("D23.2")
def test_frame_layout_known_answer() -> None:
    frames = list(encode_frames(7, Message("W0", "S0", "share", b"abc")))
    assert frames == [header() + b"abc"]
    frame = decode_frame(frames[0])
    assert (frame.round_id, frame.sender, frame.receiver, frame.label) == (7, "W0", "S0", "share")
    assert (frame.total, frame.offset, bytes(frame.data)) == (3, 0, b"abc")


@pytest.mark.spec("D23.2")
def test_large_payload_travels_in_frames_of_at_most_frame_bytes() -> None:
    payload = bytes(range(256)) * (FRAME_BYTES // 128 + 3)  # two full frames and a tail
    frames = list(encode_frames(1, Message("dealer", "S1", "offline/gram", memoryview(payload))))
    sizes = [len(decode_frame(f).data) for f in frames]
    assert sizes == [FRAME_BYTES, FRAME_BYTES, len(payload) - 2 * FRAME_BYTES]
    assert [decode_frame(f).offset for f in frames] == [0, FRAME_BYTES, 2 * FRAME_BYTES]
    message = reassemble(frames)
    assert message == Message("dealer", "S1", "offline/gram", payload)


@pytest.mark.spec("D23.2")
@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 95])
def test_round_trip_at_frame_boundaries(size: int) -> None:
    payload = bytes(range(size))
    frames = list(encode_frames(2**64 - 1, Message("S0", "S1", "é/open", payload), 10))
    assert len(frames) == max(1, -(-size // 10))  # an empty payload is one frame
    assert decode_frame(frames[0]).round_id == 2**64 - 1
    assert reassemble(frames) == Message("S0", "S1", "é/open", payload)


@pytest.mark.spec("D23.2")
def test_one_frame_message_is_a_view_of_its_frame() -> None:
    # No copy for a message that fits one frame; a longer one is copied once into one buffer.
    frame = next(encode_frames(1, Message("W0", "S0", "share", b"xyz")))
    payload = reassemble([frame]).payload
    assert isinstance(payload, memoryview) and payload.readonly and payload.obj is frame


@pytest.mark.spec("D23.2")
def test_encoder_refuses_what_the_wire_cannot_carry() -> None:
    ok = Message("W0", "S0", "share", b"")
    bad: list[tuple[Callable[[], Iterator[bytes]], str]] = [
        (lambda: encode_frames(-1, ok), "round_id"),
        (lambda: encode_frames(2**64, ok), "round_id"),
        (lambda: encode_frames(True, ok), "round_id"),
        (lambda: encode_frames(1, ok, 0), "frame_bytes"),
        (lambda: encode_frames(1, ok, FRAME_BYTES + 1), "frame_bytes"),
        (lambda: encode_frames(1, Message("", "S0", "share", b"")), "sender"),
        (lambda: encode_frames(1, Message("W0", "S0", "x" * 65536, b"")), "label"),
        (lambda: encode_frames(1, Message("W0", "\ud800", "share", b"")), "receiver"),
    ]
    for make, parameter in bad:
        with pytest.raises(ParameterError) as info:
            next(iter(make()))
        assert info.value.parameter == parameter and info.value.clause == "D23.2"


MALFORMED = {
    "short": b"SBRMLWF1\x00",
    "magic": SECRET[:8] + header()[8:] + b"abc",
    "empty sender": header(names=(b"", b"S0", b"share")) + b"abc",
    "name past the end": header()[:20],
    "not UTF-8": header(names=(b"W\xff", b"S0", b"share")) + b"abc",
    "no total": header()[:-16] + b"\x00" * 8,
    "past total": header(total=2) + b"abc",
    "offset past total": header(offset=1) + b"abc",
    "empty frame of a non-empty message": header(),
    "frame over FRAME_BYTES": header(total=FRAME_BYTES + 1) + bytes(FRAME_BYTES + 1),
}


@pytest.mark.spec("D23.2", "C23.3")
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_frame_is_refused_with_the_clause(case: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_frame(MALFORMED[case])
    assert info.value.clause == "D23.2"
    assert b"SECRET" not in str(info.value).encode()


def frames_of(payload: bytes, round_id: int = 5, label: str = "share") -> list[bytes]:
    return list(encode_frames(round_id, Message("W1", "S0", label, payload), 4))


SEQUENCES = {
    "round changes": (frames_of(SECRET)[:1] + frames_of(SECRET, round_id=6)[1:], "C23.3"),
    "label changes": (frames_of(SECRET)[:2] + frames_of(SECRET, label="x")[2:], "D23.2"),
    "total changes": (frames_of(SECRET)[:1] + frames_of(SECRET + b"!")[1:], "D23.2"),
    "gap": (frames_of(SECRET)[:1] + frames_of(SECRET)[2:], "D23.2"),
    "repeat": (frames_of(SECRET)[:2] + frames_of(SECRET)[1:], "D23.2"),
    "after the last": (frames_of(SECRET) + frames_of(SECRET)[-1:], "D23.2"),
    "stops short": (frames_of(SECRET)[:-1], "D23.2"),
    "no frame": ([], "D23.2"),
}


@pytest.mark.spec("D23.2", "C23.3")
@pytest.mark.parametrize("case", sorted(SEQUENCES))
def test_frames_that_do_not_make_one_message_are_refused(case: str) -> None:
    frames, clause = SEQUENCES[case]
    with pytest.raises(FrameError) as info:
        reassemble(frames)
    assert info.value.clause == clause
    assert b"SECRET" not in str(info.value).encode()


@pytest.mark.spec("D23.2")
def test_claimed_length_over_the_bound_is_refused_before_allocation() -> None:
    frame = header(total=2**63) + b"abc"
    with pytest.raises(FrameError, match=r"at most 1000 bytes"):
        reassemble([frame], max_payload=1000)


# -- fuzz ----------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=6)


@st.composite
def mangled(draw: st.DrawFn) -> list[bytes]:
    """The frames of a random message, some of them mangled: bytes replaced, cut, inserted,
    frames dropped, repeated or reordered."""
    message = Message(draw(names), draw(names), draw(names), draw(st.binary(max_size=40)))
    frames = list(encode_frames(draw(st.integers(0, 2**64 - 1)), message, draw(st.integers(1, 9))))
    for _ in range(draw(st.integers(0, 3))):
        k = draw(st.integers(0, len(frames) - 1))
        frame = bytearray(frames[k])
        kind = draw(st.sampled_from(["replace", "cut", "insert", "drop", "repeat", "swap"]))
        at = draw(st.integers(0, len(frame)))
        if kind == "replace" and at < len(frame):
            frame[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del frame[at:]
        elif kind == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=9))
        elif kind == "drop" and len(frames) > 1:
            del frames[k]
            continue
        elif kind == "repeat":
            frames.insert(k, bytes(frame))
        elif kind == "swap":
            j = draw(st.integers(0, len(frames) - 1))
            frames[k], frames[j] = frames[j], frames[k]
            continue
        frames[k] = bytes(frame)
    return frames


def only_frame_errors(frames: list[bytes]) -> None:
    try:
        message = reassemble(frames, max_payload=1 << 16)
    except FrameError as error:
        assert error.clause in ("D23.2", "C23.3")
        return
    # Whatever is accepted is a well-formed message: the payload matches the claimed total.
    assert message.size == decode_frame(frames[0]).total


@pytest.mark.spec("D23.2", "C23.3")
@given(st.binary(max_size=200))
def test_decoder_raises_only_frame_errors_on_any_bytes(data: bytes) -> None:
    only_frame_errors([data])


@pytest.mark.spec("D23.2", "C23.3")
@given(mangled())
def test_reassembler_raises_only_frame_errors_on_mangled_frames(frames: list[bytes]) -> None:
    only_frame_errors(frames)


@pytest.mark.spec("D23.2")
@given(names, names, names, st.binary(max_size=100), st.integers(1, 30), st.integers(0, 2**64 - 1))
def test_round_trip(
    sender: str, receiver: str, label: str, payload: bytes, size: int, round_id: int
) -> None:
    frames = list(encode_frames(round_id, Message(sender, receiver, label, payload), size))
    assert reassemble(frames) == Message(sender, receiver, label, payload)


@pytest.mark.slow
@pytest.mark.spec("D23.2", "C23.3")
@settings(max_examples=50_000)
@given(mangled())
def test_reassembler_fuzz_thorough(frames: list[bytes]) -> None:
    """make thorough: 5 x 10^4 mangled messages."""
    only_frame_errors(frames)
