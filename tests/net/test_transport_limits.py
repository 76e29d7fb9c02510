"""What a Byzantine worker cannot make a listener keep (spec C23.2, C23.3): only its shares,
at most two per round, from the round's workers only; a few refusals per sender, short."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sbrml.core.channel import Message
from sbrml.net.tls import load_credentials, make_certificates
from sbrml.net.transport import (
    REASON_CHARS,
    REFUSALS_PER_SENDER,
    DeliveryRefused,
    Endpoint,
)

Parties = tuple[Endpoint, dict[str, Endpoint]]


@pytest.fixture
def parties(tmp_path: Path) -> Iterator[Parties]:
    names = ["S0", "dealer", "W0", "W1", "W7"]
    files = make_certificates(tmp_path, names)
    creds = {p: load_credentials(f.ca, f.cert, f.key, party=p) for p, f in files.items()}
    allowed = {"W0", "W1", "S1", "dealer"}  # a round of two workers: W7 is not one of them
    s0 = Endpoint(creds["S0"], listen="127.0.0.1:0", accept=allowed.__contains__)
    peers = {"S0": f"127.0.0.1:{s0.port}"}
    clients = {p: Endpoint(creds[p], peers=peers) for p in names if p != "S0"}
    try:
        yield s0, clients
    finally:
        for endpoint in (s0, *clients.values()):
            endpoint.close(grace=0)


def _send(client: Endpoint, label: str, payload: bytes = b"x" * 8) -> None:
    client.send(Message(client.me, "S0", label, payload), 1, 5)


@pytest.mark.spec("C23.3", "C8.3")
def test_a_worker_sends_only_shares_and_at_most_two(parties: Parties) -> None:
    s0, clients = parties
    w0 = clients["W0"]
    with pytest.raises(DeliveryRefused, match="a worker's share"):
        _send(w0, "valid")
    _send(w0, "share")
    _send(w0, "share")  # the second is kept, so that C8.3 excludes W0
    with pytest.raises(DeliveryRefused, match="at most two per worker"):
        _send(w0, "share")
    got = s0.take("share", ["W0"], time.monotonic() + 1)
    assert len(got) == 2
    # Taken shares still count: a worker cannot refill the inbox after the servers read it.
    with pytest.raises(DeliveryRefused, match="at most two per worker"):
        _send(w0, "share")


@pytest.mark.spec("C23.2", "C8.3")
def test_a_worker_outside_the_round_is_refused_at_the_door(parties: Parties) -> None:
    s0, clients = parties
    with pytest.raises(DeliveryRefused, match="a party this listener expects"):
        _send(clients["W7"], "share")
    _send(clients["dealer"], "offline/gram")
    assert [r.sender for r in s0.refused()] == ["W7"]


@pytest.mark.spec("C23.3")
def test_refusals_are_listed_a_few_per_sender_and_cut_short(parties: Parties) -> None:
    s0, clients = parties
    w1 = clients["W1"]
    for _ in range(REFUSALS_PER_SENDER + 4):
        with pytest.raises(DeliveryRefused):
            _send(w1, "x" * 60000)  # a long label, echoed nowhere in full
    listed = [r for r in s0.refused() if r.sender == "W1"]
    assert len(listed) == REFUSALS_PER_SENDER + 1
    assert all(len(r.reason) <= REASON_CHARS + 20 for r in listed)
    assert "not listed" in listed[-1].reason


@pytest.mark.spec("C23.3")
def test_a_refusals_reason_escapes_what_the_sender_chose(parties: Parties) -> None:
    s0, clients = parties
    with pytest.raises(DeliveryRefused):
        _send(clients["W1"], "x\nINFO round 1 published\x1b[2J\u202e")  # forged log line
    (listed,) = [r for r in s0.refused() if r.sender == "W1"]
    assert listed.label == "x\\nINFO round 1 published\\x1b[2J\\u202e"
    assert listed.reason.isprintable()


@pytest.mark.spec("D23.4")
def test_two_parties_on_one_address_are_refused(tmp_path: Path) -> None:
    from sbrml.net.config import ConfigError, load_deployment
    from tests.helpers.deployment import write_deployment

    config = write_deployment(tmp_path, certs=False)
    text = config.read_text()
    s0 = text.split("[parties.s0]\naddress = ")[1].split("\n")[0]
    s1 = text.split("[parties.s1]\naddress = ")[1].split("\n")[0]
    config.write_text(text.replace(s1, s0))
    with pytest.raises(ConfigError, match=r"parties\.s1\.address"):
        load_deployment(config)


@pytest.mark.spec("C2.9", "C8.1")
def test_a_seeded_deployment_keys_every_round_apart() -> None:
    from sbrml.net.runner import _rng

    first, second, again = _rng(5, 1), _rng(5, 2), _rng(5, 2)
    a = first.derive("worker/0").random_bytes(32)
    b = second.derive("worker/0").random_bytes(32)
    assert a != b and b == again.derive("worker/0").random_bytes(32)
