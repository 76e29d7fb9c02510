"""The transport's layout (D23.3): ``sbrml.net.transport`` joins the listening and sending
halves into ``Endpoint`` and still exports every name a deployment imported from it."""

from __future__ import annotations

import sbrml.net.listener as listener
import sbrml.net.sender as sender
import sbrml.net.service as service
import sbrml.net.transport as transport

# Where each name the transport exports is defined.
HOMES = {
    "DELIVER": service,
    "GRPC_OPTIONS": service,
    "LISTENERS": service,
    "DeliveryFailed": service,
    "DeliveryRefused": service,
    "Refusal": service,
    "REASON_CHARS": listener,
    "REFUSALS_PER_SENDER": listener,
}


def test_transport_exports_the_shared_names_from_their_homes() -> None:
    assert sorted(transport.__all__) == sorted([*HOMES, "Endpoint"])
    for name, home in HOMES.items():
        assert getattr(transport, name) is getattr(home, name), name


def test_endpoint_is_both_halves() -> None:
    assert issubclass(transport.Endpoint, listener.Listener)
    assert issubclass(transport.Endpoint, sender.Sender)
