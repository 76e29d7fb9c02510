"""Section 7: channel, messages and transcripts (spec/07-channel.md)."""

from __future__ import annotations

import struct
from types import ModuleType

import pytest

from sbrml.core.channel import TRANSCRIPT_MAGIC, Channel, Message
from sbrml.core.network import gate_count
from sbrml.reference.comparison_dealer import plane_bytes
from tests.helpers import replace_worker
from tests.helpers.cli import parse_transcript


@pytest.mark.spec("D7.3")
def test_transcript_format_known_answer() -> None:
    ch = Channel()
    ch.send("W0", "S0", "share", b"\x01\x02")
    ch.send("S1", "S0", "valid", memoryview(b"abc"))
    expected = (
        b"SBRMLTR1"
        + struct.pack("<I", 2)
        + b"\x02\x00W0\x02\x00S0\x05\x00share"
        + struct.pack("<Q", 2)
        + b"\x01\x02"
        + b"\x02\x00S1\x02\x00S0\x05\x00valid"
        + struct.pack("<Q", 3)
        + b"abc"
    )
    assert ch.transcript_bytes() == expected
    import hashlib

    assert ch.transcript_digest() == hashlib.sha256(expected).hexdigest()


@pytest.mark.spec("C7.1", "D7.2")
def test_every_message_is_recorded_in_order(impl: ModuleType) -> None:
    x = [[float(i), -float(i)] for i in range(6)]
    intruder = Message("W9", "S0", "share", b"\x00" * 16)
    dup = Message("W1", "S1", "share", b"\x00" * 16)

    def tamper(messages: list[Message]) -> list[Message]:
        return [*messages, intruder, dup]

    result = impl.secure_aggregate(
        x, impl.Krum(1), rng=impl.DeterministicRandomSource(2), tamper=tamper
    )
    parsed = parse_transcript(result.channel.transcript_bytes())
    assert [(s, r, lab) for s, r, lab, _ in parsed] == [
        (m.sender, m.receiver, m.label) for m in result.channel.messages
    ]
    labels = [lab for _, _, lab, _ in parsed]
    # d = 2: range validation at b(2) = 30 runs less_than_bits on 31 bits, 5 AND layers.
    assert labels == (
        ["offline/gram"] * 2
        + ["offline/masks", "offline/masks", "offline/dabits", "offline/dabits"]
        + ["offline/and"] * 2
        + ["share"] * 14
        + ["valid"] * 2
        + ["range/open"] * 2
        + ["cmp/and"] * 10
        + ["cmp/b2a"] * 2
        + ["range/high"] * 2
        + ["beaver/open"] * 2
        + ["distances", "weights", "output"]
    )
    assert ("W9", "S0", "share", b"\x00" * 16) in parsed
    assert ("W1", "S1", "share", b"\x00" * 16) in parsed


@pytest.mark.spec("C7.2")
def test_byte_counts(impl: ModuleType) -> None:
    n, d = 6, 3
    x = [[float(i + k) for k in range(d)] for i in range(n)]
    tamper = replace_worker(5, [])  # worker 5 sends nothing
    result = impl.secure_aggregate(
        x, impl.MultiKrum(1), rng=impl.DeterministicRandomSource(2), tamper=tamper
    )
    links = result.channel.bytes_by_link()
    v = len(result.valid)
    assert v == 5
    # Range validation (C8.14, P21.1, P21.7) on n*d lanes at m = b(3) + 1 = 31 bits.
    lanes, m = n * d, 31
    plane = plane_bytes(lanes)
    gates = gate_count(m)
    comparison_offline = 8 * lanes * 3 + plane * (m + 1) + 3 * gates * plane
    comparison_online = 8 * lanes * 2 + 2 * gates * plane + plane
    assert links["dealer->S0"] == links["dealer->S1"] == 8 * (n * d + n * n) + comparison_offline
    assert all(links[f"W{i}->S{s}"] == 8 * d for i in range(5) for s in (0, 1))
    assert "W5->S0" not in links
    assert links["S0->S1"] == 8 * (v + v * d + v * (v - 1) // 2 + d) + comparison_online
    assert links["S1->S0"] == 8 * (v + v * d + v) + comparison_online
    assert sum(links.values()) == sum(m.size for m in result.channel.messages)


@pytest.mark.spec("C7.1", "C7.2", "D7.1")
def test_payloads_that_are_not_bytes_cross_as_bytes() -> None:
    import numpy as np

    ch = Channel()
    for payload in (None, "text", 7, np.arange(2, dtype=np.uint64), memoryview(bytes(8))[::2]):
        ch.deliver(Message("W0", "S0", "share", payload))  # type: ignore[arg-type]
    sizes = [m.size for m in ch.messages]
    assert sizes == [0, 0, 0, 16, 4]
    assert ch.bytes_by_link() == {"W0->S0": 20}
    raw = ch.transcript_bytes()
    assert len(raw) == len(TRANSCRIPT_MAGIC) + 4 + 5 * (2 + 2 + 2 + 2 + 2 + 5 + 8) + 20


@pytest.mark.spec("C7.2", "D7.2")
def test_a_channel_without_record_counts_bytes_and_keeps_no_payload() -> None:
    from sbrml.core.errors import ParameterError

    ch = Channel(record=False)
    ch.send("W0", "S0", "share", b"\x01" * 24)
    ch.send("W0", "S1", "share", b"\x02" * 24)
    ch.send("S0", "S1", "valid", b"\x00" * 8)
    assert ch.bytes_by_link() == {"W0->S0": 24, "W0->S1": 24, "S0->S1": 8}
    assert ch.message_count() == 3 and ch.messages == []
    # Delivered until received, then gone: the channel holds nothing of the round.
    assert [m.payload for m in ch.receive("S0", "share")] == [b"\x01" * 24]
    assert ch.receive("S0", "share") == []
    for ask in (ch.transcript_bytes, ch.transcript_digest, lambda: ch.view("S0")):
        with pytest.raises(ParameterError, match=r"D7\.2"):
            ask()


@pytest.mark.spec("D7.6")
def test_exchange_records_s0_first_and_returns_what_each_received() -> None:
    ch = Channel()
    assert ch.plays("S0") and ch.plays("dealer") and ch.servers() == (0, 1)
    got = ch.exchange("open", b"zero", b"one")
    assert got == (b"one", b"zero")
    assert [(m.sender, m.receiver, m.label, m.payload) for m in ch.messages] == [
        ("S0", "S1", "open", b"zero"),
        ("S1", "S0", "open", b"one"),
    ]
