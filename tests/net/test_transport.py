"""Section 23's transport over loopback (D23.3): mutual TLS, refusals (C23.2), frames bound to
their round (C23.3), deadlines (C23.4) and per-party transcripts (C23.1, D7.5).

Every server binds 127.0.0.1 on a free port; every test is bounded by deadlines and by an
alarm of 30 s.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
import pytest

from sbrml.core.channel import Channel, Message
from sbrml.core.errors import ParameterError, RoundAborted
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.frames import FRAME_BYTES, encode_frames
from sbrml.net.tls import Credentials, channel_credentials, load_credentials, make_certificates
from sbrml.net.transport import DELIVER, DeliveryFailed, DeliveryRefused, Endpoint

PARTIES = ("S0", "S1", "dealer", "W0", "W1")


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """Fail a test that runs over 30 s instead of hanging the suite."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("a network test ran over 30 s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def credentials_in(directory: Path, parties: tuple[str, ...]) -> dict[str, Credentials]:
    files = make_certificates(directory, parties)
    return {p: load_credentials(f.ca, f.cert, f.key, party=p) for p, f in files.items()}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Credentials]:
    return credentials_in(tmp_path_factory.mktemp("pki"), PARTIES)


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Credentials]:
    """The same party names, issued by another CA."""
    return credentials_in(tmp_path_factory.mktemp("foreign"), PARTIES)


Servers = tuple[Endpoint, Endpoint, dict[str, str]]


@pytest.fixture
def servers(pki: dict[str, Credentials]) -> Iterator[Servers]:
    """S0 and S1 listening on loopback and sending to each other, and their addresses."""
    s1 = Endpoint(pki["S1"], listen="127.0.0.1:0")
    s0 = Endpoint(pki["S0"], listen="127.0.0.1:0", peers={"S1": f"127.0.0.1:{s1.port}"})
    s1.peers["S0"] = f"127.0.0.1:{s0.port}"
    yield s0, s1, {"S0": f"127.0.0.1:{s0.port}", "S1": f"127.0.0.1:{s1.port}"}
    s0.close()
    s1.close()


@pytest.fixture
def client(pki: dict[str, Credentials], servers: Servers) -> Iterator[Callable[[str], Endpoint]]:
    """A factory of sending endpoints for the other parties, closed after the test."""
    made: list[Endpoint] = []

    def make(party: str) -> Endpoint:
        made.append(Endpoint(pki[party], peers=servers[2]))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


def soon(seconds: float = 0.3) -> float:
    return time.monotonic() + seconds


def raw_deliver(
    creds: Any, address: str, target: str, frames: Iterable[bytes], timeout: float = 5
) -> Any:
    """One Deliver call with hand-made credentials and frames (what a misbehaving client can
    send, bypassing Endpoint.send's own checks)."""
    options = [("grpc.ssl_target_name_override", target)]
    with grpc.secure_channel(address, creds, options=options) as channel:
        return channel.stream_unary(DELIVER)(iter(frames), timeout=timeout)


@pytest.mark.spec("D23.3", "D23.2")
def test_20_mb_message_over_mutual_tls(servers: Servers, client: Callable[[str], Endpoint]) -> None:
    s0, _, _ = servers
    payload = bytes(range(256)) * (20 * 2**20 // 256)
    assert len(payload) > 19 * FRAME_BYTES
    client("W0").send(Message("W0", "S0", "share", memoryview(payload)), 1, 20)
    (got,) = s0.take("share", ["W0"], soon(5))
    assert got == Message("W0", "S0", "share", payload)
    assert s0.refused() == []


@pytest.mark.spec("C23.2")
def test_client_without_certificate_is_refused(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    s0, _, address = servers
    frames = list(encode_frames(1, Message("W0", "S0", "share", b"x")))
    anonymous = grpc.ssl_channel_credentials(root_certificates=pki["W0"].ca)
    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(anonymous, address["S0"], "s0", frames)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert s0.take("share", ["W0"], soon()) == []


@pytest.mark.spec("C23.2")
def test_certificate_of_another_ca_is_refused(
    foreign: dict[str, Credentials], servers: Servers
) -> None:
    s0, _, address = servers
    frames = list(encode_frames(1, Message("W0", "S0", "share", b"x")))
    # The foreign W0 trusts its own CA, so only the server's check can stop it.
    forged = channel_credentials(foreign["W0"])
    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(forged, address["S0"], "s0", frames)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert s0.take("share", ["W0"], soon()) == []


@pytest.mark.spec("C23.2")
def test_client_refuses_a_server_that_is_not_the_party_it_meant(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    _, s1, address = servers
    # W0 believes S1's address is S0's: S1's certificate does not name s0.
    with (
        Endpoint(pki["W0"], peers={"S0": address["S1"]}) as w0,
        pytest.raises(DeliveryFailed) as info,
    ):
        w0.send(Message("W0", "S0", "share", b"x"), 1, 1.0)
    assert info.value.clause == "C23.4" and "no connection" in str(info.value)
    assert s1.take("share", ["W0"], soon()) == []


@pytest.mark.spec("C23.2")
def test_sender_other_than_the_certified_party_is_refused(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    s0, _, address = servers
    frames = list(encode_frames(1, Message("W0", "S0", "share", b"x")))
    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(channel_credentials(pki["W1"]), address["S0"], "s0", frames)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "C23.2" in info.value.details()
    assert s0.take("share", ["W0"], soon()) == []
    (refusal,) = s0.refused()
    assert (refusal.sender, refusal.label) == ("W1", "share")
    assert "the certified party W1" in refusal.reason


@pytest.mark.spec("C23.2")
def test_message_for_another_receiver_is_refused(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, _, address = servers
    w0 = client("W0")
    w0.peers["S1"] = address["S0"]  # S1's messages sent to S0's address: refused by name first
    with pytest.raises(DeliveryFailed):
        w0.send(Message("W0", "S1", "share", b"x"), 1, 1.0)
    creds = channel_credentials(w0.credentials)
    frames = list(encode_frames(1, Message("W0", "S1", "share", b"x")))
    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(creds, address["S0"], "s0", frames)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [r.sender for r in s0.refused()] == ["W0"]


@pytest.mark.spec("C23.3")
def test_frame_of_a_past_round_is_refused_and_reported(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, _, _ = servers
    s0.start_round(3)
    with pytest.raises(DeliveryRefused) as info:
        client("W0").send(Message("W0", "S0", "share", b"old"), 2, 5)
    assert info.value.clause == "C23.3"
    assert "replay or late" in str(info.value)
    assert s0.take("share", ["W0"], soon()) == []
    channel = NetworkChannel(s0, round_id=3)
    ((sender, reason),) = channel.refused()
    assert sender == "W0" and "(C23.3); got 2" in reason
    with pytest.raises(ParameterError):
        s0.start_round(2)  # rounds only move forward


@pytest.mark.spec("C23.3")
def test_a_message_of_a_later_round_waits_at_its_sender_until_the_round_starts(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, _, _ = servers
    sent: list[float] = []

    def send() -> None:
        client("W0").send(Message("W0", "S0", "share", b"next"), 2, 10)
        sent.append(time.monotonic())

    sender = threading.Thread(target=send)
    sender.start()
    # The listener holds nothing of round 2 (C23.3: no memory for rounds not reached) ...
    assert s0.take("share", ["W0"], soon()) == []
    assert not sent and s0.refused() == []
    started = time.monotonic()
    s0.start_round(2)
    sender.join(10)
    # ... and the sender's retry delivers it once the round starts, exactly once.
    assert sent and sent[0] >= started
    assert s0.take("share", ["W0"], soon()) == [Message("W0", "S0", "share", b"next")]
    assert s0.take("share", ["W0"], soon()) == []


@pytest.mark.spec("C23.3")
def test_a_sender_whose_round_never_starts_fails_at_its_deadline(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    with pytest.raises(DeliveryFailed, match=r"did not reach round 7"):
        client("W0").send(Message("W0", "S0", "share", b"x"), 7, 0.5)


@pytest.mark.spec("C23.4", "C23.3")
def test_receive_returns_without_a_silent_sender_after_the_deadline(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, _, _ = servers
    channel = NetworkChannel(s0, round_id=1, timeouts=Timeouts(peer=5))
    w0 = NetworkChannel(client("W0"), round_id=1)
    w0.send("W0", "S0", "share", b"a")
    w0.send("W0", "S0", "share", b"b")  # a second share: delivered, so that C8.3 excludes W0
    channel.set_deadline(0.5)
    start = time.monotonic()
    got = channel.receive("S0", "share", senders=["W0", "W1"])
    waited = time.monotonic() - start
    assert [(m.sender, bytes(m.payload)) for m in got] == [("W0", b"a"), ("W0", b"b")]
    assert 0.4 < waited < 3


@pytest.mark.spec("C23.3", "D23.2")
def test_malformed_message_counts_as_not_received(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    s0, _, address = servers
    channel = NetworkChannel(s0, round_id=1)
    frames = list(encode_frames(1, Message("W1", "S0", "share", b"abcdefgh"), 3))
    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(channel_credentials(pki["W1"]), address["S0"], "s0", frames[:1] + frames[2:])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    channel.set_deadline(20)
    start = time.monotonic()
    # The refusal ends the wait for W1 at once; W1 is absent, and reported.
    assert channel.receive("S0", "share", senders=["W1"]) == []
    assert time.monotonic() - start < 10
    ((sender, reason),) = channel.refused()
    assert sender == "W1" and "(D23.2)" in reason and "abcdefgh" not in reason


@pytest.mark.spec("C23.4", "C23.3")
def test_sender_gone_mid_message_counts_as_not_received(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    s0, _, address = servers
    frames = list(encode_frames(1, Message("W0", "S0", "share", b"abcdefgh"), 3))

    def stalls() -> Iterator[bytes]:
        yield frames[0]
        time.sleep(5)  # past the call's deadline: the client cancels the call
        yield frames[1]

    with pytest.raises(grpc.RpcError) as info:
        raw_deliver(channel_credentials(pki["W0"]), address["S0"], "s0", stalls(), timeout=0.5)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    channel0 = NetworkChannel(s0, round_id=1)
    channel0.set_deadline(5)
    assert channel0.receive("S0", "share", senders=["W0"]) == []
    ((sender, reason),) = channel0.refused()
    # gRPC either raises in the handler or ends its stream early, whichever comes first: the
    # message is reported as cancelled or as short, and is not delivered either way.
    assert sender == "W0"
    assert "(C23.4); got cancelled" in reason or "total length (D23.2); got 3 of 8" in reason


@pytest.mark.spec("C23.4")
def test_exchange_with_a_departed_peer_aborts_the_round(servers: Servers) -> None:
    s0, s1, _ = servers
    s1.close()
    channel = NetworkChannel(s0, round_id=1, timeouts=Timeouts(peer=1))
    with pytest.raises(RoundAborted) as info:
        channel.exchange("beaver/open", b"mine", None)
    error = info.value
    assert error.clause == "C23.4"
    assert "'beaver/open'" in str(error) and "S1" in str(error) and "S0 round 1" in str(error)


@pytest.mark.spec("C23.4")
def test_exchange_with_a_silent_peer_aborts_the_round(servers: Servers) -> None:
    s0, _, _ = servers
    channel = NetworkChannel(s0, round_id=1, timeouts=Timeouts(peer=0.5))
    with pytest.raises(RoundAborted, match=r"phase 'cmp/and'.*nothing from S1"):
        channel.exchange("cmp/and", b"mine", None)


@pytest.mark.spec("D23.1")
def test_network_channel_plays_only_its_party(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, _, _ = servers
    channel = NetworkChannel(client("W0"), round_id=1)
    assert channel.plays("W0") and not channel.plays("S0") and channel.servers() == ()
    assert NetworkChannel(s0, round_id=1).servers() == (0,)
    with pytest.raises(ParameterError, match=r"C23\.2"):
        channel.send("W1", "S0", "share", b"x")
    with pytest.raises(ParameterError, match=r"D23\.1"):
        channel.receive("S0", "share")
    with pytest.raises(ParameterError, match=r"D23\.1"):
        channel.exchange("open", b"x", b"y")


def run_round(channel: Channel, play: Callable[[str], bool]) -> None:
    """One message sequence of a two-server round, for the parties ``play`` names: shares,
    dealer material, an exchange, a one-way message and a second exchange. Each party
    receives a message where the in-process round records it (a network channel records a
    message when ``receive`` returns it)."""
    for i in (0, 1):
        for s in ("S0", "S1"):
            if play(f"W{i}"):
                channel.send(f"W{i}", s, "share", bytes([i, ord(s[1])]) * (5 + i))
    for s in ("S0", "S1"):
        if play(s):
            channel.receive(s, "share", senders=["W0", "W1"])
    for s in ("S0", "S1"):
        for k in (1, 2):  # two requests with one label: each step takes the earliest
            if play("dealer"):
                channel.send("dealer", s, "offline/gram", s.encode() * k)
            if play(s):
                got = channel.receive_one(s, "offline/gram", "dealer")
                assert got is not None and bytes(got.payload) == s.encode() * k
    if play("S0") or play("S1"):
        mine = [memoryview(b"open0" * 4) if play("S0") else None, b"open1" if play("S1") else None]
        channel.exchange("beaver/open", mine[0], mine[1])
    if play("S1"):
        channel.send("S1", "S0", "weights", b"w" * 9)
    if play("S0"):
        channel.receive("S0", "weights", senders=["S1"])
    for layer in (b"1", b"2"):  # one label per layer: each exchange opens its own layer
        if play("S0") or play("S1"):
            ours = [b"x0" + layer if play("S0") else None, b"x1" + layer if play("S1") else None]
            opened = channel.exchange("cmp/and", ours[0], ours[1])
            assert {bytes(p) for p in opened if p is not None} <= {b"x0" + layer, b"x1" + layer}


@pytest.mark.spec("C23.1", "D7.5", "D7.6")
def test_per_party_transcripts_equal_the_in_process_views(
    servers: Servers, client: Callable[[str], Endpoint]
) -> None:
    s0, s1, _ = servers
    memory = Channel()
    run_round(memory, lambda party: True)
    channels = {
        "S0": NetworkChannel(s0, round_id=1, timeouts=Timeouts(peer=10)),
        "S1": NetworkChannel(s1, round_id=1, timeouts=Timeouts(peer=10)),
        **{p: NetworkChannel(client(p), round_id=1) for p in ("W1", "W0", "dealer")},
    }
    errors: list[BaseException] = []

    def play(party: str) -> None:
        try:
            run_round(channels[party], lambda p: p == party)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    # The workers send in reverse order, so that arrival order differs from index order.
    threads = [threading.Thread(target=play, args=(p,)) for p in ("S1", "S0", "W1", "W0")]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    play("dealer")
    for thread in threads:
        thread.join(20)
    assert errors == [] and not any(t.is_alive() for t in threads)
    for party, channel in channels.items():
        assert channel.transcript_bytes() == memory.transcript_bytes(party), party
        mine = {k: v for k, v in memory.bytes_by_link().items() if party in k.split("->")}
        assert channel.bytes_by_link() == mine, party


@pytest.mark.spec("D23.4")
def test_a_port_another_listener_holds_is_refused(
    pki: dict[str, Credentials], servers: Servers
) -> None:
    # gRPC sets SO_REUSEPORT by default: a second deployment on the same ports bound them too
    # and the two took each other's messages (new-user review, session 10).
    s0_address = servers[2]["S0"]
    with pytest.raises(ParameterError) as info:
        Endpoint(pki["S0"], listen=s0_address)
    assert info.value.clause == "D23.4" and info.value.parameter == "listen"
    assert s0_address in str(info.value)
