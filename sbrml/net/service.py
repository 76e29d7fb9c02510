"""The gRPC service of a party's endpoint (D23.3): what its listening half
(``sbrml.net.listener``) and its sending half (``sbrml.net.sender``) share.

The method a message travels by, gRPC's message size options, the parties that listen, the
record of a refused message, and the errors a sender raises. ``sbrml.net.transport`` joins
the two halves into ``Endpoint`` and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sbrml.core.errors import SpecError
from sbrml.net.frames import MAX_FRAME

__all__ = [
    "DELIVER",
    "GRPC_OPTIONS",
    "LISTENERS",
    "DeliveryFailed",
    "DeliveryRefused",
    "Refusal",
]

DELIVER = "/sbrml.v1.Party/Deliver"
LISTENERS = ("S0", "S1", "dealer")  # D23.3; the dealer listens for S0's requests (P23.2)
# A frame with the longest legal header must pass gRPC's message size limits (4 MiB receive
# by default would do for 1 MiB frames, but the limit is stated, not left to a default).
GRPC_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_FRAME),
    ("grpc.max_send_message_length", MAX_FRAME),
]


class DeliveryFailed(SpecError):
    """A message could not be delivered before its deadline, or the connection failed (C23.4)."""


class DeliveryRefused(SpecError):
    """The receiving server refused a message; ``clause`` is the clause it cited (C23.2,
    C23.3 or D23.2) and the text its reason."""


@dataclass(frozen=True)
class Refusal:
    """A message a listening endpoint refused (C23.2, C23.3): its certified sender, the
    reason, and the round and label when its first frame said them."""

    sender: str
    reason: str
    round_id: int | None = None
    label: str | None = None
